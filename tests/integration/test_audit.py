"""The audit log is written by the services, whoever calls them: every state-changing HTTP route
(from the app's route table) and CLI command (from the Typer tree), done for real, adds exactly
one audit row with the right actor, action and object. A route or command that is neither
exercised here nor listed as not audited (with the reason) fails the test."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import typer
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import TEST_SECRET
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import EXAMPLE, example
from tests.scenario import alertmanager
from tests.ui_helpers import PASSWORD, csrf, make_login, sign_in
from typer.core import TyperGroup
from typer.testing import CliRunner

from onduty import cli
from onduty import models as m
from onduty.auth import service as auth_service
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.handover import service as handover_service
from onduty.incidents import ingest
from onduty.notify import links, signing
from onduty.postmortems import service as postmortems_service
from onduty.runbooks import service as runbooks_service

SLACK_SECRET = "slack-signing-secret-0123"
TWILIO_TOKEN = "twilio-auth-token-0123"
BASE = "http://onduty.test"
PD_KEY = "0123456789abcdef0123456789abcdef"  # payments, pagerduty
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

Route = tuple[str, str]

NOT_AUDITED_ROUTES: dict[Route, str] = {
    ("POST", "/integrations/{key}"): "alerts from monitoring: the incident timeline has them",
    ("POST", "/v2/enqueue"): "the same, through PagerDuty's Events API",
    ("POST", "/login"): "signing in changes nothing on anyone's behalf",
    ("POST", "/logout"): "signing out ends only the signed-in login's own sessions",
    ("POST", "/incidents/{incident_id}/postmortem/preview"): "renders the form; stores nothing",
    ("POST", "/integrations/twilio/status"): "a provider's delivery report: the incident "
    "timeline has it (notify.failed, notify.fallthrough)",
    ("POST", "/api/v1/status-incidents/preview"): "renders a template; stores nothing",
    ("POST", "/status-admin/preview"): "the same, for the page's live preview",
    ("POST", "/heartbeat/{key}"): "pings from monitored jobs: the check's history has them",
}

READ_ONLY_COMMANDS = {
    "who",
    "schedule show",
    "schedule fairness",
    "override list",
    "incident list",
    "incident show",
    "integrations list",
    "policy lint",
    "policy export",
    "runbook list",
    "dryrun",
    "checks list",
    "report",
    "handover show",
}
NOT_AUDITED_COMMANDS = {
    "db upgrade": "changes the schema, not the data",
    "serve": "a long-running process; its --demo setup is policy apply, user create and token "
    "create, audited as those commands are",
    "engine": "a long-running process; escalation steps are incident timeline events",
    "login": "keeps an API token in the user's own file; changes nothing in onduty",
    "runbook new": "writes a file from the template; nothing in onduty until policy apply",
}


@dataclass
class Log:
    """Audit rows written since the last check, and which routes or commands were checked."""

    factory: sessionmaker[Session]
    last: int = 0
    covered: set[object] = field(default_factory=set)

    def new(self) -> list[m.AuditEvent]:
        with self.factory() as s:
            rows = list(
                s.scalars(
                    select(m.AuditEvent)
                    .where(m.AuditEvent.id > self.last)
                    .order_by(m.AuditEvent.id)
                )
            )
        self.last = rows[-1].id if rows else self.last
        return rows

    def skip(self) -> None:
        """Forget what setup wrote."""
        self.new()

    def nothing(self) -> None:
        assert [(r.actor, r.action) for r in self.new()] == []

    def one(
        self, what: object, actor: str, action: str, object_type: str, object_id: str
    ) -> m.AuditEvent:
        rows = self.new()
        got = [(r.actor, r.action, r.object_type, r.object_id) for r in rows]
        assert got == [(actor, action, object_type, object_id)], what
        self.covered.add(what)
        return rows[0]

    def many(self, what: object) -> list[m.AuditEvent]:
        self.covered.add(what)
        return self.new()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        secret_key=TEST_SECRET,
        base_url=BASE,
        slack_signing_secret=SLACK_SECRET,
        twilio_auth_token=TWILIO_TOKEN,
    )


def with_checklist(doc: dict[str, Any]) -> dict[str, Any]:
    doc["checks"] = [
        {"id": "smoke", "team": "checkout", "type": "checklist", "at": "09:00", "items": ["a", "b"]}
    ]
    return doc


def changing_routes(app: FastAPI) -> set[Route]:
    """Every (method, path) that can change state, through included routers too."""
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        for method in context.methods or ()
        if method in CHANGING and context.path is not None
    }


def report(factory: sessionmaker[Session], now: datetime, title: str) -> tuple[int, int]:
    with factory() as s, s.begin():
        row = ingest.report(
            s, service_id="storefront", title=title, channel="qa", actor="qa", now=now, fields={}
        )
        return row.id, row.number


def test_every_state_changing_route_writes_one_audit_row(
    client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    apply_doc(session_factory, with_checklist(example()))
    make_login(session_factory, clock.now(), "boss", "admin")
    make_login(session_factory, clock.now(), "asha", "responder", person="asha")
    with session_factory() as s, s.begin():
        token = auth_service.create_token(s, person_id=None, role="admin", now=clock.now())
        token_id = s.scalars(select(m.ApiToken.id).where(m.ApiToken.prefix == token[:10])).one()
    api, by_token = {"Authorization": f"Bearer {token}"}, f"token:{token_id}"
    with session_factory() as s, s.begin():
        runbooks_service.apply_folder(s, EXAMPLE.parent / "runbooks", actor="cli", now=clock.now())
    a, a_number = report(session_factory, clock.now(), "Checkout button does nothing")
    b, _ = report(session_factory, clock.now(), "Prices show NaN")
    log = Log(session_factory)
    # Setup called the services directly: audited too, as the system (or the reporter).
    setup = [(r.actor, r.action) for r in log.new() if not r.action.startswith("policy.")]
    assert (
        setup
        == [("system", "login.create")] * 2
        + [("system", "token.create")]
        + [("qa", "incident.report")] * 2
    )

    # Alerts from monitoring, even when they acknowledge or resolve, are timeline only.
    storefront = "acmestorefrontalertmanager0001"
    for status in ("firing", "resolved"):
        sent = client.post(
            f"/integrations/{storefront}", content=alertmanager("Disk", status=status)
        )
        assert sent.status_code == 202, sent.text
    for action in ("trigger", "acknowledge", "resolve"):
        event = {"routing_key": PD_KEY, "event_action": action, "dedup_key": "audit-1"}
        if action == "trigger":
            event["payload"] = {"summary": "Payments slow", "source": "db", "severity": "error"}
        assert client.post("/v2/enqueue", json=event).status_code == 202
    with session_factory() as s:
        statuses = s.scalars(select(m.Incident.status).where(m.Incident.id > b)).all()
    assert sorted(statuses) == ["resolved", "resolved"]  # both auto-resolved by their senders
    log.nothing()

    # The JSON API, with a token that has no person: the token is the actor.
    for action in ("acknowledge", "escalate", "resolve", "reopen"):
        answer = client.post(f"/api/v1/incidents/{a}/{action}", headers=api)
        assert answer.status_code == 200, answer.text
        route = ("POST", f"/api/v1/incidents/{{incident_id}}/{action}")
        log.one(route, by_token, f"incident.{action}", "incident", str(a))
    patched = client.patch(
        f"/api/v1/incidents/{a}", json={"priority": "P2", "assignee": "ravi"}, headers=api
    )
    assert patched.status_code == 200, patched.text
    row = log.one(
        ("PATCH", "/api/v1/incidents/{incident_id}"),
        by_token,
        "incident.update",
        "incident",
        str(a),
    )
    assert row.after == {"priority": "P2", "assignee": "ravi"}
    assert row.before is not None and row.before["assignee"] is None
    reported = client.post(
        "/api/v1/incidents", json={"service": "payments", "title": "Refunds fail"}, headers=api
    )
    assert reported.status_code == 201, reported.text
    log.one(
        ("POST", "/api/v1/incidents"),
        by_token,
        "incident.report",
        "incident",
        str(reported.json()["id"]),
    )
    refunds = reported.json()["id"]
    handed = client.post(
        f"/api/v1/incidents/{refunds}/handover",
        json={"developer": "sana", "actual": "a", "ideal": "b", "tried": "c"},
        headers=api,
    )
    assert handed.status_code == 200, handed.text
    route = ("POST", "/api/v1/incidents/{incident_id}/handover")
    log.one(route, by_token, "incident.handover", "incident", str(refunds))
    # The public report form: the reporter, known only by their address, is the actor.
    public = client.post("/report", data={"service": "storefront", "title": "Cart empties"})
    assert public.status_code == 201, public.text
    with session_factory() as s:
        newest = str(s.scalar(select(func.max(m.Incident.id))))
    log.one(("POST", "/report"), "reporter:testclient", "incident.report", "incident", newest)
    verdict = {"runbook": "storefront", "verdict": "partly", "missing": "the CDN purge"}
    given = client.post(f"/api/v1/incidents/{a}/runbook-feedback", json=verdict, headers=api)
    assert given.status_code == 201, given.text
    route = ("POST", "/api/v1/incidents/{incident_id}/runbook-feedback")
    log.one(route, by_token, "runbook.feedback", "incident", str(a))
    task = str(given.json()["task"])
    fixed = {"link": "https://git.example/runbooks/1"}
    closed = client.post(f"/api/v1/runbook-tasks/{task}/close", json=fixed, headers=api)
    assert closed.status_code == 200, closed.text
    route = ("POST", "/api/v1/runbook-tasks/{task_id}/close")
    log.one(route, by_token, "runbook_task.close", "runbook_task", task)
    window = {"start": "2026-11-26T10:00:00Z", "end": "2026-11-26T14:00:00Z"}
    body = {"team": "checkout", "slot": "backend", "person": "ravi", **window}
    made = client.post("/api/v1/overrides", json=body, headers=api)
    assert made.status_code == 201, made.text
    override = str(made.json()["id"])
    log.one(("POST", "/api/v1/overrides"), by_token, "override.create", "override", override)
    assert client.delete(f"/api/v1/overrides/{override}", headers=api).status_code == 204
    log.one(
        ("DELETE", "/api/v1/overrides/{override_id}"),
        by_token,
        "override.remove",
        "override",
        override,
    )
    swap = {
        "team": "checkout",
        "slot": "frontend",
        "first": "2026-11-26T12:00:00Z",
        "second": "2026-12-01T12:00:00Z",
    }
    swapped = client.post("/api/v1/swaps", json=swap, headers=api)
    assert swapped.status_code == 201, swapped.text
    pair = ",".join(str(o["id"]) for o in swapped.json())
    log.one(("POST", "/api/v1/swaps"), by_token, "override.swap", "override", pair)
    # A refused change leaves no record: the second swap's first override is rolled back too.
    swap["first"] = "2026-12-15T12:00:00Z"
    assert client.post("/api/v1/swaps", json=swap, headers=api).status_code == 409
    log.nothing()
    away = client.post("/api/v1/time-off", json={"person": "arjun", **window}, headers=api)
    assert away.status_code == 201, away.text
    log.one(
        ("POST", "/api/v1/time-off"),
        by_token,
        "time_off.create",
        "time_off",
        str(away.json()["id"]),
    )

    # The status page: status incidents, their updates, maintenances (the API), and the
    # public page's subscriptions, done by the public (no login).
    posted = client.post(
        "/api/v1/status-incidents",
        json={"name": "Checkout errors", "components": {"web-shop": "partial_outage"}},
        headers=api,
    )
    assert posted.status_code == 201, posted.text
    sid = str(posted.json()["id"])
    route = ("POST", "/api/v1/status-incidents")
    log.one(route, by_token, "status_incident.create", "status_incident", sid)
    updated = client.post(
        f"/api/v1/status-incidents/{sid}/updates", json={"status": "resolved"}, headers=api
    )
    assert updated.status_code == 201, updated.text
    route = ("POST", "/api/v1/status-incidents/{status_incident_id}/updates")
    log.one(route, by_token, "status_incident.update", "status_incident", sid)
    shown = client.post(
        "/api/v1/status-incidents/preview", json={"status": "identified"}, headers=api
    )
    assert shown.status_code == 200, shown.text
    log.nothing()
    maintenance = {
        "name": "Failover",
        "scheduled_for": "2026-11-27T02:00:00Z",
        "scheduled_until": "2026-11-27T03:00:00Z",
        "components": ["payments"],
    }
    planned = client.post("/api/v1/maintenances", json=maintenance, headers=api)
    assert planned.status_code == 201, planned.text
    mid = str(planned.json()["id"])
    log.one(("POST", "/api/v1/maintenances"), by_token, "maintenance.create", "maintenance", mid)
    joined = client.post("/status/subscribe", data={"email": "client@example.org"})
    assert joined.status_code == 200, joined.text
    with session_factory() as s:
        subscriber = s.scalars(select(m.Subscriber)).one()
        sub_id, sub_token = str(subscriber.id), subscriber.token
    log.one(("POST", "/status/subscribe"), "public", "subscriber.create", "subscriber", sub_id)
    assert client.get(f"/status/confirm/{sub_token}").status_code == 200
    assert [r.action for r in log.new()] == ["subscriber.confirm"]  # a GET: the mail's link
    left = client.post(f"/status/unsubscribe/{sub_token}")
    assert left.status_code == 200, left.text
    route = ("POST", "/status/unsubscribe/{token}")
    log.one(route, "public", "subscriber.unsubscribe", "subscriber", sub_id)
    ticked = client.post("/api/v1/checks/smoke/tick", json={"item": "a"}, headers=api)
    assert ticked.status_code == 200, ticked.text
    log.one(("POST", "/api/v1/checks/{check_id}/tick"), by_token, "check.tick", "check", "smoke")
    again = client.post("/api/v1/checks/smoke/tick", json={"item": "a"}, headers=api)
    assert again.status_code == 200  # ticked already: nothing new
    log.nothing()
    added = client.post(
        "/api/v1/handovers/agenda", json={"team": "checkout", "text": "Alerts"}, headers=api
    )
    assert added.status_code == 201, added.text
    log.one(("POST", "/api/v1/handovers/agenda"), by_token, "handover.agenda", "team", "checkout")
    with session_factory() as s, s.begin():
        made = handover_service.generate(
            s,
            team_id="checkout",
            at=datetime(2026, 11, 23, 4, 30, tzinfo=UTC),
            now=clock.now(),
            base_url=BASE,
        )
        assert made is not None
        handover = str(made.id)
    log.skip()  # made by the engine: its reassignments are audited as `handover`
    for action in ("acknowledge", "meeting"):
        body = {"attendees": ["asha"]} if action == "meeting" else None
        done = client.post(f"/api/v1/handovers/{handover}/{action}", json=body, headers=api)
        assert done.status_code == 200, done.text
        log.one(
            ("POST", f"/api/v1/handovers/{{handover_id}}/{action}"),
            by_token,
            f"handover.{action}",
            "handover",
            handover,
        )

    # Where a page reached a person: signed link, Slack, SMS and voice; the person acts.
    expires = clock.now() + timedelta(hours=1)
    link = links.sign(
        TEST_SECRET, action="acknowledge", incident_id=b, recipient="asha", expires=expires
    )
    assert client.post(f"/actions/{link}").status_code == 200
    log.one(("POST", "/actions/{token}"), "asha", "incident.acknowledge", "incident", str(b))
    status_link = links.sign(
        TEST_SECRET, action=links.STATUS_PAGE, incident_id=b, recipient="asha", expires=expires
    )
    posted_b = client.post(f"/actions/status/{status_link}")
    assert posted_b.status_code == 200, posted_b.text
    route = ("POST", "/actions/status/{token}")
    log.one(
        route,
        "asha",
        "status_incident.create",
        "status_incident",
        str(posted_b.json()["status_incident"]),
    )
    # A call made after the acknowledgement (generation 2): older links no longer act.
    call = links.sign(
        TEST_SECRET,
        action=links.KEYPAD,
        incident_id=b,
        recipient="neha",
        expires=expires,
        generation=2,
    )
    path = f"/integrations/twilio/voice/{call}"
    form = {"Digits": "2", "CallSid": "CA1"}
    signature = signing.twilio_signature(TWILIO_TOKEN, BASE + path, form)
    said = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert "is now resolved" in said.text, said.text
    log.one(
        ("POST", "/integrations/twilio/voice/{token}"),
        "neha",
        "incident.resolve",
        "incident",
        str(b),
    )
    payload = {"user": {"id": "U0ASHA"}, "actions": [{"action_id": "acknowledge", "value": str(a)}]}
    raw = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(clock.now().timestamp()))
    slack = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signing.slack_signature(SLACK_SECRET, stamp, raw),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    answer = client.post("/integrations/slack/interactions", content=raw, headers=slack)
    assert "is acknowledged by Asha Rao" in answer.json()["text"], answer.text
    log.one(
        ("POST", "/integrations/slack/interactions"),
        "asha",
        "incident.acknowledge",
        "incident",
        str(a),
    )
    sms = {"From": "+15550100001", "Body": f"{a_number}R", "MessageSid": "SM1"}
    signature = signing.twilio_signature(TWILIO_TOKEN, f"{BASE}/integrations/twilio/sms", sms)
    texted = client.post(
        "/integrations/twilio/sms", data=sms, headers={"X-Twilio-Signature": signature}
    )
    assert "resolved by Asha Rao" in texted.text, texted.text
    log.one(("POST", "/integrations/twilio/sms"), "asha", "incident.resolve", "incident", str(a))
    c, c_number = report(session_factory, clock.now(), "Coupons ignored")
    log.skip()
    command = urlencode({"user_id": "U0ASHA", "text": f"ack {c_number}"}).encode()
    slash = {
        **slack,
        "X-Slack-Signature": signing.slack_signature(SLACK_SECRET, stamp, command),
    }
    acked = client.post("/integrations/slack/commands", content=command, headers=slash)
    assert acked.json()["text"] == f"#{c_number} is acknowledged by Asha Rao.", acked.text
    log.one(
        ("POST", "/integrations/slack/commands"), "asha", "incident.acknowledge", "incident", str(c)
    )

    # The web UI, signed in as a responder with a person (the person is the actor).
    sign_in(client, "asha")
    log.nothing()
    forms = {
        "reopen": {},
        "acknowledge": {},
        "escalate": {},
        "handover": {"developer": "sana", "actual": "a", "ideal": "b", "tried": "c"},
        "resolve": {},
        "priority": {"priority": "P3"},  # in any status
        "reassign": {"assignee": "neha"},
    }
    for name, extra in forms.items():
        done = client.post(
            f"/incidents/{a}/{name}",
            data={"csrf_token": token_of(client, a), **extra},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        log.one(
            ("POST", f"/incidents/{{incident_id}}/{name}"),
            "asha",
            f"incident.{name}",
            "incident",
            str(a),
        )
    # Postmortems: incident a was P2 when the page resolved it, so it has a draft.
    with session_factory() as s:
        pm_a = str(s.scalars(select(m.Postmortem.id).where(m.Postmortem.incident_id == a)).one())
    answers = {"summary": "Checkout broke", "root_cause": "A bad deploy"}
    put = client.put(
        f"/api/v1/incidents/{a}/postmortem",
        json={"version": 1, "answers": answers},
        headers=api,
    )
    assert put.status_code == 200, put.text
    route = ("PUT", "/api/v1/incidents/{incident_id}/postmortem")
    log.one(route, by_token, "postmortem.update", "postmortem", pm_a)
    page = client.get(f"/incidents/{a}/postmortem").text
    form = {"csrf_token": csrf(page), "version": "2", **answers, "status": "in_review"}
    previewed = client.post(f"/incidents/{a}/postmortem/preview", data=form)
    assert previewed.status_code == 200, previewed.text
    log.nothing()
    saved = client.post(f"/incidents/{a}/postmortem", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    route = ("POST", "/incidents/{incident_id}/postmortem")
    log.one(route, "asha", "postmortem.update", "postmortem", pm_a)
    published = client.post(
        f"/incidents/{a}/postmortem/publish",
        data={"csrf_token": csrf(page)},
        follow_redirects=False,
    )
    assert published.status_code == 303, published.text
    route = ("POST", "/incidents/{incident_id}/postmortem/publish")
    log.one(route, "asha", "postmortem.publish", "postmortem", pm_a)
    with session_factory() as s, s.begin():
        incident_b = s.get(m.Incident, b)
        assert incident_b is not None
        incident_b.priority = "P1"
        pm_b = postmortems_service.open_draft(s, incident=incident_b, now=clock.now())
        assert pm_b is not None
        postmortems_service.save(
            s,
            incident_id=b,
            version=1,
            actor="qa",
            now=clock.now(),
            answers=answers,
            status="in_review",
        )
        pm_b_id = str(pm_b.id)
    log.skip()
    published = client.post(f"/api/v1/incidents/{b}/postmortem/publish", headers=api)
    assert published.status_code == 200, published.text
    route = ("POST", "/api/v1/incidents/{incident_id}/postmortem/publish")
    log.one(route, by_token, "postmortem.publish", "postmortem", pm_b_id)

    page = client.get(f"/incidents/{b}").text
    given = client.post(
        f"/incidents/{b}/runbook-feedback",
        data={"csrf_token": csrf(page), **verdict, "verdict": "not_enough"},
        follow_redirects=False,
    )
    assert given.status_code == 303, given.text
    route = ("POST", "/incidents/{incident_id}/runbook-feedback")
    log.one(route, "asha", "runbook.feedback", "incident", str(b))
    with session_factory() as s:
        task = str(s.scalar(select(func.max(m.RunbookTask.id))))
    closed = client.post(
        f"/runbook-tasks/{task}/close",
        data={"csrf_token": csrf(page), **fixed},
        follow_redirects=False,
    )
    assert closed.status_code == 303, closed.text
    route = ("POST", "/runbook-tasks/{task_id}/close")
    log.one(route, "asha", "runbook_task.close", "runbook_task", task)
    admin_page = client.get("/status-admin").text
    new_status = {
        "csrf_token": csrf(admin_page),
        "name": "Search slow",
        "impact": "minor",
        "status": "investigating",
        "component.search": "degraded_performance",
        "body": "",
    }
    posted = client.post("/status-admin/incidents", data=new_status, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    web_sid = posted.headers["location"].rsplit("/", 1)[1]
    route = ("POST", "/status-admin/incidents")
    log.one(route, "asha", "status_incident.create", "status_incident", web_sid)
    shown = client.post("/status-admin/preview", data=new_status)
    assert shown.status_code == 200 and "search" in shown.text.lower()
    log.nothing()
    update = {"csrf_token": csrf(admin_page), "status": "monitoring", "body": "Better."}
    done = client.post(
        f"/status-admin/incidents/{web_sid}/updates", data=update, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    route = ("POST", "/status-admin/incidents/{row_id}/updates")
    log.one(route, "asha", "status_incident.update", "status_incident", web_sid)
    window = {"scheduled_for": "2026-11-28T02:00", "scheduled_until": "2026-11-28T03:00"}
    planned = client.post(
        "/status-admin/maintenances",
        data={"csrf_token": csrf(admin_page), "name": "Reindex", "components": "search", **window},
        follow_redirects=False,
    )
    assert planned.status_code == 303, planned.text
    with session_factory() as s:
        maintenance = str(s.scalar(select(func.max(m.StatusIncident.id))))
    route = ("POST", "/status-admin/maintenances")
    log.one(route, "asha", "maintenance.create", "maintenance", maintenance)
    page = client.get("/teams/checkout").text
    cover = {
        "slot": "backend",
        "person": "ravi",
        "start": "2026-11-26T18:00",
        "end": "2026-11-26T20:00",
    }
    made = client.post(
        "/teams/checkout/overrides",
        data={"csrf_token": csrf(page), **cover},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    with session_factory() as s:
        override = str(s.scalar(select(func.max(m.Override.id))))
    log.one(("POST", "/teams/{team_id}/overrides"), "asha", "override.create", "override", override)
    removed = client.post(
        f"/teams/checkout/overrides/{override}/remove",
        data={"csrf_token": csrf(page)},
        follow_redirects=False,
    )
    assert removed.status_code == 303, removed.text
    log.one(
        ("POST", "/teams/{team_id}/overrides/{override_id}/remove"),
        "asha",
        "override.remove",
        "override",
        override,
    )
    page = client.get("/checks").text
    ticked = client.post(
        "/checks/smoke/tick", data={"csrf_token": csrf(page), "item": "2"}, follow_redirects=False
    )
    assert ticked.status_code == 303, ticked.text
    log.one(("POST", "/checks/{check_id}/tick"), "asha", "check.tick", "check", "smoke")
    page = client.get(f"/handovers/{handover}").text
    noted = client.post(
        f"/handovers/{handover}/agenda",
        data={"csrf_token": csrf(page), "text": "Runbook gap"},
        follow_redirects=False,
    )
    assert noted.status_code == 303, noted.text
    log.one(
        ("POST", "/handovers/{handover_id}/{action}"),
        "asha",
        "handover.agenda",
        "team",
        "checkout",
    )
    page = client.get("/people/asha").text
    tested = client.post(
        "/people/asha/test", data={"csrf_token": csrf(page)}, follow_redirects=False
    )
    assert tested.status_code == 303, tested.text
    log.one(
        ("POST", "/people/{person_id}/test"), "asha", "person.test_notification", "person", "asha"
    )
    again = client.post("/people/asha/test", data={"csrf_token": csrf(page)})
    assert again.status_code == 200  # the same instant: queued already, nothing new
    log.nothing()

    # An admin without a person: the login is the actor.
    sign_in(client, "boss")
    page = client.get("/tokens").text
    made = client.post(
        "/tokens", data={"csrf_token": csrf(page), "name": "ci", "person": "", "role": "viewer"}
    )
    assert made.status_code == 201, made.text
    new_token = made.text.split('action="/tokens/')[-1].split("/")[0]
    log.one(("POST", "/tokens"), "login:boss", "token.create", "api_token", new_token)
    revoked = client.post(
        f"/tokens/{new_token}/revoke", data={"csrf_token": csrf(made.text)}, follow_redirects=False
    )
    assert revoked.status_code == 303, revoked.text
    log.one(
        ("POST", "/tokens/{token_id}/revoke"), "login:boss", "token.revoke", "api_token", new_token
    )

    assert isinstance(client.app, FastAPI)
    routes = changing_routes(client.app)
    assert set(NOT_AUDITED_ROUTES) <= routes, "a route listed as not audited no longer exists"
    unchecked = routes - set(NOT_AUDITED_ROUTES) - log.covered
    assert not unchecked, f"state-changing routes neither checked here nor listed: {unchecked}"
    assert log.covered <= routes


def token_of(client: TestClient, incident_id: int) -> str:
    return csrf(client.get(f"/incidents/{incident_id}").text)


def commands(group: TyperGroup, prefix: str = "") -> set[str]:
    """Every command's full name ("policy apply"), through nested groups."""
    found: set[str] = set()
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            found |= commands(command, f"{prefix}{name} ")
        else:
            found.add(prefix + name)
    return found


