"""Targets (calls to external systems that are not people): the generic `http` target against a
real HTTP server on 127.0.0.1, alone and through the engine's one delivery path (claimed,
signed, sent once, retried with the same idempotency key, failed without falling through)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.channel_servers import Reply, WebhookReceiver, free_port

from onduty import models as m
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.engine import Engine
from onduty.notify import PermanentError, Receipt, RetryableError, outbox
from onduty.notify.signing import verify_webhook
from onduty.notify.targets import Call, HttpTarget, build_targets, target_for

SECRET = "http-target-secret-01"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def test_http_target_posts_signed_json(receiver: WebhookReceiver) -> None:
    target = HttpTarget(secret=SECRET, timeout_s=2)
    call = Call("deploy.frozen", {"url": f"{receiver.url}/calls?x=1", "body": {"a": [1]}}, "k-1")
    assert target.send(call) == Receipt(provider_id=None, detail="HTTP 200")
    (request,) = receiver.requests
    assert (request.method, request.path, request.query) == ("POST", "/calls", "x=1")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Onduty-Idempotency-Key"] == "k-1"
    verify_webhook(request.body, SECRET, request.headers["X-Onduty-Signature"])
    assert request.json() == {
        "event": "deploy.frozen",
        "idempotency_key": "k-1",
        "data": {"a": [1]},
    }


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_http_target_transient_statuses_are_retryable(
    receiver: WebhookReceiver, status: int
) -> None:
    receiver.fail_next(Reply(status, headers={"Retry-After": "7"}))
    with pytest.raises(RetryableError) as failed:
        HttpTarget(secret=SECRET, timeout_s=2).send(Call("e", {"url": receiver.url}, "k"))
    assert failed.value.retry_after == 7


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"body": {}}, "no url"),
        ({"url": "ftp://example.com/"}, "not an http"),
        ({"url": "http:///nohost"}, "no host"),
    ],
)
def test_http_target_bad_payload_is_permanent(payload: dict[str, object], reason: str) -> None:
    with pytest.raises(PermanentError, match=reason):
        HttpTarget(secret=SECRET, timeout_s=2).send(Call("e", payload, "k"))


def test_http_target_404_is_permanent_and_refused_connection_retryable(
    receiver: WebhookReceiver,
) -> None:
    target = HttpTarget(secret=SECRET, timeout_s=2)
    receiver.fail_next(Reply(404))
    with pytest.raises(PermanentError, match="404"):
        target.send(Call("e", {"url": receiver.url}, "k"))
    with pytest.raises(RetryableError, match="ConnectError"):
        target.send(Call("e", {"url": f"http://127.0.0.1:{free_port()}/"}, "k"))


def test_registry_builds_http_only_with_a_secret(settings: Settings) -> None:
    assert set(build_targets(settings)) == {"mail"}  # SMTP has defaults; status page mail
    with pytest.raises(PermanentError, match="not configured: http"):
        target_for(build_targets(settings), "http")
    configured = build_targets(settings.model_copy(update={"http_target_secret": SECRET}))
    assert isinstance(target_for(configured, "http"), HttpTarget)


# --- through the engine -----------------------------------------------------------------------


@pytest.fixture
def engine_with_http(
    settings: Settings, session_factory: sessionmaker[Session], clock: FakeClock
) -> Engine:
    settings = settings.model_copy(update={"http_target_secret": SECRET})
    return Engine(settings, session_factory, clock, {}, targets=build_targets(settings))


def call_row(
    session_factory: sessionmaker[Session], clock: FakeClock, url: str, key: str = "call-1"
) -> int:
    with session_factory() as s, s.begin():
        made = outbox.enqueue(
            s,
            outbox.OutboxItem(
                key=key,
                event="status.posted",
                due_at=clock.now(),
                target="http",
                payload={"url": url, "body": {"status": "investigating"}},
            ),
            now=clock.now(),
        )
    assert made is not None
    return made


def row(session_factory: sessionmaker[Session], row_id: int) -> m.OutboxMessage:
    with session_factory() as s:
        found = s.get(m.OutboxMessage, row_id)
        assert found is not None
        return found


def test_engine_delivers_a_target_call_once(
    engine_with_http: Engine,
    receiver: WebhookReceiver,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    row_id = call_row(session_factory, clock, f"{receiver.url}/status")
    engine_with_http.tick()
    (request,) = receiver.requests
    verify_webhook(request.body, SECRET, request.headers["X-Onduty-Signature"])
    assert request.json() == {
        "event": "status.posted",
        "idempotency_key": "call-1",
        "data": {"status": "investigating"},
    }
    sent = row(session_factory, row_id)
    assert (sent.status, sent.attempts, sent.sent_at) == ("sent", 1, clock.now())
    clock.advance(timedelta(minutes=5))
    engine_with_http.tick()
    assert len(receiver.requests) == 1


def test_engine_retries_a_target_call_with_the_same_key(
    engine_with_http: Engine,
    receiver: WebhookReceiver,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    row_id = call_row(session_factory, clock, f"{receiver.url}/status")
    receiver.fail_next(Reply(500))
    engine_with_http.tick()
    waiting = row(session_factory, row_id)
    assert (waiting.status, waiting.attempts, waiting.last_error) == (
        "pending",
        1,
        "http target answered HTTP 500",
    )
    assert waiting.due_at == clock.now() + timedelta(seconds=10)
    clock.advance(timedelta(seconds=9))
    engine_with_http.tick()
    assert len(receiver.requests) == 1  # backoff: not yet
    clock.advance(timedelta(seconds=1))
    engine_with_http.tick()
    first, second = receiver.requests
    keys = {r.headers["X-Onduty-Idempotency-Key"] for r in (first, second)}
    assert keys == {"call-1"} and first.body == second.body
    assert row(session_factory, row_id).status == "sent"
    clock.advance(timedelta(minutes=5))
    engine_with_http.tick()
    assert len(receiver.requests) == 2


def test_engine_fails_a_refused_target_call_without_falling_through(
    engine_with_http: Engine,
    receiver: WebhookReceiver,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    row_id = call_row(session_factory, clock, f"{receiver.url}/status")
    receiver.fail_next(Reply(404))
    engine_with_http.tick()
    failed = row(session_factory, row_id)
    assert (failed.status, failed.last_error) == ("failed", "http target answered HTTP 404")
    with session_factory() as s:
        assert len(s.scalars(select(m.OutboxMessage)).all()) == 1
    clock.advance(timedelta(minutes=5))
    engine_with_http.tick()
    assert len(receiver.requests) == 1
