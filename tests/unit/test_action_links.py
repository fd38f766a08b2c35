"""Signed action links: they verify, expire, and cannot be forged or altered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from onduty.notify import links

NOW = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)
SECRET = "link-secret-0123456789abcdef"


def test_a_link_reads_back_until_it_expires() -> None:
    token = links.sign(
        SECRET,
        action="acknowledge",
        incident_id=42,
        recipient="asha",
        expires=NOW + timedelta(hours=1),
    )
    claim = links.read(SECRET, token, now=NOW)
    assert claim is not None
    assert (claim.action, claim.incident_id, claim.recipient) == ("acknowledge", 42, "asha")
    assert links.read(SECRET, token, now=NOW + timedelta(hours=1)) is None


def test_forged_or_altered_links_are_refused() -> None:
    token = links.sign(
        SECRET, action="resolve", incident_id=7, recipient="ravi", expires=NOW + timedelta(hours=1)
    )
    payload, mac = token.split(".")
    assert links.read("another-secret-0123456789", token, now=NOW) is None
    assert links.read(SECRET, payload + "." + "0" * len(mac), now=NOW) is None
    assert links.read(SECRET, payload[:-2] + "." + mac, now=NOW) is None
    assert links.read(SECRET, "garbage", now=NOW) is None
    assert links.read(SECRET, "", now=NOW) is None


def test_digest_is_stable_and_not_the_token() -> None:
    token = links.sign(SECRET, action="resolve", incident_id=7, recipient="ravi", expires=NOW)
    assert links.digest(token) == links.digest(token) and token not in links.digest(token)
