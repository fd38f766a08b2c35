"""Working from Slack, against a local server speaking Slack's Web API (chat.postMessage,
chat.update, views.open) and `response_url`: the team channel's incident message and its
thread, kept in step through the outbox by the real engine; the `/onduty` slash command and
the buttons and modal, each request signed as Slack signs it, with stale, forged and replayed
requests refused and doing nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.channel_servers import SlackServer
from tests.conftest import TEST_SECRET
from tests.integration.test_policy_apply import apply_doc, export
from tests.policy_cases import example
from tests.scenario import TYPES, alertmanager
from tests.ui_helpers import make_login

from onduty import models as m
from onduty.auth import service as auth_service
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.engine import Engine
from onduty.notify import FakeChannel, signing
from onduty.notify import models as ob
from onduty.notify.targets import build_targets

SECRET = "slack-signing-secret-test-1"
TOKEN = "xoxb-onduty-test"
CHANNEL = "C0CHECKOUT"


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(TOKEN, {CHANNEL: CHANNEL}) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def settings(db_url: str, slack: SlackServer) -> Settings:
    return Settings(
        database_url=db_url,
        secret_key=TEST_SECRET,
        base_url="http://onduty.test",
        slack_base_url=f"{slack.url}/api/",
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
    )


class Desk:
    """The Acme policy with checkout's channel, the engine with the real Slack target and fake
    channels for people's own pages, and a signed-request helper."""

    def __init__(
        self,
        client: TestClient,
        factory: sessionmaker[Session],
        settings: Settings,
        clock: FakeClock,
        slack: SlackServer,
    ) -> None:
        self.client, self.factory, self.clock, self.slack = client, factory, clock, slack
        doc = example()
        doc["teams"][0]["slack_channel"] = CHANNEL
        clock.advance(timedelta(hours=1))  # past Monday's handoff: no shift notices
        apply_doc(factory, doc)
        self.fakes = {t: FakeChannel(t) for t in TYPES}
        self.engine = Engine(
            settings, factory, clock, self.fakes, holder="test", targets=build_targets(settings)
        )

    def settle(self) -> None:
        """Tick, 2 s apart, until no Slack call waits (a thread's calls go one at a time)."""
        for _ in range(40):
            self.engine.tick()
            self.clock.advance(timedelta(seconds=2))
            with self.factory() as s:
                waiting = s.scalars(
                    select(ob.OutboxMessage.id).where(
                        ob.OutboxMessage.target == "slack",
                        ob.OutboxMessage.status.in_((ob.PENDING, ob.SENDING)),
                    )
                ).first()
            if waiting is None:
                return
        raise AssertionError("Slack calls still waiting")

    def signed(self, path: str, body: bytes, *, age: int = 0) -> Any:
        stamp = str(int(self.clock.now().timestamp()) - age)
        headers = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signing.slack_signature(SECRET, stamp, body),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return self.client.post(path, content=body, headers=headers)

    def command(self, user: str, text: str, trigger: str = "1111.2222.abc") -> Any:
        body = urlencode(
            {
                "team_id": "T0ACME",
                "channel_id": CHANNEL,
                "user_id": user,
                "command": "/onduty",
                "text": text,
                "response_url": f"{self.slack.url}/response/T0ACME/1/abc",
                "trigger_id": trigger,
            }
        ).encode()
        return self.signed("/integrations/slack/commands", body)

    def press(self, user: str, action: str, incident_id: int) -> Any:
        payload = {
            "type": "block_actions",
            "user": {"id": user},
            "response_url": f"{self.slack.url}/response/T0ACME/2/def",
            "actions": [{"action_id": action, "value": str(incident_id), "type": "button"}],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.signed("/integrations/slack/interactions", body)

    def status(self, incident_id: int = 1) -> str:
        with self.factory() as s:
            incident = s.get(m.Incident, incident_id)
            assert incident is not None
            return incident.status

    def outbox_count(self) -> int:
        with self.factory() as s:
            return len(s.scalars(select(ob.OutboxMessage.id)).all())


@pytest.fixture
def desk(
    client: TestClient,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
    slack: SlackServer,
) -> Desk:
    return Desk(client, session_factory, settings, clock, slack)


def _buttons(args: dict[str, Any]) -> list[str]:
    actions = next(b for b in args["blocks"] if b["type"] == "actions")
    return [e["action_id"] for e in actions["elements"]]


def test_the_team_channel_follows_an_incident_in_its_message_and_thread(desk: Desk) -> None:
    posted = desk.client.post(
        "/integrations/acmestorefrontalertmanager0001", content=alertmanager("CheckoutDown")
    )
    assert posted.status_code == 202
    desk.settle()
    [first] = desk.slack.calls("chat.postMessage")
    assert first["channel"] == CHANNEL and "thread_ts" not in first
    assert "#1" in first["blocks"][0]["text"]["text"] and "triggered" in first["text"]
    assert _buttons(first) == ["acknowledge", "resolve", "escalate", "runbook"]
    parent = next(ts for (_c, ts), args in desk.slack.messages.items() if args == first)

    # Nobody acknowledges: the engine's escalation is said in the thread.
    desk.clock.advance(timedelta(minutes=5))
    desk.settle()
    replies = [c for c in desk.slack.calls("chat.postMessage") if c.get("thread_ts") == parent]
    assert [r["text"] for r in replies] == [":arrow_double_up: Escalated: step 2 paged ravi."]

    # A person acts through the API: each change is a reply, and the message is edited.
    with desk.factory() as s, s.begin():
        token = auth_service.create_token(
            s, person_id="asha", role="responder", now=desk.clock.now()
        )
    auth = {"Authorization": f"Bearer {token}"}
    assert desk.client.post("/api/v1/incidents/1/acknowledge", headers=auth).status_code == 200
    assert (
        desk.client.patch("/api/v1/incidents/1", json={"priority": "P2"}, headers=auth).status_code
        == 200
    )
    handover = {"developer": "ravi", "actual": "500s", "ideal": "200s", "tried": "restart"}
    handed = desk.client.post("/api/v1/incidents/1/handover", json=handover, headers=auth)
    assert handed.status_code == 200, handed.text
    assert desk.client.post("/api/v1/incidents/1/resolve", headers=auth).status_code == 200
    desk.settle()
    replies = [c for c in desk.slack.calls("chat.postMessage") if c.get("thread_ts") == parent]
    assert [r["text"] for r in replies][1:] == [
        ":eyes: Acknowledged via api by Asha Rao.",
        ":pencil2: Changed priority P1 → P2 by Asha Rao.",
        ":technologist: Handed over to developer Ravi Kumar by Asha Rao.",
        ":white_check_mark: Resolved via api by Asha Rao.",
    ]
    updates = desk.slack.calls("chat.update")
    assert {u["ts"] for u in updates} == {parent} and {u["channel"] for u in updates} == {CHANNEL}
    final = desk.slack.messages[(CHANNEL, parent)]
    assert "resolved" in final["text"] and "P2" in final["text"]
    assert "Held by: *Asha Rao (resolved)*" in final["blocks"][0]["text"]["text"]
    assert _buttons(final) == ["runbook"]
    # Every Slack call went, once: nothing left pending or failed.
    with desk.factory() as s:
        left = s.scalars(
            select(ob.OutboxMessage.status).where(ob.OutboxMessage.target == "slack")
        ).all()
    # Every Slack call went, once, but edits superseded by a newer one before they went.
    assert set(left) == {ob.SENT, ob.CANCELLED}


def test_the_channel_is_applied_and_exported_with_the_policy(desk: Desk) -> None:
    assert f"slack_channel: {CHANNEL}" in export(desk.factory)
    doc = example()
    doc["teams"][0]["slack_channel"] = "#checkout"
    with pytest.raises(Exception, match="Slack channel id"):
        apply_doc(desk.factory, doc)


def test_slash_commands_act_as_the_person_with_their_role(desk: Desk) -> None:
    make_login(desk.factory, desk.clock.now(), "neha", "viewer", person="neha")
    desk.client.post(
        "/integrations/acmestorefrontalertmanager0001", content=alertmanager("CheckoutDown")
    )
    desk.settle()
    helped = desk.command("U0ASHA", "")
    assert helped.status_code == 200 and "`who [team]`" in helped.json()["text"]
    who = desk.command("U0ASHA", "who checkout").json()["text"]
    assert "*checkout/frontend*: asha until" in who and "*checkout/backend*: ravi" in who
    assert "#1* P1 triggered" in desk.command("U0ASHA", "status").json()["text"]

    # Neha has a viewer login: she may look, not acknowledge; nothing changes.
    refused = desk.command("U0NEHA", "ack 1").json()
    assert refused["text"] == "You are a viewer in onduty: you cannot acknowledge incidents."
    assert desk.status() == "triggered"
    # Someone Slack knows and onduty does not gets a clear answer and nothing else.
    stranger = desk.command("U0STRANGER", "ack 1").json()
    assert stranger["response_type"] == "ephemeral" and "not linked to a person" in stranger["text"]
    assert desk.status() == "triggered"
    # Asha (no login: a responder) acknowledges, in the channel.
    done = desk.command("U0ASHA", "ack 1").json()
    assert done == {"response_type": "in_channel", "text": "#1 is acknowledged by Asha Rao."}
    assert desk.status() == "acknowledged"
    again = desk.command("U0ASHA", "ack #1").json()["text"]
    assert again == "incident #1 was already acknowledged by asha"
    assert desk.command("U0ASHA", "resolve 99").json()["text"] == "there is no incident #99"
    assert "I do not know `reboot`" in desk.command("U0ASHA", "reboot").json()["text"]


def test_dryrun_and_report_are_deferred_through_the_outbox(desk: Desk) -> None:
    began = time.monotonic()
    quick = desk.command("U0ASHA", "dryrun payments P3 2026-12-05T23:00")
    assert time.monotonic() - began < 3.0  # Slack's limit, on a loaded test machine too
    assert quick.json()["text"] == "Working out who would be paged for a P3 on payments…"
    assert desk.slack.responses() == []  # nothing sent from the request
    desk.settle()
    [answer] = desk.slack.responses()
    assert answer["response_type"] == "ephemeral"
    text = answer["text"]
    assert "*Dry-run*: P3 on *payments*" in text
    assert "waits in the backlog" in text and "*ravi* by sms" in text
    assert "*nobody*" not in text and text.endswith("the policy ran out: nobody else is paged")
    bad = desk.command("U0ASHA", "dryrun nope").json()["text"]
    assert bad == "no service with id 'nope'"
    for junk in ("P9", "0001-01-01T00:00", "tomorrow"):
        answer = desk.command("U0ASHA", f"dryrun payments {junk}").json()["text"]
        assert "is neither a priority (P1-P4) nor an ISO date and time" in answer, junk

    desk.slack.triggers.add("1111.2222.report")
    opening = desk.command("U0RAVI", "report", trigger="1111.2222.report")
    assert opening.json()["text"] == "Opening the bug report form…"
    desk.settle()
    [opened] = desk.slack.calls("views.open")
    assert opened["trigger_id"] == "1111.2222.report"
    view = opened["view"]
    assert view["callback_id"] == "onduty_report"
    assert [b["block_id"] for b in view["blocks"]] == [
        "service",
        "title",
        "steps",
        "actual",
        "expected",
        "environment",
    ]

    def submit(values: dict[str, str]) -> Any:
        state = {
            block: {"value": {"type": "plain_text_input", "value": value}}
            for block, value in values.items()
            if block != "service"
        }
        if "service" in values:
            state["service"] = {
                "value": {"type": "static_select", "selected_option": {"value": values["service"]}}
            }
        payload = {
            "type": "view_submission",
            "user": {"id": "U0RAVI"},
            "view": {"callback_id": "onduty_report", "state": {"values": state}},
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return desk.signed("/integrations/slack/interactions", body)

    missing = submit({"service": "payments", "title": "Refunds fail"})
    assert missing.json() == {
        "response_action": "errors",
        "errors": {"actual": "Say what happened."},
    }
    made = submit({"service": "payments", "title": "Refunds fail", "actual": "500 on refund"})
    assert made.json() == {"response_action": "clear"}
    with desk.factory() as s:
        incident = s.scalars(select(m.Incident).where(m.Incident.title == "Refunds fail")).one()
        assert incident.source == "slack" and incident.report is not None
        assert incident.report["actual"] == "500 on refund"
        assert incident.report["reporter"] == "ravi"


def test_buttons_escalate_acknowledge_and_answer_through_response_url(desk: Desk) -> None:
    desk.client.post(
        "/integrations/acmestorefrontalertmanager0001", content=alertmanager("CheckoutDown")
    )
    desk.settle()
    escalated = desk.press("U0ASHA", "escalate", 1)
    assert escalated.status_code == 200
    assert escalated.json()["text"] == "#1 escalated by Asha Rao to the next step."
    runbook = desk.press("U0ASHA", "runbook", 1).json()["text"]
    assert runbook == "Runbook for this incident: http://onduty.test/incidents/1#runbook"
    desk.settle()
    texts = [r["text"] for r in desk.slack.responses()]
    assert sorted(texts) == ["#1 escalated by Asha Rao to the next step.", runbook]
    with desk.factory() as s:
        kinds = s.scalars(
            select(m.TimelineEvent.kind).where(m.TimelineEvent.channel == "slack")
        ).all()
    assert kinds == ["escalated"]
    assert desk.press("U0ASHA", "acknowledge", 1).json()["text"] == (
        "#1 is acknowledged by Asha Rao."
    )
    assert desk.status() == "acknowledged"


def test_unsigned_stale_forged_and_replayed_requests_are_refused(desk: Desk) -> None:
    desk.client.post(
        "/integrations/acmestorefrontalertmanager0001", content=alertmanager("CheckoutDown")
    )
    desk.settle()
    body = urlencode({"user_id": "U0ASHA", "text": "ack 1", "response_url": "", "trigger_id": ""})
    raw = body.encode()
    before = desk.outbox_count()
    unsigned = desk.client.post("/integrations/slack/commands", content=raw)
    assert unsigned.status_code == 401 and unsigned.json()["field"] == "x-slack-signature"
    stale = desk.signed("/integrations/slack/commands", raw, age=301)
    assert stale.status_code == 401 and "5-minute" in stale.json()["error"]
    stamp = str(int(desk.clock.now().timestamp()))
    forged = desk.client.post(
        "/integrations/slack/commands",
        content=raw,
        headers={"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + "0" * 64},
    )
    assert forged.status_code == 401
    assert desk.status() == "triggered" and desk.outbox_count() == before
    # A genuine request acts once; the same bytes and signature again are a replay.
    signature = signing.slack_signature(SECRET, stamp, raw)
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
    first = desk.client.post("/integrations/slack/commands", content=raw, headers=headers)
    assert first.json()["text"] == "#1 is acknowledged by Asha Rao."
    desk.clock.advance(timedelta(seconds=30))
    replay = desk.client.post("/integrations/slack/commands", content=raw, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]
    assert desk.press("U0ASHA", "resolve", 1).json()["text"] == "#1 is resolved by Asha Rao."
    assert desk.press("U0ASHA", "resolve", 1).status_code == 401  # the same second: a replay
    desk.clock.advance(timedelta(seconds=1))
    later = desk.press("U0ASHA", "resolve", 1).json()["text"]  # pressed again later: acts
    assert later == "incident #1 is already resolved"
    # Slack's certificate probe is the one unsigned request answered 200.
    probe = desk.client.post("/integrations/slack/commands", content=b"ssl_check=1&token=x")
    assert probe.status_code == 200 and probe.content == b""


def test_shift_start_and_end_go_to_both_people_and_the_team_channel(desk: Desk) -> None:
    # Monday 7 December, 10:00 IST: checkout's frontend passes from Asha to Neha, its backend
    # from Ravi to Arjun. Catalog's handoff is at the same instant but it has no channel.
    desk.clock.set(datetime(2026, 12, 7, 4, 30, 30, tzinfo=UTC))
    desk.settle()
    sent = sorted(
        (m.message.event, m.message.recipient, kind, m.message.text or "")
        for kind, fake in desk.fakes.items()
        for m in fake.take()
        if m.message.recipient in ("asha", "neha", "ravi", "arjun")
        and m.message.event.startswith("oncall.shift")  # the weekly handover has its own
    )
    assert sent == [
        (
            "oncall.shift_ended",
            "asha",
            "slack",
            "Your on-call shift for checkout/frontend has ended; Neha Iyer takes over.",
        ),
        (
            "oncall.shift_ended",
            "ravi",
            "sms",
            "Your on-call shift for checkout/backend has ended; Arjun Mehta takes over.",
        ),
        (
            "oncall.shift_started",
            "arjun",
            "webhook",
            "Your on-call shift for checkout/backend has started.",
        ),
        (
            "oncall.shift_started",
            "neha",
            "slack",
            "Your on-call shift for checkout/frontend has started.",
        ),
    ]
    lines = sorted(c["text"] for c in desk.slack.calls("chat.postMessage"))
    assert lines[:2] == [
        ":calendar: checkout/backend: Arjun Mehta is on call now, taking over from Ravi Kumar.",
        ":calendar: checkout/frontend: Neha Iyer is on call now, taking over from Asha Rao.",
    ]
    # The weekly handover report goes to the channel too.
    [report] = lines[2:]
    assert report.startswith(
        ":handshake: Weekly handover for checkout: frontend: asha -> neha, backend: ravi -> arjun."
    )
    assert {c["channel"] for c in desk.slack.calls("chat.postMessage")} == {CHANNEL}
    # Another engine pass over the same handoff queues nothing again.
    before = desk.outbox_count()
    desk.engine.shift_notices(desk.clock.now())
    assert desk.outbox_count() == before


def test_status_page_posts_and_updates_are_said_in_the_thread(desk: Desk) -> None:
    posted = desk.client.post(
        "/integrations/acmestorefrontalertmanager0001", content=alertmanager("CheckoutDown")
    )
    assert posted.status_code == 202
    desk.settle()
    [first] = desk.slack.calls("chat.postMessage")
    parent = next(ts for (_c, ts), args in desk.slack.messages.items() if args == first)
    with desk.factory() as s, s.begin():
        token = auth_service.create_token(
            s, person_id="asha", role="responder", now=desk.clock.now()
        )
    auth = {"Authorization": f"Bearer {token}"}
    made = desk.client.post(
        "/api/v1/status-incidents",
        json={
            "name": "Checkout is failing",
            "status": "investigating",
            "impact": "major",
            "body": "We are looking into it.",
            "components": {"web-shop": "major_outage"},
            "incident": 1,
        },
        headers=auth,
    )
    assert made.status_code == 201, made.text
    update = {"status": "identified", "body": "A bad deploy; rolling back."}
    answer = desk.client.post(
        f"/api/v1/status-incidents/{made.json()['id']}/updates", json=update, headers=auth
    )
    assert answer.status_code == 201, answer.text
    desk.settle()
    replies = [c for c in desk.slack.calls("chat.postMessage") if c.get("thread_ts") == parent]
    assert [r["text"] for r in replies] == [
        ":loudspeaker: Posted to the status page (investigating): Checkout is failing",
        ":loudspeaker: Status page update (identified): A bad deploy; rolling back.",
    ]


def test_a_daily_check_falling_due_is_said_in_the_team_channel(desk: Desk) -> None:
    doc = example()
    doc["teams"][0]["slack_channel"] = CHANNEL
    doc["checks"] = [
        {
            "id": "smoke",
            "team": "checkout",
            "type": "checklist",
            "at": "12:00",
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "items": ["Place a test order"],
        }
    ]
    apply_doc(desk.factory, doc)
    desk.clock.set(datetime(2026, 11, 30, 6, 30, 30, tzinfo=UTC))  # Monday 12:00 IST
    desk.settle()
    assert [c["text"] for c in desk.slack.calls("chat.postMessage")] == [
        ":ballot_box_with_check: Daily check smoke is due by Mon 2026-11-30 14:00 IST: "
        "Place a test order (asha, ravi)"
    ]