def test_every_state_changing_command_writes_one_audit_row(
    db_url: str, session_factory: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(cli.app, [*args, "--database-url", db_url], input=stdin)
        assert result.exit_code == 0, (args, result.output)
        return result.output

    log = Log(session_factory)
    lines = run("policy", "apply", str(EXAMPLE)).splitlines()
    rows = log.many("policy apply")
    assert len(rows) == len(lines) > 20
    for row, line in zip(rows, lines, strict=True):
        verb = line.split()[0]  # created, or changed for the priority table and the rules
        assert (row.actor, row.action) == (
            "cli",
            {"created": "policy.create"}.get(verb, "policy.change"),
        )
        assert row.object_type.replace("_", " ") in line
    kinds = {(r.object_type, r.object_id) for r in rows}
    assert {("person", "asha"), ("team", "checkout"), ("service", "storefront")} <= kinds
    assert ("escalation_policy", "standard") in kinds
    changed = tmp_path / "policy.yaml"
    shutil.copytree(EXAMPLE.parent / "runbooks", tmp_path / "runbooks")
    changed.write_text(EXAMPLE.read_text().replace("name: Asha Rao", "name: Asha R."))
    assert run("policy", "apply", str(changed)).splitlines() == ["changed person asha (name)"]
    [row] = log.new()
    assert (row.actor, row.action, row.object_type, row.object_id) == (
        "cli",
        "policy.change",
        "person",
        "asha",
    )
    assert row.after == {"fields": ["name"]}
    assert run("policy", "apply", str(changed)).strip() == "no changes"
    log.nothing()

    token = run("token", "create", "--role", "viewer").strip()
    with session_factory() as s:
        token_id = s.scalars(select(m.ApiToken.id).where(m.ApiToken.prefix == token[:10])).one()
    log.one("token create", "cli", "token.create", "api_token", str(token_id))
    run("user", "create", "kim", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n")
    log.one("user create", "cli", "login.create", "login", "kim")
    run("user", "create", "kim", "--role", "manager", "--password-stdin", stdin=PASSWORD + "\n")
    log.one("user create", "cli", "login.reset", "login", "kim")
    run("user", "disable", "kim")
    log.one("user disable", "cli", "login.disable", "login", "kim")
    run("user", "enable", "kim")
    log.one("user enable", "cli", "login.enable", "login", "kim")

    window = ["--start", "2026-11-26T10:00:00Z", "--end", "2026-11-26T14:00:00Z"]
    made = run(
        "override", "add", "--team", "checkout", "--slot", "backend", "--person", "ravi", *window
    )
    override = re.findall(r"override (\d+):", made)[0]
    log.one("override add", "cli", "override.create", "override", override)
    run("override", "remove", override)
    log.one("override remove", "cli", "override.remove", "override", override)
    swapped = run(
        "swap",
        "--team",
        "checkout",
        "--slot",
        "frontend",
        "--first",
        "2026-11-26T12:00:00Z",
        "--second",
        "2026-12-01T12:00:00Z",
    )
    pair = ",".join(re.findall(r"override (\d+):", swapped))
    log.one("swap", "cli", "override.swap", "override", pair)

    incident, _ = report(session_factory, clock.now(), "Search returns nothing")
    log.skip()
    run("incident", "ack", str(incident), "--as", "asha")
    log.one("incident ack", "asha", "incident.acknowledge", "incident", str(incident))
    run("incident", "resolve", str(incident))
    log.one("incident resolve", "cli", "incident.resolve", "incident", str(incident))
    run("incident", "reopen", str(incident))
    log.one("incident reopen", "cli", "incident.reopen", "incident", str(incident))
    given = ("--developer", "sana", "--actual", "a", "--ideal", "b", "--tried", "c")
    run("incident", "handover", str(incident), *given)
    log.one("incident handover", "cli", "incident.handover", "incident", str(incident))
    apply_doc(session_factory, with_checklist(example()))
    log.skip()
    run("checks", "tick", "smoke", "1", "--as", "ravi")
    log.one("checks tick", "ravi", "check.tick", "check", "smoke")

    root = typer.main.get_command(cli.app)
    assert isinstance(root, TyperGroup)
    every = commands(root)
    listed = READ_ONLY_COMMANDS | set(NOT_AUDITED_COMMANDS)
    assert listed <= every, "a command listed as read-only or not audited no longer exists"
    unchecked = every - listed - log.covered
    assert not unchecked, f"commands neither checked here nor listed as read-only: {unchecked}"
