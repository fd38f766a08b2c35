"""Incident pages without a browser: the live dashboard partial, the incident page and its
actions, roles, priority changes, the backlog, people and test notifications."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.scenario import TYPES, alertmanager
from tests.ui_helpers import csrf, make_login, sign_in

from onduty import models as m
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.engine import Engine
from onduty.notify import FakeChannel


@pytest.fixture
def demo(session_factory: sessionmaker[Session], clock: FakeClock) -> sessionmaker[Session]:
    apply_doc(session_factory, example())
    make_login(session_factory, clock.now(), "boss", "admin")
    make_login(session_factory, clock.now(), "asha", "responder", person="asha")
    make_login(session_factory, clock.now(), "guest", "viewer")
    return session_factory


def key(session_factory: sessionmaker[Session], service: str = "storefront") -> str:
    with session_factory() as s:
        return s.scalars(
            select(m.Integration.key).where(
                m.Integration.service_id == service, m.Integration.name == "prod-alerts"
            )
        ).one()


def fire(client: TestClient, demo: sessionmaker[Session], name: str, **kw: str) -> int:
    answer = client.post(f"/integrations/{key(demo)}", content=alertmanager(name, **kw))
    assert answer.status_code == 202, answer.text
    with demo() as s:
        return s.scalars(
            select(m.Incident.id).where(m.Incident.title.contains(name)).order_by(m.Incident.id)
        ).one()


@pytest.mark.parametrize("path", ["/incidents", "/incidents/1", "/backlog", "/people"])
def test_pages_need_a_login(client: TestClient, demo: sessionmaker[Session], path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/login?next={path}"


def test_partial_lists_a_new_incident_without_reloading_the_page(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    sign_in(client, "guest")
    dashboard = client.get("/")
    assert 'hx-get="/partials/open-incidents"' in dashboard.text
    assert 'hx-trigger="every 3s"' in dashboard.text and "All quiet" in dashboard.text
    assert 'href="/incidents"' in dashboard.text and 'href="/people"' in dashboard.text
    incident_id = fire(client, demo, "CheckoutDown")
    fire(client, demo, "SlowImages", severity="warning")
    partial = client.get("/partials/open-incidents")
    assert partial.status_code == 200 and "<html" not in partial.text
    assert f'href="/incidents/{incident_id}"' in partial.text
    assert "#1 CheckoutDown is failing" in partial.text and "Storefront" in partial.text
    # Grouped by priority: the critical one (P1) before the warning (P4).
    assert partial.text.index("P1 · 1 open") < partial.text.index("P4 · 1 open")
    assert partial.text.index("CheckoutDown") < partial.text.index("SlowImages")
    assert ">triggered<" in partial.text


def test_partial_signed_out_stops_polling(client: TestClient, demo: sessionmaker[Session]) -> None:
    answer = client.get("/partials/open-incidents")
    assert answer.status_code == 286 and "sign in" in answer.text


def test_acknowledge_from_the_page_changes_the_timeline_and_is_audited(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    incident_id = fire(client, demo, "CheckoutDown")
    sign_in(client, "asha")
    page = client.get(f"/incidents/{incident_id}")
    assert page.status_code == 200
    assert f'action="/incidents/{incident_id}/acknowledge"' in page.text
    assert f'action="/incidents/{incident_id}/reopen"' not in page.text
    assert "CheckoutDown is failing" in page.text  # the alert
    done = client.post(
        f"/incidents/{incident_id}/acknowledge",
        data={"csrf_token": csrf(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/incidents/{incident_id}"
    after = client.get(f"/incidents/{incident_id}")
    assert "<td>acknowledged</td><td>asha</td><td>web</td>" in after.text
    assert 'id="status">acknowledged<' in after.text
    assert f'action="/incidents/{incident_id}/acknowledge"' not in after.text
    again = client.post(
        f"/incidents/{incident_id}/acknowledge", data={"csrf_token": csrf(after.text)}
    )
    assert again.status_code == 409 and "already acknowledged by asha" in again.text
    resolved = client.post(
        f"/incidents/{incident_id}/resolve",
        data={"csrf_token": csrf(after.text)},
        follow_redirects=False,
    )
    assert resolved.status_code == 303
    assert (
        f'action="/incidents/{incident_id}/reopen"' in client.get(f"/incidents/{incident_id}").text
    )
    sign_in(client, "boss")
    audit = client.get("/audit").text
    assert "incident.acknowledge" in audit and "incident.resolve" in audit
    assert "incident.acknowledge" in audit.split("incident.resolve")[1]  # newest first


def test_forms_need_the_csrf_token(client: TestClient, demo: sessionmaker[Session]) -> None:
    incident_id = fire(client, demo, "CheckoutDown")
    sign_in(client, "asha")
    answer = client.post(f"/incidents/{incident_id}/acknowledge")
    assert answer.status_code == 403 and "did not come from this site" in answer.text


def test_viewer_sees_no_forms_and_may_not_post(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    incident_id = fire(client, demo, "CheckoutDown")
    sign_in(client, "guest")
    page = client.get(f"/incidents/{incident_id}")
    assert page.status_code == 200 and "CheckoutDown" in page.text
    assert (
        f'action="/incidents/{incident_id}/' not in page.text and "Change priority" not in page.text
    )
    for action in ("acknowledge", "resolve", "escalate", "priority", "reassign"):
        answer = client.post(
            f"/incidents/{incident_id}/{action}",
            data={"csrf_token": csrf(page.text), "priority": "P3", "assignee": "ravi"},
        )
        assert answer.status_code == 403, action
    assert "triggered" in client.get(f"/incidents/{incident_id}").text


def test_priority_change_records_who_and_keeps_the_rules_answer(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    incident_id = fire(client, demo, "CheckoutDown")
    sign_in(client, "asha")
    page = client.get(f"/incidents/{incident_id}")
    assert "from the criticality rules (rule #1)" in page.text
    changed = client.post(
        f"/incidents/{incident_id}/priority",
        data={"csrf_token": csrf(page.text), "priority": "P2"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    after = client.get(f"/incidents/{incident_id}").text
    assert "set by <strong>asha</strong>" in after and "the rules said P1" in after
    assert "<td>updated</td><td>asha</td><td>web</td><td>priority: P1 → P2</td>" in after
    bad = client.post(
        f"/incidents/{incident_id}/priority", data={"csrf_token": csrf(after), "priority": "P9"}
    )
    assert bad.status_code == 422 and "priority must be P1, P2, P3 or P4" in bad.text
    moved = client.post(
        f"/incidents/{incident_id}/reassign",
        data={"csrf_token": csrf(after), "assignee": "ravi"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert 'href="/people/ravi">ravi</a>' in client.get(f"/incidents/{incident_id}").text
    nobody = client.post(
        f"/incidents/{incident_id}/reassign", data={"csrf_token": csrf(after), "assignee": "zed"}
    )
    assert nobody.status_code == 404 and "no person with id" in nobody.text
    with demo() as s:
        incident = s.get(m.Incident, incident_id)
        assert incident is not None
        assert (incident.priority, incident.rule_priority, incident.priority_set_by) == (
            "P2",
            "P1",
            "asha",
        )
        actions = [e.action for e in s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id))]
        assert actions[-2:] == ["incident.priority", "incident.reassign"]
    listed = client.get("/incidents?priority=P2&status=triggered&team=checkout").text
    assert "CheckoutDown" in listed
    assert "CheckoutDown" not in client.get("/incidents?priority=P1").text
    assert "No incidents match" in client.get("/incidents?service=search").text


def test_backlog_shows_when_paging_starts_in_the_team_zone(
    client: TestClient, demo: sessionmaker[Session], clock: FakeClock
) -> None:
    clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))  # Monday 21:30 in Asia/Kolkata
    incident_id = fire(client, demo, "SlowImages", severity="warning")  # P4
    fire(client, demo, "CheckoutDown")  # P1 pages at once, not in the backlog
    sign_in(client, "guest")
    page = client.get("/backlog")
    assert page.status_code == 200
    assert f'href="/incidents/{incident_id}"' in page.text and "CheckoutDown" not in page.text
    assert "Tue 01 Dec 09:00 <small>Asia/Kolkata</small>" in page.text
    assert "1 waiting" in page.text
    assert "The backlog is empty" in client.get("/backlog?team=catalog").text
    assert "SlowImages" in client.get("/backlog?team=checkout").text
    assert "backlog: pages Tue 01 Dec 09:00" in client.get(f"/incidents/{incident_id}").text


def test_people_pages(client: TestClient, demo: sessionmaker[Session]) -> None:
    sign_in(client, "guest")
    people = client.get("/people").text
    assert 'href="/people/asha">Asha Rao</a>' in people and "Checkout" in people
    asha = client.get("/people/asha").text
    assert "asha@acme.example" in asha and "at once" in asha and "after 3 min" in asha
    assert "Checkout" in asha
    assert "test notification</button>" not in asha  # a viewer, and not asha
    assert client.get("/people/nobody").status_code == 404
    meera = client.get("/people/meera").text
    assert "Checkout L1" in meera


def test_test_notification_is_queued_and_delivered(
    client: TestClient,
    demo: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
) -> None:
    sign_in(client, "asha")
    page = client.get("/people/asha")
    assert "Send me a test notification" in page.text
    sent = client.post(
        "/people/asha/test", data={"csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert sent.status_code == 303
    with demo() as s:
        rows = s.scalars(select(m.OutboxMessage).where(m.OutboxMessage.event == "test")).all()
        methods = s.scalars(
            select(m.ContactMethod).where(m.ContactMethod.person_id == "asha")
        ).all()
        assert len(rows) == len(methods) >= 4
        assert {r.contact_method_id for r in rows} == {c.id for c in methods}
        assert all(
            r.status == "pending"
            and r.person_id == "asha"
            and r.text == "Test notification from onduty"
            and r.due_at == clock.now()
            and r.rule_key.startswith("test:asha:")
            for r in rows
        )
    queued = client.get(sent.headers["location"]).text
    assert f"sent to the queue for {len(rows)} contact methods" in queued
    assert '<span class="delivery delivery-pending">pending</span>' in queued
    fakes = {t: FakeChannel(t) for t in TYPES}
    Engine(settings, demo, clock, fakes, holder="test").tick()
    got = {
        (t, x.message.recipient)
        for t, f in fakes.items()
        for x in f.take()
        if x.message.event == "test"
    }
    assert got == {(c.type, "asha") for c in methods}
    after = client.get("/people/asha").text
    assert '<span class="delivery delivery-sent">sent</span>' in after
    assert "delivery-pending" not in after
    # Someone else may not; a manager may.
    sign_in(client, "guest")
    guest = client.get("/people/asha").text
    assert client.post("/people/asha/test", data={"csrf_token": csrf(guest)}).status_code == 403
    sign_in(client, "boss")
    boss = client.get("/people/ravi").text
    assert "Send Ravi Kumar a test notification" in boss
    made = client.post("/people/ravi/test", data={"csrf_token": csrf(boss)}, follow_redirects=False)
    assert made.status_code == 303
    with demo() as s:
        actors = s.scalars(
            select(m.AuditEvent.actor).where(m.AuditEvent.action == "person.test_notification")
        ).all()
        assert actors == ["asha", "login:boss"]
