"""Client communication of the status page (issue 14): e-mail subscribers (double opt-in,
unsubscribe link, through the outbox to a real SMTP server, BULK so pages go first, never
twice) and Intercom both ways (signed webhooks in, replies and notes out to a local server that
speaks Intercom's REST)."""

from __future__ import annotations

import email
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.channel_servers import IntercomServer, SmtpHandler, smtp_server
from tests.policy_cases import example
from tests.scenario import World, alertmanager, sms_only

from onduty import models as m
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.engine import Engine
from onduty.notify import outbox
from onduty.notify.targets import build_targets
from onduty.statuspage import intercom

SECRET = "intercom-client-secret-test-01"
TOKEN = "intercom-access-token-0123"
CONVERSATION = "215469781234567"


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpHandler, int]]:
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        yield handler, port


@pytest.fixture
def intercom_api() -> Iterator[IntercomServer]:
    with IntercomServer(TOKEN, {CONVERSATION, "99"}) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def settings(db_url: str, smtp: tuple[SmtpHandler, int], intercom_api: IntercomServer) -> Settings:
    from tests.conftest import TEST_SECRET

    return Settings(
        database_url=db_url,
        secret_key=TEST_SECRET,
        base_url="http://onduty.test",
        smtp_port=smtp[1],
        smtp_from="status@acme.example",
        intercom_base_url=intercom_api.url,
        intercom_token=TOKEN,
        intercom_admin_id="5817324",
        intercom_client_secret=SECRET,
        subscribe_per_hour=3,
    )


