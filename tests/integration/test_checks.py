"""Daily checks end to end (SPEC §6.4): a checklist due at a local time, assigned to the
on-call people, ticked over the API, missed -> an alert through the normal pipeline that
pages, done late -> resolved; heartbeats (404 for an unknown key, storing nothing; late ->
alert; the next ping resolves it); http probes against a real local server (N failures in a
row -> alert, recovery resolves it, redirects to other hosts refused, size cap)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.channel_servers import Reply, Site
from tests.policy_cases import example, lint_doc
from tests.scenario import World, sms_only

from onduty import models as m
from onduty.checks import probe
from onduty.clock import FakeClock
from onduty.config import Settings


@pytest.fixture
def world(
    client: TestClient, clock: FakeClock, session_factory: sessionmaker[Session], settings: Settings
) -> World:
    return World(client, clock, session_factory, settings)


def with_checks(*checks: dict[str, Any]) -> dict[str, Any]:
    doc = sms_only(example())
    doc["checks"] = list(checks)
    return doc


CHECKLIST = {
    "id": "morning-smoke",
    "team": "checkout",
    "type": "checklist",
    "at": "12:00",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "deadline": "1h",
    "items": ["Place a test order on staging", "Payment gateway dashboard is green"],
}


def incidents(world: World) -> list[dict[str, Any]]:
    return world.client.get("/api/v1/incidents", headers=world.auth).json()


def test_lint_names_unknown_team_and_service_of_a_check() -> None:
    doc = with_checks(
        {**CHECKLIST, "team": "nope"},
        {"id": "hb", "service": "nowhere", "type": "heartbeat", "every": "1h"},
    )
    messages = [p.message for p in lint_doc(doc) if p.severity == "error"]
    assert "check 'morning-smoke': unknown team 'nope'" in messages
    assert "check 'hb': unknown service 'nowhere'" in messages


def test_checklist_due_assigned_missed_alerts_then_done_resolves(world: World) -> None:
    # The world starts Mon 2026-11-30 11:00 IST; the checklist is due at 12:00, by 13:00.
    world.setup(with_checks(CHECKLIST))
    world.run_until(59)
    assert world.log == []
    world.run_until(61)
    # Assigned to the on-call people (checkout: asha frontend, ravi backend), told once each.
    assert sorted((t, p, e) for t, _k, p, e in world.log) == [
        (60, "asha", "oncall.check_due"),
        (60, "ravi", "oncall.check_due"),
    ]
    [doc] = world.client.get("/api/v1/checks", headers=world.auth).json()
    assert doc["state"] == "open" and doc["assignees"] == ["asha", "ravi"]
    assert doc["deadline"] == "2026-11-30T07:30:00+00:00"  # 13:00 IST
    ticked = world.client.post(
        "/api/v1/checks/morning-smoke/tick", json={"item": "1"}, headers=world.auth
    )
    assert ticked.status_code == 200, ticked.text
    assert [i["done"] for i in ticked.json()["items"]] == [True, False]
    assert ticked.json()["items"][0]["by"] == "asha"
    bad = world.client.post(
        "/api/v1/checks/morning-smoke/tick", json={"item": "9"}, headers=world.auth
    )
    assert bad.status_code == 422 and bad.json()["field"] == "item"
    world.log.clear()
    world.run_until(125)
    # Missed at 13:00: one alert on checkout's first service (payments, backend: ravi), P4
    # (severity warning) paged in working hours through the normal escalation.
    [incident] = incidents(world)
    assert incident["service"] == "payments" and incident["priority"] == "P4"
    assert "Payment gateway dashboard is green" in incident["title"]
    assert "Place a test order" not in incident["title"]
    assert world.pages() == [(120, "sms", "ravi")]
    # Running the job again (or a second engine) raises nothing new.
    world.run_until(130)
    assert len(incidents(world)) == 1
    done = world.client.post(
        "/api/v1/checks/morning-smoke/tick",
        json={"item": "Payment gateway dashboard is green"},
        headers=world.auth,
    )
    assert done.json()["state"] == "done"
    [incident] = incidents(world)
    assert incident["status"] == "resolved"
    history = world.client.get("/api/v1/checks/morning-smoke", headers=world.auth).json()
    kinds = [h["kind"] for h in reversed(history["history"])]
    assert kinds == ["due", "tick", "missed", "tick", "done"]


def test_checklist_due_time_is_local_and_exact_across_dst(world: World, clock: FakeClock) -> None:
    from datetime import UTC, date, datetime

    from onduty.checks import schedule

    spec = {"at": "02:30", "days": None, "deadline_s": 3600, "items": ["x"]}
    # Europe/Berlin springs forward on 2026-03-29 02:00 -> 03:00: 02:30 is in the gap -> 03:00.
    occ = schedule.occurrence(spec, "Europe/Berlin", date(2026, 3, 29))
    assert occ.due == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # It falls back on 2026-10-25 03:00 -> 02:00: 02:30 happens twice; the first one counts.
    occ = schedule.occurrence(spec, "Europe/Berlin", date(2026, 10, 25))
    assert occ.due == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert schedule.occurrence(spec, "Europe/Berlin", date(2026, 10, 26)).due == datetime(
        2026, 10, 26, 1, 30, tzinfo=UTC
    )


def test_heartbeat_unknown_key_404_late_alert_and_ping_resolves(world: World) -> None:
    hb = {
        "id": "nightly-backup",
        "service": "payments",
        "type": "heartbeat",
        "every": "10m",
        "grace": "5m",
        "key": "backup-key-0123456789",
    }
    world.setup(with_checks(hb))
    with world.session_factory() as s:
        before = (
            s.scalar(select(func.count()).select_from(m.CheckRun)),
            s.get(m.Check, "nightly-backup").pings,
        )
    for method in ("GET", "POST"):
        assert world.client.request(method, "/heartbeat/not-a-key-000000000").status_code == 404
    with world.session_factory() as s:
        after = (
            s.scalar(select(func.count()).select_from(m.CheckRun)),
            s.get(m.Check, "nightly-backup").pings,
        )
    assert before == after
    [doc] = world.client.get("/api/v1/checks", headers=world.auth).json()
    assert doc["ping_url"] == "http://onduty.test/heartbeat/backup-key-0123456789"
    world.tick()
    world.run_until(14)
    assert world.client.get("/heartbeat/backup-key-0123456789").status_code == 204
    world.run_until(28)  # pinged at 14: due by 29
    assert incidents(world) == []
    world.run_until(31)
    [incident] = incidents(world)
    assert incident["status"] == "triggered" and incident["priority"] == "P1"  # payments error
    assert "nightly-backup is late" in incident["title"]
    assert world.pages()[0] == (29, "sms", "ravi")
    assert world.client.post("/heartbeat/backup-key-0123456789").status_code == 204
    [incident] = incidents(world)
    assert incident["status"] == "resolved"
    [doc] = world.client.get("/api/v1/checks", headers=world.auth).json()
    assert doc["state"] == "ok" and doc["pings"] == 2


def test_http_probe_failures_in_a_row_alert_and_recovery_resolves(world: World) -> None:
    with Site() as site:
        check = {
            "id": "shop-up",
            "service": "storefront",
            "type": "http",
            "every": "1m",
            "timeout": "2s",
            "url": f"{site.url}/healthz",
            "expect_body": "ok",
            "failures": 2,
        }
        world.setup(with_checks(check))
        world.tick()
        world.tick()
        assert len(site.requests) == 1 and site.requests[0].path == "/healthz"
        site.reply = Reply(503, b"down")
        world.run_until(1, step=timedelta(minutes=1))
        assert incidents(world) == []  # one failure
        world.run_until(2, step=timedelta(minutes=1))
        world.tick()
        [incident] = incidents(world)
        assert "status 503, expected 200" in incident["title"]
        world.run_until(4, step=timedelta(minutes=1))
        assert len(incidents(world)) == 1  # still one alert while it keeps failing
        site.reply = Reply(200, b"ok again")
        world.run_until(5, step=timedelta(minutes=1))
        [incident] = incidents(world)
        assert incident["status"] == "resolved"
        history = world.client.get("/api/v1/checks/shop-up", headers=world.auth).json()
        assert [h["kind"] for h in history["history"]][:2] == ["recovered", "failed"]


def test_probe_refuses_redirects_to_other_hosts_and_caps_the_body() -> None:
    with Site() as site, Site() as other:
        site.reply = Reply(302, b"", {"Location": f"{other.url}/elsewhere"})
        out = probe.run(probe.Probe("c", f"{site.url}/", 2.0, 200, None))
        assert not out.ok and "another host" in (out.reason or "")
        assert other.requests == []
        site.reply = Reply(302, b"", {"Location": "/moved"})
        other.reply = Reply(200, b"x")
        out = probe.run(probe.Probe("c", f"{site.url}/", 2.0, 200, None))
        assert not out.ok and out.reason == "more than 5 redirects"  # same host: followed
        site.reply = Reply(200, b"a" * (probe.MAX_BODY + 10) + b"needle")
        out = probe.run(probe.Probe("c", f"{site.url}/", 2.0, 200, "needle"))
        assert not out.ok and f"first {probe.MAX_BODY} bytes" in (out.reason or "")
