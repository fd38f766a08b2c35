"""Postmortems that get done: a draft at resolution for priorities that require one (owner the
primary, due in working days, timeline pre-filled), saves guarded by a version (a stale save is
a 409 and overwrites nothing), draft -> in review -> published (read-only, stage `postmortem`,
Markdown export), editing with preview in the UI, and reminders of overdue postmortems and
runbook tasks once a working day, as notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.policy_cases import EXAMPLE, example
from tests.scenario import World, sms_only
from tests.ui_helpers import csrf, make_login, sign_in

from onduty import models as m
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.notify import outbox
from onduty.runbooks import service as runbooks_service


@pytest.fixture
def world(
    client: TestClient,
    clock: FakeClock,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> World:
    return World(client, clock, session_factory, settings).setup(sms_only(example()))


def resolved_p1(world: World, name: str = "CheckoutDown") -> int:
    world.alert(name)  # critical: P1
    world.clock.advance(timedelta(minutes=2))
    world.act(name, "acknowledge")
    world.clock.advance(timedelta(minutes=30))
    world.act(name, "resolve")
    return world.incident_id(name)


def test_a_draft_at_resolution_with_owner_due_date_and_timeline(world: World) -> None:
    incident = resolved_p1(world)
    pm = world.client.get(f"/api/v1/incidents/{incident}/postmortem", headers=world.auth)
    assert pm.status_code == 200, pm.text
    doc = pm.json()
    assert (doc["status"], doc["version"], doc["owner"]) == ("draft", 1, "asha")
    # Resolved Monday 11:32 in Kolkata; 5 working days (Mon-Sat) later is Saturday 11:32.
    assert doc["due_at"] == "2026-12-05T06:02:00Z"
    texts = [e["text"] for e in doc["timeline"]]
    assert texts[0] == "alert fired: CheckoutDown is failing"
    assert any(t.startswith("acknowledged by asha (api)") for t in texts)
    assert any(t.startswith("resolved by asha (api)") for t in texts)
    assert [e["at"] for e in doc["timeline"]] == sorted(e["at"] for e in doc["timeline"])
    assert set(doc["answers"]) >= {"summary", "impact", "root_cause", "five_whys", "lucky"}

    # A warning is P4, which needs no postmortem.
    world.alert("Cache", severity="warning")
    world.act("Cache", "resolve")
    none = world.client.get(
        f"/api/v1/incidents/{world.incident_id('Cache')}/postmortem", headers=world.auth
    )
    assert none.status_code == 404 and none.json()["field"] == "postmortem"


def test_a_stale_save_is_refused_and_publishing_makes_it_read_only(world: World) -> None:
    incident = resolved_p1(world)
    url = f"/api/v1/incidents/{incident}/postmortem"
    first = world.client.put(
        url,
        json={"version": 1, "answers": {"summary": "Checkout failed for 30 minutes"}},
        headers=world.auth,
    )
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = world.client.put(
        url, json={"version": 1, "answers": {"summary": "Overwrite!"}}, headers=world.auth
    )
    assert stale.status_code == 409 and stale.json()["field"] == "version"
    assert world.client.get(url, headers=world.auth).json()["answers"]["summary"] == (
        "Checkout failed for 30 minutes"
    )
    early = world.client.post(f"{url}/publish", headers=world.auth)
    assert early.status_code == 409 and "submit it for review" in early.json()["error"]
    review = world.client.put(
        url,
        json={
            "version": 2,
            "status": "in_review",
            "answers": {"root_cause": "A config push", "five_whys": ["Why 1", "Why 2"]},
            "actions": [{"title": "Canary config pushes"}],
        },
        headers=world.auth,
    )
    assert review.status_code == 200, review.text
    unowned = world.client.post(f"{url}/publish", headers=world.auth)
    assert unowned.status_code == 422 and unowned.json()["field"] == "actions[0]"
    action_id = review.json()["actions"][0]["id"]
    owned = world.client.put(
        url,
        json={
            "version": 3,
            "actions": [
                {
                    "id": action_id,
                    "title": "Canary config pushes",
                    "owner": "ravi",
                    "due_date": "2026-12-15",
                }
            ],
        },
        headers=world.auth,
    )
    assert owned.status_code == 200 and owned.json()["actions"][0]["id"] == action_id
    published = world.client.post(f"{url}/publish", headers=world.auth)
    assert published.status_code == 200 and published.json()["status"] == "published"
    shown = world.client.get(f"/api/v1/incidents/{incident}", headers=world.auth).json()
    assert shown["stage"] == "postmortem" and "postmortem" in shown["stages"]
    frozen = world.client.put(
        url, json={"version": 5, "answers": {"summary": "later"}}, headers=world.auth
    )
    assert frozen.status_code == 409 and "read-only" in frozen.json()["error"]
    md = world.client.get(f"{url}/markdown", headers=world.auth)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "## Root cause\n\nA config push" in md.text
    assert "1. Why 1\n2. Why 2" in md.text
    assert "| Canary config pushes | ravi | 2026-12-15 | open |  |" in md.text
    with world.session_factory() as s:
        action = s.get(m.PostmortemAction, action_id)
        assert action is not None and action.jira_key is None  # for the Jira integration


def test_the_engine_opens_drafts_for_incidents_resolved_by_monitoring(world: World) -> None:
    world.alert("PaymentsDown")
    world.clock.advance(timedelta(minutes=5))
    world.alert("PaymentsDown", status="resolved")  # auto-resolved by Alertmanager; a tick ran
    incident = world.incident_id("PaymentsDown")
    doc = world.client.get(f"/api/v1/incidents/{incident}/postmortem", headers=world.auth)
    assert doc.status_code == 200 and doc.json()["status"] == "draft"


def test_editing_in_the_page_with_preview_and_conflicts(world: World) -> None:
    incident = resolved_p1(world)
    make_login(world.session_factory, world.clock.now(), "asha", "responder", person="asha")
    sign_in(world.client, "asha")
    page = world.client.get(f"/incidents/{incident}").text
    assert f'href="/incidents/{incident}/postmortem">draft</a>' in page
    page = world.client.get(f"/incidents/{incident}/postmortem").text
    form = {
        "csrf_token": csrf(page),
        "version": "1",
        "summary": "**Orders** lost <script>alert(1)</script>",
        "root_cause": "[x](javascript:alert(1))",
        "why_1": "Nobody canaried",
        "timeline": "2026-11-30 05:00:00 — alert fired\n2026-11-30 05:32:00 — resolved",
        "action_id": ["", ""],
        "action_title": ["Add a canary", ""],
        "action_owner": ["ravi", ""],
        "action_due": ["2026-12-10", ""],
        "action_status": ["open", "open"],
        "status": "draft",
    }
    preview = world.client.post(f"/incidents/{incident}/postmortem/preview", data=form)
    assert preview.status_code == 200
    assert "<strong>Orders</strong> lost" in preview.text and "<script>alert" not in preview.text
    assert 'href="javascript' not in preview.text
    with world.session_factory() as s:
        assert s.scalars(select(m.Postmortem.version)).one() == 1  # a preview saves nothing
    saved = world.client.post(
        f"/incidents/{incident}/postmortem", data=form, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    again = world.client.post(f"/incidents/{incident}/postmortem", data={**form, "summary": "Mine"})
    assert again.status_code == 409 and "reload it" in again.text
    assert "Mine" in again.text  # the editor's text is kept on the page
    doc = world.client.get(f"/api/v1/incidents/{incident}/postmortem", headers=world.auth).json()
    assert doc["answers"]["summary"].startswith("**Orders** lost")
    assert doc["timeline"][1] == {"at": "2026-11-30 05:32:00", "text": "resolved"}
    assert [(a["title"], a["owner"], a["due_date"]) for a in doc["actions"]] == [
        ("Add a canary", "ravi", "2026-12-10")
    ]
    export = world.client.get(f"/incidents/{incident}/postmortem.md")
    assert export.status_code == 200 and "# Postmortem: #" in export.text


def test_overdue_work_reminds_its_owner_once_a_working_day(world: World) -> None:
    incident = resolved_p1(world)
    with world.session_factory() as s, s.begin():
        runbooks_service.apply_folder(
            s, EXAMPLE.parent / "runbooks", actor="cli", now=world.clock.now()
        )
    given = world.client.post(
        f"/api/v1/incidents/{incident}/runbook-feedback",
        json={"runbook": "payments", "verdict": "not_enough", "missing": "gateway switch"},
        headers=world.auth,
    )
    assert given.status_code == 201
    world.log.clear()
    assert world.engine is not None

    def reminders() -> list[tuple[str, str]]:
        world.tick()  # the periodic jobs queue them, after this tick's deliveries
        world.tick()
        with world.session_factory() as s:
            rows = s.scalars(
                select(m.OutboxMessage).where(m.OutboxMessage.event == "reminder")
            ).all()
            assert all(r.priority == outbox.NOTICE for r in rows)
        found = [(kind, who) for _t, kind, who, event in world.log if event == "reminder"]
        world.log.clear()
        return found

    assert reminders() == []  # nothing is overdue yet
    # Saturday 12:00 in Kolkata: both are past due (Saturday 11:32 and 11:02).
    world.clock.set(datetime(2026, 12, 5, 6, 30, tzinfo=UTC))
    assert sorted(reminders()) == [("email", "asha"), ("email", "ravi")]
    world.clock.advance(timedelta(hours=3))
    assert reminders() == []  # once a working day
    world.clock.advance(timedelta(days=1))  # Sunday: not a working day at Acme
    assert reminders() == []
    world.clock.advance(timedelta(days=1))  # Monday 15:00
    assert sorted(reminders()) == [("email", "asha"), ("email", "ravi")]
