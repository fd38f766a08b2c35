"""Handover to a developer (SPEC §1 rule 7, §6.4): through the API, the web form and the CLI
(local and remote); the developer is told by the `developer_handover` template through their
notification rules, as a notice (e-mail or Slack, never a call) unless the priority pages at
any hour; stage `handed_over`; the incident leaves the on-call queue but stays visible, and can
still be escalated; bad input is refused with the field named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.ui_helpers import csrf, make_login, sign_in
from typer.testing import CliRunner

from onduty import cli
from onduty import models as m
from onduty.auth import service as auth_service
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.engine import Engine
from onduty.notify import FakeChannel, outbox

WORKING = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # Thursday noon in Kolkata
HANDOVER = {
    "developer": "ravi",
    "actual": "Totals are <b>NaN</b> for coupons",
    "ideal": "Totals include the discount",
    "tried": "Cleared the price cache; restarted the pricing pods",
    "runbook": "pricing",
    "links": ["https://grafana.example.com/d/pricing"],
}


@pytest.fixture
def world(
    client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> dict[str, str]:
    clock.set(WORKING)
    doc = example()
    doc["criticality_rules"] = [
        {"when": {"words": ["outage"]}, "priority": "P1"},
        {"priority": "P3"},
    ]
    doc["templates"] = {
        "developer_handover": "Over to {{ developer }} from {{ handed_by }}: {{ actual }} / "
        "{{ ideal }} / {{ tried }}{% if runbook %} [{{ runbook }}]{% endif %} {{ incident.url }}"
    }
    apply_doc(session_factory, doc)
    with session_factory() as s, s.begin():
        token = auth_service.create_token(s, person_id="asha", role="responder", now=clock.now())
    return {"Authorization": f"Bearer {token}"}


def report(client: TestClient, auth: dict[str, str], title: str = "Coupon totals wrong") -> int:
    made = client.post(
        "/api/v1/incidents", json={"service": "storefront", "title": title}, headers=auth
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def rows(factory: sessionmaker[Session], incident: int) -> list[m.OutboxMessage]:
    with factory() as s:
        return list(
            s.scalars(
                select(m.OutboxMessage)
                .where(
                    m.OutboxMessage.incident_id == incident,
                    m.OutboxMessage.event == "incident.handed_over",
                )
                .order_by(m.OutboxMessage.id)
            )
        )


def test_api_handover_tells_the_developer_by_a_notice_and_leaves_the_queue(
    client: TestClient,
    world: dict[str, str],
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
) -> None:
    incident = report(client, world)
    answer = client.post(f"/api/v1/incidents/{incident}/handover", json=HANDOVER, headers=world)
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert (shown["status"], shown["stage"], shown["assignee"]) == (
        "acknowledged",
        "handed_over",
        "ravi",
    )
    assert shown["handover"]["tried"] == HANDOVER["tried"] and shown["handover"]["by"] == "asha"
    kinds = [e["kind"] for e in shown["timeline"]]
    assert kinds[-2:] == ["acknowledged", "handed_over"]
    # A P3: one notice by e-mail (Ravi's rules are SMS and voice: not for a handover at noon).
    (notice,) = rows(session_factory, incident)
    assert (notice.person_id, notice.channel, notice.priority) == ("ravi", "email", outbox.NOTICE)
    assert notice.text == (
        "Over to Ravi Kumar from Asha Rao: Totals are <b>NaN</b> for coupons / Totals include "
        "the discount / Cleared the price cache; restarted the pricing pods [pricing] "
        f"http://onduty.test/incidents/{incident}"
    )
    fakes = {t: FakeChannel(t) for t in ("email", "sms", "voice", "slack", "webhook")}
    Engine(settings, session_factory, clock, fakes, holder="test").tick()
    (mail,) = fakes["email"].take()
    assert mail.message.event == "incident.handed_over" and mail.message.recipient == "ravi"
    # Out of the on-call queue, still visible to the team, filtered by stage.
    listed = client.get("/api/v1/incidents?stage=handed_over", headers=world).json()
    assert [i["id"] for i in listed] == [incident]
    assert client.get("/api/v1/incidents?stage=ticketed", headers=world).json() == []
    bad = client.get("/api/v1/incidents?stage=nowhere", headers=world)
    assert bad.status_code == 422
    # Escalating it for help reaches the escalation policy's next step again.
    escalated = client.post(f"/api/v1/incidents/{incident}/escalate", headers=world)
    assert escalated.status_code == 200 and escalated.json()["status"] == "triggered"
    Engine(settings, session_factory, clock, fakes, holder="test").tick()
    paged = [s.message for f in fakes.values() for s in f.take()]
    assert paged and {m.event for m in paged} <= {"incident.triggered", "incident.escalated"}


def test_a_priority_that_pages_at_any_hour_pages_the_developer(
    client: TestClient, world: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    incident = report(client, world, "Checkout outage")
    answer = client.post(f"/api/v1/incidents/{incident}/handover", json=HANDOVER, headers=world)
    assert answer.status_code == 200, answer.text
    pages = rows(session_factory, incident)
    assert [(r.channel, r.priority) for r in pages] == [
        ("sms", outbox.PAGE),
        ("voice", outbox.PAGE),
    ]
    assert pages[1].due_at - pages[0].due_at == timedelta(minutes=2)


def test_bad_handovers_are_refused_with_the_field(
    client: TestClient, world: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    incident = report(client, world)
    path = f"/api/v1/incidents/{incident}/handover"
    unknown = client.post(path, json={**HANDOVER, "developer": "nobody"}, headers=world)
    assert unknown.status_code == 404 and unknown.json()["field"] == "developer"
    empty = client.post(path, json={**HANDOVER, "tried": ""}, headers=world)
    assert empty.status_code == 422
    blank = client.post(path, json={**HANDOVER, "ideal": "   "}, headers=world)
    assert blank.status_code == 422 and blank.json()["field"] == "ideal"
    link = client.post(path, json={**HANDOVER, "links": ["javascript:x"]}, headers=world)
    assert link.status_code == 422 and link.json()["field"] == "links"
    assert client.post(f"/api/v1/incidents/{incident}/resolve", headers=world).status_code == 200
    resolved = client.post(path, json=HANDOVER, headers=world)
    assert resolved.status_code == 409
    assert rows(session_factory, incident) == []


def test_web_form_hands_over_and_the_dashboard_moves_it(
    client: TestClient,
    world: dict[str, str],
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    incident = report(client, world)
    make_login(session_factory, clock.now(), "asha", "responder", person="asha")
    sign_in(client, "asha")
    page = client.get(f"/incidents/{incident}").text
    assert f'action="/incidents/{incident}/handover"' in page
    form = {**HANDOVER, "links": "https://grafana.example.com/d/pricing", "csrf_token": csrf(page)}
    done = client.post(f"/incidents/{incident}/handover", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text
    page = client.get(f"/incidents/{incident}").text
    assert "Handed over to a developer" in page
    assert "Totals are &lt;b&gt;NaN&lt;/b&gt;" in page and "<b>NaN</b>" not in page
    assert 'data-stage="handed_over"' in page
    partial = client.get("/partials/open-incidents").text
    assert partial.index("Handed over to developers") < partial.index("Coupon totals wrong")
    listed = client.get("/incidents?stage=handed_over").text
    assert "Coupon totals wrong" in listed
    assert "Coupon totals wrong" not in client.get("/incidents?stage=reported").text
    missing = client.post(
        f"/incidents/{incident}/handover", data={"csrf_token": csrf(page), "developer": ""}
    )
    assert missing.status_code == 422 and "choose the developer" in missing.text


def test_cli_hands_over_locally_and_says_bad_input_in_one_line(
    client: TestClient, world: dict[str, str], db_url: str, session_factory: sessionmaker[Session]
) -> None:
    incident = report(client, world)
    runner = CliRunner()
    args = ["incident", "handover", str(incident), "--database-url", db_url]
    given = ["--actual", "a", "--ideal", "b", "--tried", "c", "--link", "https://x.example/1"]
    wrong = runner.invoke(cli.app, [*args, "--developer", "ghost", *given])
    assert wrong.exit_code == 1 and wrong.output.strip().count("\n") == 0
    assert "no person with id 'ghost'" in wrong.output
    done = runner.invoke(cli.app, [*args, "--developer", "sana", *given])
    assert done.exit_code == 0, done.output
    assert "handed over to sana" in done.output
    listed = runner.invoke(
        cli.app, ["incident", "list", "--stage", "handed_over", "--json", "--database-url", db_url]
    )
    assert listed.exit_code == 0 and f'"id": {incident}' in listed.output
    with session_factory() as s:
        row = s.get(m.Incident, incident)
        assert row is not None and row.handover is not None
        assert (row.assignee_id, row.handover["by"], row.handover["links"]) == (
            "sana",
            "cli",
            ["https://x.example/1"],
        )


def test_journey_shows_each_stage_with_its_time_and_the_time_since_the_one_before(
    client: TestClient,
    world: dict[str, str],
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    start = clock.now()
    incident = report(client, world)
    clock.advance(timedelta(minutes=3))
    assert (
        client.post(f"/api/v1/incidents/{incident}/acknowledge", headers=world).status_code == 200
    )
    clock.advance(timedelta(minutes=7))
    path = f"/api/v1/incidents/{incident}/handover"
    assert client.post(path, json=HANDOVER, headers=world).status_code == 200
    clock.advance(timedelta(hours=2, minutes=5))
    resolved = client.post(f"/api/v1/incidents/{incident}/resolve", headers=world).json()
    assert resolved["stages"] == {
        "reported": start.isoformat(),
        "acknowledged": (start + timedelta(minutes=3)).isoformat(),
        "handed_over": (start + timedelta(minutes=10)).isoformat(),
        "resolved_by_developer": (start + timedelta(hours=2, minutes=15)).isoformat(),
    }
    assert resolved["stage"] == "resolved_by_developer"
    make_login(session_factory, clock.now(), "v", "viewer")
    sign_in(client, "v")
    page = client.get(f"/incidents/{incident}").text
    journey = page[page.index('<ol class="journey">') : page.index("</ol>")]
    stages = [line.split('"')[1] for line in journey.split("data-stage=")[1:]]
    assert stages == ["reported", "acknowledged", "handed_over", "resolved_by_developer"]
    assert "(+3m)" in journey and "(+7m)" in journey and "(+2h 5m)" in journey
    assert "Thu 26 Nov 12:00:00" in journey  # 06:30 UTC, in the team's zone (Kolkata)
