"""The dry-run predicts what the engine does. Generated cases (policies, repeats, notification
rules, time off, overrides, priorities and instants, from fixed seeds) are run twice: once as
a dry-run, once as a real incident through the real engine on a FakeClock moved to each due
instant; every page (instant, person, channel, step, repeat), every step that named nobody and
the end of the policy must agree. Then the API, the CLI (local and remote) and the page."""

from __future__ import annotations

import json
import os
import random
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.e2e.conftest import ONDUTY
from tests.integration.test_cli import run
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example, write_policy
from tests.scenario import TYPES
from tests.ui_helpers import make_login, sign_in

from onduty import localtime
from onduty import models as m
from onduty.auth import service as auth_service
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.engine import Engine
from onduty.escalation import dryrun
from onduty.incidents import ingest
from onduty.notify import FakeChannel
from onduty.notify import models as ob

MONDAY = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 05:30 IST, outside working hours
PEOPLE = ("asha", "neha", "ravi", "arjun", "priya", "meera", "karan", "cto")
TARGETS = (
    "primary",
    "secondary",
    "team",
    "L1",
    "L2",
    "L3",
    "slot:checkout/backend",
    "slot:catalog/frontend",
    *(f"person:{p}" for p in PEOPLE),
)


def generated(seed: int) -> tuple[dict[str, Any], str, str, datetime]:
    """A random variant of the demo policy, a service, a priority and an instant."""
    rnd = random.Random(seed)
    doc = example()
    steps = [
        {
            "notify": rnd.sample(TARGETS, rnd.choice((1, 1, 2))),
            "wait": rnd.choice(("1m", "5m", "7m", "30m")),
        }
        for _ in range(rnd.randint(1, 4))
    ]
    doc["escalation_policies"][0].update(steps=steps, repeat=rnd.randint(0, 2))
    for p in doc["people"]:
        # Channels without throttles: SMS and voice are limited per 15 minutes at delivery,
        # which depends on other incidents and is not the dry-run's to predict.
        vias = ["email", "slack"] if p.get("slack") else ["email"]
        if p["id"] == "arjun":
            vias.append("pager-hook")
        p["notification_rules"] = [
            {"after": rnd.choice(("0m", "0m", "1m", "3m", "10m")), "via": rnd.choice(vias)}
            for _ in range(rnd.randint(1, 3))
        ]
    at = MONDAY + timedelta(minutes=rnd.randrange(7 * 24 * 60))
    if rnd.random() < 0.5:
        start = at - timedelta(hours=rnd.randint(0, 30))
        doc["time_off"] = [
            {
                "person": rnd.choice(PEOPLE),
                "start": start.isoformat(),
                "end": (start + timedelta(hours=rnd.randint(1, 48))).isoformat(),
            }
        ]
    if rnd.random() < 0.5:
        start = at - timedelta(minutes=rnd.randint(0, 120))
        doc["overrides"] = [
            {
                "team": "checkout",
                "slot": rnd.choice(("frontend", "backend")),
                "person": rnd.choice(("neha", "arjun", "priya")),
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=rnd.randint(10, 240))).isoformat(),
            }
        ]
    service = rnd.choice(("storefront", "payments", "search"))
    if rnd.random() < 0.4:
        # Catalog without L1, and a step naming only L1: a step that names nobody.
        del doc["teams"][1]["support"]["L1"]
        steps.insert(rnd.randrange(len(steps) + 1), {"notify": ["L1"], "wait": "5m"})
        service = "search"
    priority = rnd.choice(("P1", "P2", "P3", "P4"))
    doc["criticality_rules"] = [{"priority": priority}]
    return doc, service, priority, at


