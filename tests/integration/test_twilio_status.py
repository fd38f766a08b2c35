"""Twilio's delivery status callbacks, signed as Twilio signs them: an SMS that Twilio reports
`undelivered` (or `failed`), or a call nobody answered, pages the person on their next contact
method at once, not after the step's wait; a repeated or a good report changes nothing, and an
unsigned one is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.channel_servers import TwilioServer
from tests.conftest import TEST_SECRET
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.scenario import TYPES

from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.engine import Engine
from onduty.notify import FakeChannel, build_channels, signing
from onduty.notify import models as ob

SID, TOKEN = "AC00000000000000000000000000000001", "twilio-auth-token-test-01"


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    with TwilioServer(SID, TOKEN) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def settings(db_url: str, twilio: TwilioServer) -> Settings:
    return Settings(
        database_url=db_url,
        secret_key=TEST_SECRET,
        base_url="http://onduty.test",
        twilio_base_url=twilio.url,
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        twilio_from_number="+15005550006",
    )


def rows(factory: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    """Ravi's pages: (channel, status, due offset) in the order they were queued."""
    with factory() as s:
        return [
            (r.channel or "", r.status, r.last_error or "")
            for r in s.scalars(
                select(ob.OutboxMessage)
                .where(ob.OutboxMessage.person_id == "ravi")
                .order_by(ob.OutboxMessage.id)
            )
        ]


def test_undelivered_sms_and_unanswered_call_fall_through_at_once(
    client: TestClient,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
    twilio: TwilioServer,
) -> None:
    clock.advance(timedelta(hours=1))  # past the handoff: no shift notices
    apply_doc(session_factory, example())
    real = build_channels(settings)
    fakes = {t: FakeChannel(t) for t in TYPES}
    channels = {**fakes, "sms": real["sms"], "voice": real["voice"]}
    engine = Engine(settings, session_factory, clock, channels, holder="test")  # type: ignore[arg-type]
    # Payments is backend: Ravi is paged by SMS at once, by a call after 2 minutes.
    answer = client.post(
        "/v2/enqueue",
        json={
            "routing_key": "0123456789abcdef0123456789abcdef",
            "event_action": "trigger",
            "dedup_key": "refunds",
            "payload": {"summary": "Refunds fail", "source": "db", "severity": "critical"},
        },
    )
    assert answer.status_code == 202
    engine.tick()
    [sms] = [r for r in twilio.requests if r.path.endswith("/Messages.json")]
    callback = sms.form()["StatusCallback"]
    assert urlsplit(callback).path == "/integrations/twilio/status"
    assert rows(session_factory) == [("sms", "sent", ""), ("voice", "pending", "")]

    def report(url: str, **form: str) -> int:
        signature = signing.twilio_signature(TOKEN, url, form)
        path = url.removeprefix("http://onduty.test")
        done = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
        return done.status_code

    unsigned = client.post(
        callback.removeprefix("http://onduty.test"), data={"MessageStatus": "undelivered"}
    )
    assert unsigned.status_code == 401
    assert report(callback, MessageSid="SM1", MessageStatus="delivered") == 204
    assert rows(session_factory)[0] == ("sms", "sent", "")
    # Undelivered: the SMS fails and the next method not used yet (e-mail) goes now, while
    # the call keeps its own time.
    assert report(callback, MessageSid="SM1", MessageStatus="undelivered", ErrorCode="30003") == 204
    assert rows(session_factory) == [
        ("sms", "failed", "Twilio: undelivered (error 30003)"),
        ("voice", "pending", ""),
        ("email", "pending", ""),
    ]
    engine.tick()
    assert [m.message.recipient for m in fakes["email"].take()] == ["ravi"]
    # Twilio repeats itself sometimes: nothing more happens.
    assert report(callback, MessageSid="SM1", MessageStatus="undelivered") == 204
    assert len(rows(session_factory)) == 3

    # The call at 2 minutes rings out: Slack, his last method, at once.
    clock.advance(timedelta(minutes=2))
    engine.tick()
    [call] = [r for r in twilio.requests if r.path.endswith("/Calls.json")]
    assert report(call.form()["StatusCallback"], CallSid="CA1", CallStatus="no-answer") == 204
    assert [r[:2] for r in rows(session_factory)][3:] == [("slack", "pending")]
    engine.tick()
    assert [m.message.event for m in fakes["slack"].take()] == ["incident.triggered"]
    bad = client.post("/integrations/twilio/status?idempotency_key=x", data={})
    assert bad.status_code == 401  # the signature is checked before anything else
