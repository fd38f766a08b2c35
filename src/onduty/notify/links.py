"""Signed action links (acknowledge, resolve, post to status page) that work without a login,
once, until they expire, and (but for the status page) only while the incident is at the
generation the link was sent in (an acknowledge, resolve or reopen since then makes it stale);
and the one-use keypad URL of a phone call (`voice`: the digit pressed chooses acknowledge or
resolve). Pure: the caller passes the secret and the instant; the web layer compares the
generation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

LINK_ACTIONS = ("acknowledge", "resolve")
KEYPAD = "voice"
# "Post to status page" from a page: pre-filled from the templates, confirmed by the person.
# Not fenced by the generation (it is asked for after the acknowledgement), only by the
# incident being open and not on the status page already.
STATUS_PAGE = "status_page"
ACTIONS = (*LINK_ACTIONS, KEYPAD, STATUS_PAGE)


@dataclass(frozen=True)
class ActionClaim:
    action: str
    incident_id: int
    generation: int
    recipient: str
    expires: datetime


def _mac(secret: str, payload: str) -> str:
    return hmac.new(f"action-link:{secret}".encode(), payload.encode(), hashlib.sha256).hexdigest()


def sign(
    secret: str,
    *,
    action: str,
    incident_id: int,
    recipient: str,
    expires: datetime,
    generation: int = 1,
) -> str:
    """A link token for `action` on the incident as it is at `generation` (a new incident's is
    1), for `recipient`, valid until `expires`."""
    raw = json.dumps(
        {
            "a": action,
            "i": incident_id,
            "g": generation,
            "r": recipient,
            "e": int(expires.timestamp()),
        },
        separators=(",", ":"),
    )
    payload = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    return f"{payload}.{_mac(secret, payload)}"


def read(secret: str, token: str, *, now: datetime) -> ActionClaim | None:
    """The claim in `token`; None when forged, malformed or expired."""
    payload, _, mac = token.rpartition(".")
    if not payload or not hmac.compare_digest(_mac(secret, payload), mac):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claim = ActionClaim(
            str(data["a"]),
            int(data["i"]),
            int(data["g"]),
            str(data["r"]),
            datetime.fromtimestamp(int(data["e"]), tz=UTC),
        )
    except (ValueError, KeyError, TypeError):
        return None
    if claim.action not in ACTIONS or claim.expires <= now:
        return None
    return claim


def digest(token: str) -> str:
    """What is stored to make a link single-use (never the link itself)."""
    return hashlib.sha256(token.encode()).hexdigest()