@pytest.fixture
def world(
    client: TestClient,
    clock: FakeClock,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> World:
    doc = sms_only(example())
    doc["services"][0]["integrations"].append(
        {"id": "support", "type": "intercom", "key": "acmestorefrontintercom00001", "tag": "outage"}
    )
    doc["services"][1]["integrations"].append(
        {
            "id": "support",
            "type": "intercom",
            "key": "acmepaymentsintercom0000001",
            "reply_as": "note",
        }
    )
    w = World(client, clock, session_factory, settings).setup(doc)
    w.engine = Engine(
        settings,
        session_factory,
        clock,
        w.fakes,
        holder="test",
        targets=build_targets(settings, clock),
    )
    return w


def mails(handler: SmtpHandler) -> list[email.message.Message]:
    return [email.message_from_bytes(e.content) for e in handler.envelopes]  # type: ignore[arg-type]


def body_of(mail: email.message.Message) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_double_opt_in_mails_every_update_once_with_an_unsubscribe_link(
    world: World, smtp: tuple[SmtpHandler, int]
) -> None:
    handler = smtp[0]
    page = world.client.get("/status")
    assert 'action="/status/subscribe"' in page.text
    answer = world.client.post("/status/subscribe", data={"email": "dana@example.org"})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    # The form again within the hour: still one confirmation mail.
    world.client.post("/status/subscribe", data={"email": "dana@example.org"})
    world.tick()
    [confirm] = mails(handler)
    assert confirm["To"] == "dana@example.org"
    link = re.search(r"http://onduty\.test(/status/confirm/\S+)", body_of(confirm))
    assert link is not None
    # Not confirmed yet: an incident mails nobody.
    made = world.client.post(
        "/api/v1/status-incidents",
        json={
            "name": "Checkout errors",
            "components": {"web-shop": "partial_outage"},
            "body": "Looking **into** it.",
        },
        headers=world.auth,
    ).json()
    world.tick()
    assert len(mails(handler)) == 1
    assert world.client.get(link.group(1)).status_code == 200
    world.client.post(
        f"/api/v1/status-incidents/{made['id']}/updates",
        json={"status": "identified", "body": "A bad release <script>x</script>."},
        headers=world.auth,
    )
    world.tick()
    world.clock.advance(timedelta(minutes=1))
    world.client.post(
        f"/api/v1/status-incidents/{made['id']}/updates",
        json={"status": "resolved"},
        headers=world.auth,
    )
    world.tick()
    world.tick()  # nothing more: each update went once
    sent = mails(handler)[1:]
    assert [m_["Subject"] for m_ in sent] == [
        "[Acme Commerce Status] Checkout errors: identified",
        "[Acme Commerce Status] Checkout errors: resolved",
    ]
    first = body_of(sent[0])
    assert "A bad release" in first and "http://onduty.test/status" in first
    unsubscribe = re.search(r"http://onduty\.test(/status/unsubscribe/\S+)", first)
    assert unsubscribe is not None
    folded = "".join(str(sent[0]["List-Unsubscribe"]).split())  # long headers are folded
    assert folded == f"<http://onduty.test{unsubscribe.group(1)}>"
    assert "The problem with Web shop has been resolved." in body_of(sent[1])
    with world.session_factory() as s:
        rows = s.scalars(select(m.OutboxMessage).where(m.OutboxMessage.target == "mail")).all()
        assert {r.status for r in rows} == {"sent"}
        assert (
            sorted(r.priority for r in rows if r.rule_key.startswith("sub:")) == [outbox.BULK] * 2
        )
    # A GET of the unsubscribe link changes nothing (mail scanners follow links); the button does.
    assert "Unsubscribe" in world.client.get(unsubscribe.group(1)).text
    assert world.client.post(unsubscribe.group(1)).status_code == 200
    world.client.post(
        "/api/v1/status-incidents", json={"name": "Another", "impact": "minor"}, headers=world.auth
    )
    world.tick()
    assert len(mails(handler)) == 3


def test_a_subscribe_flood_is_refused_and_bad_addresses_store_nothing(world: World) -> None:
    bad = world.client.post("/status/subscribe", data={"email": "not-an-address"})
    assert bad.status_code == 422
    for n in range(2):
        assert (
            world.client.post("/status/subscribe", data={"email": f"a{n}@example.org"}).status_code
            == 200
        )
    assert (
        world.client.post("/status/subscribe", data={"email": "z@example.org"}).status_code == 429
    )
    with world.session_factory() as s:
        assert sorted(s.scalars(select(m.Subscriber.email)).all()) == [
            "a0@example.org",
            "a1@example.org",
        ]


def test_subscriber_mail_waits_behind_pages(world: World) -> None:
    """10,000 subscribers queued at once are BULK: a page queued after them is claimed first."""
    with world.session_factory() as s, s.begin():
        now = world.clock.now()
        s.execute(
            m.Subscriber.__table__.insert(),
            [
                {
                    "email": f"c{n}@example.org",
                    "token": f"t{n:06d}",
                    "created_at": now,
                    "confirmed_at": now,
                }
                for n in range(10_000)
            ],
        )
    import time

    started = time.perf_counter()
    answer = world.client.post(
        "/api/v1/status-incidents",
        json={"name": "Payments slow", "impact": "minor"},
        headers=world.auth,
    )
    elapsed = time.perf_counter() - started
    assert answer.status_code == 201, answer.text
    assert elapsed < 10  # the target is 2 s; a shared CI machine gets some room
    with world.session_factory() as s:
        queued = s.scalar(
            select(func.count())
            .select_from(m.OutboxMessage)
            .where(m.OutboxMessage.target == "mail")
        )
        assert queued == 10_000
        claimed = [r.priority for r in s.scalars(outbox.due(now=world.clock.now(), limit=5))]
    assert claimed == [outbox.BULK] * 5
    # An alert after them: its page is queued behind 10,000 mails, and claimed before them.
    answer = world.client.post(
        f"/integrations/{world.key('storefront')}", content=alertmanager("CheckoutDown")
    )
    assert answer.status_code == 202
    assert world.engine is not None
    world.engine.start_escalations(world.clock.now())
    with world.session_factory() as s:
        head = s.scalars(outbox.due(now=world.clock.now(), limit=1)).one()
    assert (head.priority, head.event) == (outbox.PAGE, "incident.triggered")
    world.tick()
    assert [e[2:] for e in world.log] == [("asha", "incident.triggered")]


# --- Intercom -----------------------------------------------------------------------------------


def notification(
    *,
    ident: str = "notif_5e0c2d1a",
    topic: str = "conversation.user.created",
    tags: list[str] | None = None,
    conversation: str = CONVERSATION,
) -> bytes:
    doc: dict[str, Any] = {
        "type": "notification_event",
        "app_id": "abc12def",
        "id": ident,
        "topic": topic,
        "created_at": 1767225600,
        "delivery_attempts": 1,
        "data": {
            "type": "notification_event_data",
            "item": {
                "type": "conversation",
                "id": conversation,
                "title": None,
                "state": "open",
                "tags": {
                    "type": "tag.list",
                    "tags": [{"type": "tag", "id": "1", "name": t} for t in tags or []],
                },
                "source": {
                    "type": "conversation",
                    "id": "3021987654",
                    "subject": "",
                    "body": "<p>Checkout keeps failing with error 502 since 00:05 UTC</p>",
                    "author": {
                        "type": "user",
                        "id": "6a5c",
                        "name": "Dana Customer",
                        "email": "dana@example.org",
                    },
                    "url": "https://shop.example.org/checkout",
                },
                "contacts": {"type": "contact.list", "contacts": []},
                "conversation_parts": {
                    "type": "conversation_part.list",
                    "conversation_parts": [],
                    "total_count": 0,
                },
            },
        },
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def send(world: World, key: str, body: bytes, secret: str = SECRET) -> Any:
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": intercom.signature(secret, body),
    }
    return world.client.post(f"/integrations/{key}", content=body, headers=headers)


def test_signature_matches_the_formats_test_vector() -> None:
    body = (
        b'{"type":"notification_event","app_id":"abc12def","data":{"type":"notification_event_data",'
        b'"item":{"type":"ping","message":"hello from the test suite"}},"links":{},"id":null,'
        b'"topic":"ping","delivery_status":null,"delivery_attempts":1,"delivered_at":0,'
        b'"first_sent_at":1767225600,"created_at":1767225600,"self":null}'
    )
    assert intercom.signature(SECRET, body) == "sha1=6dea98d8db0693c112798b6abe48fd0f96d96f1c"


def counts(world: World) -> tuple[int, int]:
    with world.session_factory() as s:
        return (
            s.scalar(select(func.count()).select_from(m.Incident)) or 0,
            s.scalar(select(func.count()).select_from(m.IntercomConversation)) or 0,
        )


def test_a_signed_conversation_becomes_an_incident_once(world: World) -> None:
    key = "acmepaymentsintercom0000001"  # no tag filter; replies as internal notes
    body = notification()
    bad = send(world, key, body, secret="wrong-secret")
    assert bad.status_code == 401 and bad.json()["field"] == "X-Hub-Signature"
    unsigned = world.client.post(f"/integrations/{key}", content=body)
    assert unsigned.status_code == 401
    assert counts(world) == (0, 0)
    ping = send(
        world,
        key,
        b'{"type":"notification_event","id":null,"topic":"ping","data":{"item":{"type":"ping"}}}',
    )
    assert ping.status_code == 200 and ping.json()["status"] == "ignored"
    made = send(world, key, body)
    assert made.status_code == 200, made.text
    assert made.json()["status"] == "created"
    incident = made.json()["incident"]
    again = send(world, key, body)  # Intercom retries the same notification
    assert again.json()["status"] == "duplicate"
    other = send(world, key, notification(ident="notif_other"))  # the same conversation
    assert other.json()["status"] == "duplicate"
    assert counts(world) == (1, 1)
    detail = world.client.get(f"/api/v1/incidents/{incident}", headers=world.auth).json()
    assert detail["source"] == "intercom" and detail["service"] == "payments"
    assert detail["title"] == "Checkout keeps failing with error 502 since 00:05 UTC"
    assert detail["report"]["reporter"] == "Dana Customer <dana@example.org>"
    junk = send(world, key, b"not json")
    assert junk.status_code == 400 and counts(world) == (1, 1)


def test_the_tag_filter(world: World) -> None:
    key = "acmestorefrontintercom00001"  # tag: outage
    untagged = send(world, key, notification(ident="n1"))
    assert untagged.json()["status"] == "ignored" and counts(world) == (0, 0)
    tagged = send(
        world, key, notification(ident="n2", topic="conversation_part.tag.created", tags=["outage"])
    )
    assert tagged.json()["status"] == "created" and counts(world) == (1, 1)


def test_status_updates_are_posted_on_linked_conversations(
    world: World, intercom_api: IntercomServer
) -> None:
    made = send(world, "acmepaymentsintercom0000001", notification()).json()
    reply = send(
        world,
        "acmestorefrontintercom00001",
        notification(ident="n9", conversation="99", tags=["outage"]),
    ).json()
    status = world.client.post(
        "/api/v1/status-incidents",
        json={
            "name": "Payment failures",
            "incident": made["incident"],
            "components": {"payments": "major_outage"},
            "body": "We are on it.",
        },
        headers=world.auth,
    ).json()
    world.client.post(
        "/api/v1/status-incidents",
        json={"name": "Shop slow", "incident": reply["incident"], "body": "Looking."},
        headers=world.auth,
    )
    world.tick()
    world.client.post(
        f"/api/v1/status-incidents/{status['id']}/updates",
        json={"status": "resolved", "body": "Fixed."},
        headers=world.auth,
    )
    world.tick()
    world.tick()
    # Sends overlap, so the order across conversations is free; within one it is the updates'.
    by_conversation: dict[str, list[dict[str, Any]]] = {}
    for r in intercom_api.requests:
        by_conversation.setdefault(r.path, []).append(r.json())
    assert sorted(by_conversation) == [
        "/conversations/215469781234567/reply",
        "/conversations/99/reply",
    ]
    first, third = by_conversation[f"/conversations/{CONVERSATION}/reply"]
    [second] = by_conversation["/conversations/99/reply"]
    assert first["message_type"] == "note" and second["message_type"] == "comment"
    assert first["type"] == "admin" and first["admin_id"] == "5817324"
    assert first["body"] == (
        "Update on Payment failures (investigating): We are on it. You can follow it at "
        "http://onduty.test/status."
    )
    assert third["body"].startswith("Update on Payment failures (resolved): ")
    assert all(r.headers["Intercom-Version"] == "2.11" for r in intercom_api.requests)
    with world.session_factory() as s:
        rows = s.scalars(select(m.OutboxMessage).where(m.OutboxMessage.target == "intercom")).all()
        assert [r.status for r in rows] == ["sent"] * 3


def test_intercom_errors_retry_or_fail_visibly(world: World, intercom_api: IntercomServer) -> None:
    from tests.channel_servers import Reply

    made = send(world, "acmepaymentsintercom0000001", notification()).json()
    intercom_api.fail_next(Reply.json(503, {"type": "error.list", "errors": []}))
    world.client.post(
        "/api/v1/status-incidents",
        json={"name": "Payment failures", "incident": made["incident"], "body": "x"},
        headers=world.auth,
    )
    world.tick()
    with world.session_factory() as s:
        row = s.scalars(select(m.OutboxMessage).where(m.OutboxMessage.target == "intercom")).one()
        assert (row.status, row.attempts) == ("pending", 1)
        assert "503" in (row.last_error or "")
    world.clock.advance(timedelta(seconds=11))
    world.tick()
    with world.session_factory() as s:
        row = s.scalars(select(m.OutboxMessage).where(m.OutboxMessage.target == "intercom")).one()
        assert (row.status, row.attempts) == ("sent", 2)
    assert len(intercom_api.requests) == 2
