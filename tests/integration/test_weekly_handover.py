"""The weekly handover: generated once at the handoff (rota arithmetic, exact across DST),
outgoing and incoming per slot, open incidents passed on (one assigned to an outgoing person
reassigned to the incoming one of its discipline), what is unresolved and why, the week's
metrics, agenda items, the meeting time from the policy; notices to outgoing, incoming and L1;
the incoming acknowledge (others may not, twice is a conflict); reminders after 2 h and L1
after 4 h; `onduty handover show`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_cli import run
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.scenario import World, sms_only

from onduty import models as m
from onduty.auth import service as auth_service
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.handover import service as handover_service
from onduty.incidents import ingest

NEXT_HANDOFF = datetime(2026, 12, 7, 4, 30, tzinfo=UTC)  # Mon 10:00 IST


@pytest.fixture
def world(
    client: TestClient, clock: FakeClock, session_factory: sessionmaker[Session], settings: Settings
) -> World:
    return World(client, clock, session_factory, settings)


def token(world: World, person: str | None, role: str = "responder") -> dict[str, str]:
    with world.session_factory() as s, s.begin():
        value = auth_service.create_token(s, person_id=person, role=role, now=world.clock.now())
    return {"Authorization": f"Bearer {value}"}


def notices(world: World) -> list[str]:
    return sorted(p for _t, _k, p, e in world.log if e == "oncall.handover")


def test_weekly_handover(world: World, db_url: str) -> None:
    doc = sms_only(example())
    doc["handover"] = {"day": "mon", "time": "10:30"}
    world.setup(doc)
    with world.session_factory() as s, s.begin():
        for title, service in (("Refunds fail", "payments"), ("Prices show NaN", "storefront")):
            ingest.report(
                s,
                service_id=service,
                title=title,
                channel="qa",
                actor="qa",
                now=world.clock.now(),
                fields={},
            )
    ids = {
        r["title"]: r["id"]
        for r in world.client.get("/api/v1/incidents", headers=world.auth).json()
    }
    patched = world.client.patch(
        f"/api/v1/incidents/{ids['Refunds fail']}", json={"assignee": "ravi"}, headers=world.auth
    )
    assert patched.status_code == 200, patched.text
    for incident_id in ids.values():  # taken in charge: no escalation in the way of the notices
        acked = world.client.post(
            f"/api/v1/incidents/{incident_id}/acknowledge", headers=world.auth
        )
        assert acked.status_code == 200, acked.text
    posted = world.client.post(
        "/api/v1/status-incidents",
        json={
            "name": "Refunds are failing",
            "components": {"payments": "partial_outage"},
            "incident": ids["Refunds fail"],
        },
        headers=world.auth,
    )
    assert posted.status_code == 201, posted.text  # its owner: ravi, who holds the incident
    handed = world.client.post(
        f"/api/v1/incidents/{ids['Prices show NaN']}/handover",
        json={"developer": "sana", "actual": "NaN", "ideal": "prices", "tried": "cache purge"},
        headers=world.auth,
    )
    assert handed.status_code == 200, handed.text
    added = world.client.post(
        "/api/v1/handovers/agenda",
        json={"team": "checkout", "text": "Flaky payment webhook alert"},
        headers=world.auth,
    )
    assert added.status_code == 201, added.text
    world.clock.set(NEXT_HANDOFF - timedelta(minutes=1))
    world.tick()
    assert world.client.get("/api/v1/handovers", headers=world.auth).json() == []
    world.clock.set(NEXT_HANDOFF)
    for _ in range(3):  # generated, then delivered (at most 12 notices a claim)
        world.tick()
    [h] = world.client.get("/api/v1/handovers?team=checkout", headers=world.auth).json()
    assert h["at"] == "2026-12-07T04:30:00+00:00"
    assert h["period_start"] == "2026-11-30T04:30:00+00:00"
    assert h["slots"] == [
        {"slot": "frontend", "outgoing": "asha", "incoming": "neha"},
        {"slot": "backend", "outgoing": "ravi", "incoming": "arjun"},
    ]
    passed = {i["title"]: i for i in h["open_incidents"]}
    assert (passed["Refunds fail"]["assigned_from"], passed["Refunds fail"]["assigned_to"]) == (
        "ravi",
        "arjun",
    )
    with world.session_factory() as s:
        assert s.get(m.Incident, ids["Refunds fail"]).assignee_id == "arjun"
    assert {u["title"]: u["why"] for u in h["unresolved"]}["Refunds fail"] == (
        "acknowledged by asha, not resolved yet (stage acknowledged)"
    )
    [status] = h["status_incidents"]
    assert (status["name"], status["owner_from"], status["owner_to"]) == (
        "Refunds are failing",
        "ravi",
        "arjun",
    )
    assert [(d["title"], d["developer"]) for d in h["with_developers"]] == [
        ("Prices show NaN", "sana")
    ]
    assert h["runbook_tasks"] == [] and h["overdue_postmortems"] == []
    assert h["metrics"]["totals"]["incidents"] == 2
    assert [a["text"] for a in h["agenda"]] == ["Flaky payment webhook alert"]
    assert h["meeting"]["at"] == "2026-12-07T05:00:00+00:00"  # 10:30 IST
    # Outgoing, incoming and L1 are told once (catalog hands over at the same time).
    told = notices(world)
    assert {"arjun", "asha", "meera", "neha", "ravi"} <= set(told)
    assert len(told) == len(set(told))
    with world.session_factory() as s, s.begin():
        again = handover_service.generate(
            s, team_id="checkout", at=NEXT_HANDOFF, now=world.clock.now(), base_url=""
        )
    assert again is None  # a second engine makes nothing
    # Not acknowledged: the incoming reminded after 2 h, L1 told after 4 h, once each.
    world.log.clear()
    world.clock.set(NEXT_HANDOFF + timedelta(hours=2))
    world.tick()
    world.tick()
    assert {"arjun", "neha"} <= set(notices(world))
    assert not {"asha", "ravi", "meera"} & set(notices(world))
    world.log.clear()
    world.clock.set(NEXT_HANDOFF + timedelta(hours=4))
    world.tick()
    world.tick()
    world.tick()
    assert "meera" in notices(world) and "neha" not in notices(world)
    # Only the incoming acknowledge; once.
    url = f"/api/v1/handovers/{h['id']}/acknowledge"
    denied = world.client.post(url, headers=token(world, "asha"))
    assert denied.status_code == 403 and "neha" in denied.json()["error"]
    acked = world.client.post(url, headers=token(world, "arjun"))
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "arjun"
    twice = world.client.post(url, headers=token(world, "neha"))
    assert twice.status_code == 409 and "arjun" in twice.json()["error"]
    meeting = world.client.post(
        f"/api/v1/handovers/{h['id']}/meeting",
        json={
            "attendees": ["asha", "neha"],
            "notes": "Webhook alert is noisy",
            "outcomes": "Tune it",
        },
        headers=world.auth,
    )
    assert meeting.json()["meeting"]["attendees"] == ["asha", "neha"]
    shown = run(db_url, "handover", "show", "--team", "checkout")
    assert shown.returncode == 0, shown.stderr
    assert "backend: ravi -> arjun" in shown.stdout and "acknowledged by arjun" in shown.stdout
    assert "agenda: Flaky payment webhook alert" in shown.stdout
    assert "status page: Refunds are failing (investigating) -> arjun" in shown.stdout
    assert "with a developer: #2 Prices show NaN -> sana" in shown.stdout
    none = run(db_url, "handover", "show", "--team", "nope")
    assert (none.returncode, none.stderr.strip()) == (1, "error: no handover for team 'nope' yet")


def test_handover_instant_is_exact_across_dst(session_factory: sessionmaker[Session]) -> None:
    doc: dict[str, Any] = example()
    rota = doc["teams"][0]["rota"]
    rota["timezone"], rota["start"] = "Europe/London", "2026-01-05"
    apply_doc(session_factory, doc)
    # The UK springs forward on Sun 2026-03-29: Monday 10:00 is 10:00 UTC before, 09:00 after.
    with session_factory() as s, s.begin():
        made = handover_service.generate_due(
            s, now=datetime(2026, 3, 30, 9, 0, 30, tzinfo=UTC), base_url=""
        )
        assert made == 1
        [h] = handover_service.list_handovers(s, team="checkout")
    assert h["at"] == "2026-03-30T09:00:00+00:00"
    assert h["period_start"] == "2026-03-23T10:00:00+00:00"  # a 167-hour week