def engine_run(
    factory: sessionmaker[Session], settings: Settings, clock: FakeClock, service: str
) -> tuple[int, list[tuple[Any, ...]], list[tuple[Any, ...]], list[datetime]]:
    """Report an incident now and run the engine, at each due instant, until nothing is due."""
    fakes = {t: FakeChannel(t) for t in TYPES}
    engine = Engine(settings, factory, clock, fakes, holder="test")  # type: ignore[arg-type]
    with factory() as s, s.begin():
        incident = ingest.report(
            s,
            service_id=service,
            title="Generated",
            channel="qa",
            actor="qa",
            now=clock.now(),
            fields={},
        ).id
    for _ in range(300):
        engine.tick()
        with factory() as s:
            due = [
                s.scalar(
                    select(m.Incident.page_due_at)
                    .outerjoin(m.EscalationState)
                    .where(m.Incident.id == incident, m.EscalationState.incident_id.is_(None))
                ),
                s.scalar(
                    select(func.min(m.EscalationState.next_at)).where(
                        m.EscalationState.incident_id == incident,
                        m.EscalationState.finished.is_(False),
                    )
                ),
                s.scalar(
                    select(func.min(ob.OutboxMessage.due_at)).where(
                        ob.OutboxMessage.incident_id == incident,
                        ob.OutboxMessage.status == ob.PENDING,
                    )
                ),
            ]
        pending = [d for d in due if d is not None]
        if not pending:
            break
        clock.set(max(clock.now(), min(pending)))
    else:
        raise AssertionError("the engine never finished")
    with factory() as s:
        pages = [
            (row.due_at, row.sent_at, row.person_id, row.channel, row.step, cycle, row.status)
            for row, cycle in s.execute(
                select(ob.OutboxMessage, m.Notification.cycle)
                .join(m.Notification, m.Notification.id == ob.OutboxMessage.notification_id)
                .where(ob.OutboxMessage.incident_id == incident)
            )
        ]
        events = list(
            s.scalars(
                select(m.TimelineEvent)
                .where(m.TimelineEvent.incident_id == incident)
                .order_by(m.TimelineEvent.id)
            )
        )
    nobody = [
        (e.at, e.data["step"], e.data["cycle"]) for e in events if e.kind == "escalation.nobody"
    ]
    exhausted = [e.at for e in events if e.kind == "escalation.exhausted"]
    return incident, pages, nobody, exhausted


SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_dry_run_and_engine_agree_on_generated_cases(
    seed: int,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
) -> None:
    doc, service, priority, at = generated(seed)
    apply_doc(session_factory, doc)
    clock.set(at)
    with session_factory() as s:
        predicted = dryrun.dry_run(s, service_id=service, at=at, priority=priority)
    _incident, pages, nobody, exhausted = engine_run(session_factory, settings, clock, service)

    # Every page went, at the instant it was due (the clock was moved to each due instant).
    assert all(status == ob.SENT and sent == due for due, sent, *_, status in pages), pages
    engine_pages = sorted((due, p, via, step, cycle) for due, _, p, via, step, cycle, _ in pages)
    dry_pages = sorted(
        (e.at, e.person, e.via, e.step, e.repeat)
        for e in predicted.entries
        if e.kind == dryrun.PAGE
    )
    assert dry_pages == engine_pages
    assert [(e.at, e.step, e.repeat) for e in predicted.entries if e.kind == dryrun.NOBODY] == (
        nobody
    )
    assert [e.at for e in predicted.entries if e.kind == dryrun.EXHAUSTED] == exhausted
    assert predicted.backlog == (predicted.starts_at > at)
    assert engine_pages or nobody  # the case did something


def test_the_generated_cases_cover_what_they_should(
    session_factory: sessionmaker[Session],
) -> None:
    """The seeds above are not all alike: some wait for working hours, some skip a step that
    names nobody, some repeat, some have time off or overrides."""
    backlog = nobody = 0
    cases = [generated(seed) for seed in SEEDS]
    for doc, service, priority, at in cases:
        apply_doc(session_factory, doc)
        with session_factory() as s:
            run = dryrun.dry_run(s, service_id=service, at=at, priority=priority)
        backlog += run.backlog
        nobody += any(e.kind == dryrun.NOBODY for e in run.entries)
    assert backlog and nobody
    assert any("time_off" in doc for doc, *_ in cases)
    assert any("overrides" in doc for doc, *_ in cases)
    assert any(doc["escalation_policies"][0]["repeat"] > 0 for doc, *_ in cases)


