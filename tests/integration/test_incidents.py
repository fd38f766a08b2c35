"""Incidents over the API and in the service: reports by people, the lifecycle and its 409s,
the timeline, priority overrides beside the rule's, roles, and the P3/P4 backlog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_intake_http import AM_KEY, am, post
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example

from onduty.auth import service as auth_service
from onduty.clock import FakeClock
from onduty.errors import InvalidTransition, NotFound
from onduty.incidents import ingest as incident_ingest
from onduty.incidents import service as incidents_service

SUNDAY = datetime(2026, 12, 6, 4, 30, tzinfo=UTC)  # 10:00 in Kolkata, not a working day
MONDAY_9 = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)  # the next working-hours start


@pytest.fixture
def tokens(session_factory: sessionmaker[Session], clock: FakeClock) -> dict[str, dict[str, str]]:
    apply_doc(session_factory, example())
    made = {}
    with session_factory() as s, s.begin():
        for person, role in (("asha", "responder"), ("meera", "viewer"), ("karan", "admin")):
            token = auth_service.create_token(s, person_id=person, role=role, now=clock.now())
            made[role] = {"Authorization": f"Bearer {token}"}
        machine = auth_service.create_token(s, person_id=None, role="responder", now=clock.now())
        made["machine"] = {"Authorization": f"Bearer {machine}"}
    return made


REPORT: dict[str, Any] = {
    "service": "storefront",
    "title": "Checkout button does nothing on Safari",
    "steps": "1. add to cart\n2. press Checkout",
    "actual": "nothing happens",
    "expected": "the payment page opens",
    "environment": "Safari 17, macOS 14",
    "reporter": "qa-bot",
    "channel": "qa",
    "client": "Globex",
    "links": ["https://files.example.com/screenshot.png"],
}


def report(client: TestClient, auth: dict[str, str], **changes: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/incidents", json={**REPORT, **changes}, headers=auth)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def act(client: TestClient, auth: dict[str, str], ident: int, action: str) -> Any:
    return client.post(f"/api/v1/incidents/{ident}/{action}", headers=auth)


def test_a_report_by_a_person_keeps_the_bug_template(
    client: TestClient, tokens: dict[str, dict[str, str]], clock: FakeClock
) -> None:
    made = report(client, tokens["responder"])
    assert made["report"] == {
        "steps": REPORT["steps"],
        "actual": REPORT["actual"],
        "expected": REPORT["expected"],
        "environment": REPORT["environment"],
        "reporter": "qa-bot",
        "client": "Globex",
        "links": REPORT["links"],
    }
    assert (made["source"], made["service"], made["team"], made["discipline"]) == (
        "qa",
        "storefront",
        "checkout",
        "frontend",
    )
    assert (made["priority"], made["matched_rule"], made["priority_source"]) == ("P3", 5, "rule")
    assert (made["stage"], made["stages"]) == ("reported", {"reported": clock.now().isoformat()})
    assert [(e["kind"], e["actor"], e["channel"]) for e in made["timeline"]] == [
        ("triggered", "qa", "qa"),
        ("reported", "asha", "qa"),
    ]
    assert made["alerts"] == [] and made["notifications"] == []


def test_report_validation_and_roles(client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    assert client.post("/api/v1/incidents", json=REPORT).status_code == 401
    assert (
        client.post("/api/v1/incidents", json=REPORT, headers=tokens["viewer"]).status_code == 403
    )
    bad = client.post(
        "/api/v1/incidents", json={**REPORT, "channel": "carrier-pigeon"}, headers=tokens["admin"]
    )
    assert bad.status_code == 422 and bad.json()["field"] == "channel"
    missing = client.post(
        "/api/v1/incidents", json={**REPORT, "service": "nope"}, headers=tokens["admin"]
    )
    assert missing.status_code == 404 and missing.json()["field"] == "service"
    # A report by a token with no person is acted by the token.
    made = report(client, tokens["machine"], channel="intercom", severity="critical")
    assert made["priority"] == "P1"
    assert made["timeline"][-1]["actor"].startswith("token:")


def test_lifecycle_with_its_timeline_and_invalid_transitions(
    client: TestClient, tokens: dict[str, dict[str, str]], clock: FakeClock
) -> None:
    responder = tokens["responder"]
    ident = report(client, responder)["id"]
    clock.advance(timedelta(minutes=3))
    acked = act(client, responder, ident, "acknowledge")
    assert acked.status_code == 200
    body = acked.json()
    assert (body["status"], body["acknowledged_by"], body["seconds_to_acknowledge"]) == (
        "acknowledged",
        "asha",
        180,
    )
    assert "acknowledged" in body["stages"]
    again = act(client, tokens["admin"], ident, "acknowledge")
    assert again.status_code == 409
    assert again.json() == {
        "error": "incident #1 was already acknowledged by asha",
        "field": "status",
    }
    assert act(client, responder, ident, "reopen").status_code == 409
    assert act(client, responder, ident, "escalate").status_code == 200  # back to triggered
    assert act(client, responder, ident, "resolve").json()["status"] == "resolved"
    assert act(client, responder, ident, "resolve").status_code == 409
    assert act(client, responder, ident, "acknowledge").status_code == 409
    assert act(client, responder, ident, "escalate").status_code == 409
    reopened = act(client, responder, ident, "reopen").json()
    assert (reopened["status"], reopened["resolved_at"], reopened["backlog"]) == (
        "triggered",
        None,
        False,
    )
    assert [e["kind"] for e in reopened["timeline"]] == [
        "triggered",
        "reported",
        "acknowledged",
        "escalated",
        "resolved",
        "reopened",
    ]
    assert all(e["channel"] == "api" for e in reopened["timeline"][2:])
    assert act(client, tokens["viewer"], ident, "resolve").status_code == 403
    assert act(client, responder, 999, "resolve").status_code == 404


def test_the_generation_is_bumped_by_ack_resolve_and_reopen(
    session_factory: sessionmaker[Session], tokens: dict[str, dict[str, str]], clock: FakeClock
) -> None:
    now = clock.now()
    with session_factory() as s, s.begin():
        incident = incident_ingest.report(
            s,
            service_id="payments",
            title="Refunds fail",
            channel="team",
            actor="ravi",
            now=now,
            fields={},
        )
        ident = incident.id
    generations = []
    for operation in (
        incidents_service.acknowledge,
        incidents_service.resolve,
        incidents_service.reopen,
    ):
        with session_factory() as s, s.begin():
            done = operation(s, incident_id=ident, actor="ravi", channel="cli", now=now)
            generations.append(done.generation)
    assert generations == [2, 3, 4]
    with session_factory() as s, pytest.raises(InvalidTransition):
        incidents_service.reopen(s, incident_id=ident, actor="ravi", channel="cli", now=now)
    with session_factory() as s, pytest.raises(NotFound):
        incidents_service.acknowledge(s, incident_id=404, actor="ravi", channel="cli", now=now)


def test_a_person_overrides_the_priority_and_both_are_kept(
    client: TestClient, tokens: dict[str, dict[str, str]], clock: FakeClock
) -> None:
    ident = report(client, tokens["responder"])["id"]
    clock.advance(timedelta(minutes=1))
    answer = client.patch(
        f"/api/v1/incidents/{ident}",
        json={"priority": "P1", "discipline": "backend", "assignee": "ravi"},
        headers=tokens["responder"],
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["priority"], body["rule_priority"], body["matched_rule"]) == ("P1", "P3", 5)
    assert (body["priority_source"], body["priority_set_by"]) == ("person", "asha")
    assert (body["discipline"], body["assignee"]) == ("backend", "ravi")
    assert body["timeline"][-1]["data"]["changes"] == {
        "priority": ["P3", "P1"],
        "discipline": ["frontend", "backend"],
        "assignee": [None, "ravi"],
    }
    bad = client.patch(
        f"/api/v1/incidents/{ident}", json={"priority": "P9"}, headers=tokens["responder"]
    )
    assert bad.status_code == 422 and bad.json()["field"] == "priority"
    nobody = client.patch(
        f"/api/v1/incidents/{ident}", json={"assignee": "ghost"}, headers=tokens["responder"]
    )
    assert nobody.status_code == 404 and nobody.json()["field"] == "assignee"
    assert (
        client.patch(
            f"/api/v1/incidents/{ident}", json={"priority": "P2"}, headers=tokens["viewer"]
        ).status_code
        == 403
    )


def test_list_and_filters(client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    viewer = tokens["viewer"]
    first = report(client, tokens["responder"])["id"]
    report(client, tokens["responder"], service="search", title="Search returns nothing")
    post(client, AM_KEY, am(("a", "firing")))
    act(client, tokens["responder"], first, "acknowledge")

    def ids(query: str) -> list[int]:
        answer = client.get(f"/api/v1/incidents{query}", headers=viewer)
        assert answer.status_code == 200, answer.text
        return [row["id"] for row in answer.json()]

    assert ids("") == [3, 2, 1]
    assert ids("?status=acknowledged") == [1]
    assert ids("?status=triggered&team=checkout") == [3]
    assert ids("?team=catalog") == [2]
    assert ids("?service=storefront") == [3, 1]
    assert client.get("/api/v1/incidents").status_code == 401
    detail = client.get("/api/v1/incidents/3", headers=viewer).json()
    assert [a["dedup_key"].split(":")[0] for a in detail["alerts"]] == ["am"]
    assert detail["notifications"] == []
    assert client.get("/api/v1/incidents/99", headers=viewer).status_code == 404


def test_p3_p4_outside_working_hours_wait_in_the_backlog(
    client: TestClient, tokens: dict[str, dict[str, str]], clock: FakeClock
) -> None:
    clock.set(SUNDAY)
    waiting = report(client, tokens["responder"])  # P3 by the default rule
    urgent = report(client, tokens["responder"], severity="critical")  # P1
    assert (waiting["backlog"], waiting["page_due_at"]) == (True, "2026-12-07T03:30:00Z")
    assert (urgent["backlog"], urgent["page_due_at"]) == (False, "2026-12-06T04:30:00Z")
    post(client, AM_KEY, am(("w", "firing", {"severity": "warning"})))  # P4
    listed = client.get("/api/v1/backlog?team=checkout", headers=tokens["viewer"]).json()
    assert [(r["id"], r["priority"]) for r in listed] == [(3, "P4"), (1, "P3")]
    assert client.get("/api/v1/backlog?team=catalog", headers=tokens["viewer"]).json() == []
    # Raising the priority pages at once; resolving takes it off the list.
    client.patch("/api/v1/incidents/1", json={"priority": "P2"}, headers=tokens["responder"])
    act(client, tokens["responder"], 3, "resolve")
    assert client.get("/api/v1/backlog", headers=tokens["viewer"]).json() == []
    # Inside working hours a P3 pages now.
    clock.set(MONDAY_9 + timedelta(hours=1))
    inside = report(client, tokens["responder"])
    assert (inside["backlog"], inside["page_due_at"]) == (False, "2026-12-07T04:30:00Z")
