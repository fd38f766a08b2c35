"""The right runbook at once, and whether it was enough: an incident's runbooks (matched by
service and alert labels, most specific first) on its page, in every notification, in the API;
verdicts at resolution opening runbook tasks, closed by a new version or by a link, recording
stage `runbook_updated`; and each runbook's effectiveness, weakest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from onduty.engine import deliver
from onduty.runbooks import service as runbooks_service

FOLDER = EXAMPLE.parent / "runbooks"


def apply_runbooks(world: World, folder: Path = FOLDER) -> list[str]:
    with world.session_factory() as s, s.begin():
        return runbooks_service.apply_folder(s, folder, actor="cli", now=world.clock.now()).lines


@pytest.fixture
def world(
    client: TestClient,
    clock: FakeClock,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> World:
    w = World(client, clock, session_factory, settings).setup(sms_only(example()))
    apply_runbooks(w)
    return w


def test_an_incident_gets_its_runbooks_most_specific_first_everywhere(world: World) -> None:
    world.alert("CheckoutDown")
    incident = world.incident_id("CheckoutDown")
    listed = world.client.get(f"/api/v1/runbooks?incident={incident}", headers=world.auth)
    assert [r["id"] for r in listed.json()] == ["checkout-down", "storefront"]
    # The primary (Asha, frontend) was paged; the message built for her carries the first
    # runbook (rendered per channel in tests/unit/test_notify_render.py).
    sms_log = [entry for entry in world.log if entry[1] == "sms"]
    assert sms_log == [(0, "sms", "asha", "incident.triggered")]
    with world.session_factory() as s:
        row = s.scalars(
            select(m.OutboxMessage).where(m.OutboxMessage.incident_id == incident)
        ).one()
        person = s.get(m.Person, "asha")
        message = deliver._message(s, row, person, world.settings, world.clock.now())
    assert message.incident is not None
    assert message.incident.runbook_url == "http://onduty.test/runbooks/checkout-down"
    assert message.incident.runbook_short_url == f"http://onduty.test/rb/{incident}"
    assert message.incident.runbook_title == "Checkout is down"

    make_login(world.session_factory, world.clock.now(), "asha", "responder", person="asha")
    sign_in(world.client, "asha")
    page = world.client.get(f"/incidents/{incident}").text
    assert page.index("Checkout is down") < page.index("Storefront</a>")
    assert 'class="diagram diagram-mermaid"' in page
    assert 'href="/runbooks/payments"' in page  # a link to another runbook of the folder
    short = world.client.get(f"/rb/{incident}", follow_redirects=False)
    assert short.status_code == 303 and short.headers["location"] == "/runbooks/checkout-down"

    # An alert without the label gets only the service's general runbook.
    world.alert("DiskFull")
    other = world.incident_id("DiskFull")
    listed = world.client.get(f"/api/v1/runbooks?incident={other}", headers=world.auth)
    assert [r["id"] for r in listed.json()] == ["storefront"]


def test_verdicts_open_tasks_that_a_new_version_closes(world: World, tmp_path: Path) -> None:
    world.alert("CheckoutDown")
    incident = world.incident_id("CheckoutDown")
    world.clock.advance(timedelta(minutes=20))
    world.act("CheckoutDown", "resolve")
    url = f"/api/v1/incidents/{incident}/runbook-feedback"
    refused = world.client.post(
        url, json={"runbook": "checkout-down", "verdict": "partly"}, headers=world.auth
    )
    assert refused.status_code == 422 and refused.json()["field"] == "missing"
    unknown = world.client.post(
        url, json={"runbook": "nope", "verdict": "enough"}, headers=world.auth
    )
    assert unknown.status_code == 404
    given = world.client.post(
        url,
        json={"runbook": "checkout-down", "verdict": "partly", "missing": "How to flip the flag"},
        headers=world.auth,
    )
    assert given.status_code == 201, given.text
    task_id = given.json()["task"]
    [task] = world.client.get("/api/v1/runbook-tasks?status=open", headers=world.auth).json()
    assert task["id"] == task_id and task["owner"] == "asha"  # the runbook's owner
    # Monday 11:20 in Kolkata + 5 working days (Mon-Sat) = Saturday 11:20.
    assert task["due_at"] == "2026-12-05T05:50:00Z"
    detail = world.client.get("/api/v1/runbooks/checkout-down", headers=world.auth).json()
    assert detail["verdicts"] == {"enough": 0, "partly": 1, "not_enough": 0}
    assert detail["median_resolve_not_enough_s"] == 20 * 60 and detail["open_tasks"] == 1
    assert detail["incidents"] == 1 and "## Steps" in detail["text"]
    ranked = world.client.get("/api/v1/runbooks", headers=world.auth).json()
    assert ranked[0]["id"] == "checkout-down"  # the weakest first

    # A new version of the runbook closes the task and records the stage.
    folder = tmp_path / "runbooks"
    folder.mkdir()
    for f in FOLDER.glob("*.md"):
        (folder / f.name).write_text(f.read_text())
    (folder / "checkout-down.md").write_text(
        (FOLDER / "checkout-down.md")
        .read_text()
        .replace("## Steps\n", "## Steps\n\n0. Flip `checkout.fallback` in the flags UI.\n")
    )
    world.clock.advance(timedelta(hours=2))
    assert apply_runbooks(world, folder) == ["changed runbook checkout-down (version 2)"]
    [task] = world.client.get("/api/v1/runbook-tasks", headers=world.auth).json()
    assert (task["status"], task["closed_by_version"]) == ("done", 2)
    shown = world.client.get(f"/api/v1/incidents/{incident}", headers=world.auth).json()
    assert shown["stage"] == "runbook_updated"
    assert shown["stages"]["runbook_updated"] == world.clock.now().isoformat()
    assert [(r["id"], r["verdict"]) for r in shown["runbooks"]] == [
        ("checkout-down", "partly"),
        ("storefront", None),
    ]
    assert shown["postmortem"] == "draft"  # a P1, resolved through the API
    assert [e["kind"] for e in shown["timeline"]][-2:] == ["runbook.feedback", "runbook.updated"]


def test_resolving_in_the_page_asks_and_a_task_closes_with_a_link(world: World) -> None:
    world.alert("CheckoutDown")
    incident = world.incident_id("CheckoutDown")
    make_login(world.session_factory, world.clock.now(), "ravi", "responder", person="ravi")
    sign_in(world.client, "ravi")
    page = world.client.get(f"/incidents/{incident}").text
    assert "was the runbook" in page and 'name="verdict"' in page
    done = world.client.post(
        f"/incidents/{incident}/resolve",
        data={
            "csrf_token": csrf(page),
            "runbook": "checkout-down",
            "verdict": "not_enough",
            "missing": "",
        },
        follow_redirects=False,
    )
    assert done.status_code == 422 and "say what was missing" in done.text
    with world.session_factory() as s:
        assert s.get(m.Incident, incident).status != "resolved"  # nothing half-done
    done = world.client.post(
        f"/incidents/{incident}/resolve",
        data={
            "csrf_token": csrf(page),
            "runbook": "checkout-down",
            "verdict": "not_enough",
            "missing": "<script>alert(1)</script> the fallback flag name",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = world.client.get(f"/incidents/{incident}").text
    assert "judged <strong>not enough</strong> by ravi" in page
    assert "<script>alert(1)" not in page
    runbooks_page = world.client.get("/runbooks").text
    assert "1 not enough" in runbooks_page and "the fallback flag name" in runbooks_page
    with world.session_factory() as s:
        task = s.scalars(select(m.RunbookTask)).one()
    bad = world.client.post(
        f"/runbook-tasks/{task.id}/close",
        data={"csrf_token": csrf(runbooks_page), "link": "javascript:alert(1)"},
    )
    assert bad.status_code == 422
    closed = world.client.post(
        f"/runbook-tasks/{task.id}/close",
        data={"csrf_token": csrf(runbooks_page), "link": "https://git.example/runbooks/pull/7"},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    shown = world.client.get(f"/api/v1/incidents/{incident}", headers=world.auth).json()
    assert shown["stage"] == "runbook_updated"
    page = world.client.get("/runbooks/checkout-down").text
    assert "Checkout is down" in page and 'href="https://git.example/runbooks/pull/7"' in page
    assert "not enough" in page and "version 1:" in page
    assert world.client.get("/runbooks/nope").status_code == 404
    again = world.client.post(
        f"/api/v1/runbook-tasks/{task.id}/close",
        json={"link": "https://git.example/x"},
        headers=world.auth,
    )
    assert again.status_code == 409


def test_a_runbook_without_feedback_counts_its_matches(world: World) -> None:
    world.alert("CheckoutDown")
    world.alert("Slow", service="storefront")
    with world.session_factory() as s:
        found = {e.runbook.id: e for e in runbooks_service.effectiveness(s, now=world.clock.now())}
    assert (found["storefront"].incidents, found["checkout-down"].incidents) == (2, 1)
    assert found["payments"].incidents == 0
    assert found["storefront"].last_change_age_s == 0
    assert datetime(2026, 1, 1, tzinfo=UTC) < found["storefront"].runbook.changed_at