def test_backlog_time_off_override_and_nobody_are_shown(
    session_factory: sessionmaker[Session],
) -> None:
    doc = example()
    doc["escalation_policies"][0]["steps"] = [
        {"notify": ["slot:catalog/frontend", "primary"], "wait": "5m"},
        {"notify": ["person:ghost-free"], "wait": "5m"},
        {"notify": ["L3"], "wait": "5m"},
    ]
    doc["people"].append({"id": "ghost-free", "name": "No Rules", "notification_rules": []})
    doc["escalation_policies"][0]["repeat"] = 0
    saturday_night = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)  # 21:30 IST Saturday
    doc["time_off"] = [
        {"person": "cto", "start": "2026-12-05T00:00:00Z", "end": "2026-12-09T00:00:00Z"}
    ]
    doc["overrides"] = [
        {
            "team": "checkout",
            "slot": "frontend",
            "person": "neha",
            "start": "2026-12-07T00:00:00Z",
            "end": "2026-12-07T12:00:00Z",
        }
    ]
    apply_doc(session_factory, doc)
    with session_factory() as s:
        p3 = dryrun.dry_run(s, service_id="storefront", at=saturday_night, priority="P3")
    # Saturday 21:30 IST is outside working hours: a P3 waits for Monday 09:00 IST.
    monday_nine = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
    assert p3.backlog and p3.starts_at == monday_nine
    first = p3.entries[0]
    assert (first.kind, first.at, first.step) == (dryrun.BACKLOG, monday_nine, None)
    pages = [e for e in p3.entries if e.kind == dryrun.PAGE and e.step == 1]
    assert {e.person for e in pages} == {"neha", "priya"}  # the override holds Monday morning
    assert all(e.at >= monday_nine for e in pages)
    neha = next(e for e in pages if e.person == "neha")
    assert neha.note == "override" and neha.offset_seconds == int(
        (monday_nine - saturday_night).total_seconds()
    )
    ghost = [e for e in p3.entries if e.person == "ghost-free"]
    assert [(e.kind, e.step) for e in ghost] == [(dryrun.UNREACHABLE, 2)]
    cto = [e for e in p3.entries if e.person == "cto"]
    assert cto and all("time off" in e.note for e in cto)
    assert p3.entries[-1].kind == dryrun.EXHAUSTED
    with session_factory() as s:
        p1 = dryrun.dry_run(s, service_id="storefront", at=saturday_night, priority="P1")
    assert not p1.backlog and p1.entries[0].at == saturday_night
    assert {e.person for e in p1.entries if e.step == 1} == {"asha", "priya"}


def test_api_cli_and_page_show_the_same_dry_run(
    client: TestClient,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    db_url: str,
) -> None:
    apply_doc(session_factory, example())
    make_login(session_factory, clock.now(), "guest", "viewer")
    with session_factory() as s, s.begin():
        viewer = auth_service.create_token(s, person_id=None, role="viewer", now=clock.now())
    auth = {"Authorization": f"Bearer {viewer}"}
    # Sunday 03:00 IST: a P3 for payments waits for Monday 09:00 IST, then ravi (backend).
    at = "2026-12-05T21:30:00Z"
    answer = client.get(
        "/api/v1/dryrun", params={"service": "payments", "priority": "P3", "at": at}, headers=auth
    )
    assert answer.status_code == 200, answer.text
    entries = answer.json()
    assert entries[0]["kind"] == "backlog"
    assert entries[0]["local_time"] == "2026-12-07T09:00+05:30"
    first = entries[1]
    assert (first["person"], first["via"], first["step"], first["repeat"]) == ("ravi", "sms", 1, 0)
    assert first["offset_seconds"] == 30 * 3600  # Saturday 21:30Z to Monday 03:30Z
    assert first["person_local_time"] == "2026-12-07T09:00+05:30"
    assert [e["person"] for e in entries if e["step"] == 2 and e["repeat"] == 0] == ["asha"] * 3
    assert entries[-1]["kind"] == "exhausted"
    # Now, P1 by default.
    now = client.get("/api/v1/dryrun", params={"service": "payments"}, headers=auth).json()
    assert now[0]["at"] == clock.now().isoformat() and now[0]["event"] == "incident.triggered"
    # Bad input: 404/422 with the field, 401 without a token.
    missing = client.get("/api/v1/dryrun", params={"service": "nope"}, headers=auth)
    assert (missing.status_code, missing.json()["field"]) == (404, "service")
    wrong = client.get(
        "/api/v1/dryrun", params={"service": "payments", "priority": "P9"}, headers=auth
    )
    assert (wrong.status_code, wrong.json()["field"]) == (422, "priority")
    assert client.get("/api/v1/dryrun", params={"service": "payments"}).status_code == 401

    printed = run(
        db_url, "dryrun", "--service", "payments", "--priority", "P3", "--at", at, "--json"
    )
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == entries
    table = run(db_url, "dryrun", "--service", "payments", "--priority", "p3", "--at", at)
    assert "Mon 2026-12-07 09:00 IST" in table.stdout and "ravi" in table.stdout
    bad = run(db_url, "dryrun", "--service", "payments", "--priority", "P7")
    assert (bad.returncode, bad.stderr.strip()) == (
        1,
        "error: --priority: 'P7' is not one of P1, P2, P3, P4",
    )
    early = run(db_url, "dryrun", "--service", "payments", "--at", "0001-01-01T00:00")
    assert early.returncode == 1 and "Traceback" not in early.stderr
    gone = run(db_url, "dryrun", "--service", "nope")
    assert (gone.returncode, gone.stderr.strip()) == (1, "error: no service with id 'nope'")

    sign_in(client, "guest")
    page = client.get(
        "/dryrun", params={"service": "payments", "priority": "P3", "at": "2026-12-06T03:00"}
    )
    assert page.status_code == 200
    assert "Outside working hours" in page.text and "Mon 07 Dec 09:00" in page.text
    assert '<a href="/people/ravi">ravi</a>' in page.text
    empty = client.get("/dryrun")
    assert empty.status_code == 200 and "<table" not in empty.text
    junk = client.get("/dryrun", params={"service": "payments", "at": "yesterday"})
    assert junk.status_code == 422 and "is not a date and time" in junk.text
    early = client.get("/dryrun", params={"service": "payments", "at": "0001-01-01T00:00"})
    assert early.status_code == 422 and "out of range" in early.text


def test_policy_lint_paging_reports_where_a_p1_reaches_nobody(tmp_path: Path) -> None:
    """`onduty policy lint FILE --paging` runs on the system clock: windows are set from now."""
    doc = example()
    doc["escalation_policies"].append(
        {
            "id": "lonely",
            "name": "Primary only",
            "repeat": 0,
            "steps": [{"notify": ["primary"], "wait": "10m"}],
        }
    )
    doc["services"][0]["escalation_policy"] = "lonely"  # storefront
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    away = {"start": start.isoformat(), "end": (start + timedelta(hours=3)).isoformat()}
    doc["time_off"] = [{"person": "asha", **away}, {"person": "neha", **away}]
    path = write_policy(doc, tmp_path / "policy.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
    every_channel = env | {
        "ONDUTY_SLACK_BOT_TOKEN": "xoxb-test",
        "ONDUTY_TWILIO_ACCOUNT_SID": "AC1",
        "ONDUTY_TWILIO_AUTH_TOKEN": "t",
        "ONDUTY_TWILIO_FROM_NUMBER": "+15005550006",
    }
    checked = subprocess.run(
        [ONDUTY, "policy", "lint", str(path), "--paging", "--json"],
        capture_output=True,
        text=True,
        env=every_channel,
        timeout=300,
        check=False,
    )
    assert checked.returncode == 1, checked.stderr
    paging = [p["message"] for p in json.loads(checked.stdout) if "paging:" in p["message"]]
    zone = "Asia/Kolkata"
    first = localtime.stamp(start, zone)
    last = localtime.stamp(start + timedelta(hours=2), zone)
    assert paging == [
        f"{path}: paging: storefront: every hour from {first} to {last}, a P1 reaches nobody "
        "within 5m"
    ]
    # Without Slack and Twilio, Ravi's SMS and calls cannot go: payments is reported too.
    plain = subprocess.run(
        [ONDUTY, "policy", "lint", str(path), "--paging"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert plain.returncode == 1
    assert "paging: payments:" in plain.stderr and "no such channel is configured" in plain.stderr
    assert "Traceback" not in plain.stderr
