"""The status page (issue 14): components from the policy file, status incidents from the API
(linked to incidents, pre-filled from templates), the overall status rule, maintenances that
run themselves, hourly update enforcement, and the public page and JSON in Statuspage's shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import TEST_SECRET
from tests.integration.test_policy_apply import apply_doc, export
from tests.policy_cases import NOW, example, lint_doc
from tests.scenario import World, sms_only

from onduty import models as m
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.notify import links
from onduty.policy import lint, parse_text
from onduty.statuspage import service

# --- the policy file ---------------------------------------------------------------------------


def test_policy_applies_exports_and_reapplies_the_status_page(
    session_factory: sessionmaker[Session],
) -> None:
    doc = example()
    doc["templates"] = {"status_investigating": "Trouble with {{ components }}."}
    doc["services"][0]["integrations"].append(
        {"id": "support", "type": "intercom", "tag": "outage", "reply_as": "note"}
    )
    first = apply_doc(session_factory, doc)
    assert "created component web-shop" in first
    assert "created status page" in first
    assert "created templates" in first
    assert apply_doc(session_factory, doc) == []
    with session_factory() as s:
        rows = s.scalars(select(m.Component).order_by(m.Component.position)).all()
        assert [(c.id, c.group, c.services) for c in rows] == [
            ("web-shop", "Shop", ["storefront"]),
            ("payments", "Shop", ["payments"]),
            ("search", "Catalog", ["search"]),
            ("catalog", "Catalog", ["catalog-web"]),
        ]
        assert all(c.status == "operational" and c.managed for c in rows)
        audit = s.scalars(
            select(m.AuditEvent.object_id).where(m.AuditEvent.object_type == "component")
        ).all()
        assert sorted(audit) == ["catalog", "payments", "search", "web-shop"]
    text = export(session_factory)
    exported = yaml.safe_load(text)
    assert exported["status_page"]["name"] == "Acme Commerce Status"
    assert exported["status_page"]["components"][0] == {
        "id": "web-shop",
        "name": "Web shop",
        "group": "Shop",
        "description": "Browsing, cart and checkout",
        "services": ["storefront"],
    }
    assert exported["templates"] == doc["templates"]
    storefront = next(x for x in exported["services"] if x["id"] == "storefront")
    intercom = storefront["integrations"][-1]
    assert intercom == {"id": "support", "type": "intercom", "tag": "outage", "reply_as": "note"}
    policy, lines = parse_text(text)
    assert lint(policy, lines, now=NOW) == []
    # A component dropped from the file is removed; the others keep their status.
    doc["status_page"]["components"].pop()
    assert apply_doc(session_factory, doc) == ["removed component catalog"]
    with session_factory() as s:
        assert s.get(m.Component, "catalog") is None


def test_lint_finds_unknown_services_and_duplicate_components_at_their_line() -> None:
    doc = example()
    doc["status_page"]["components"][1]["services"] = ["payments", "nope"]
    doc["status_page"]["components"].append({"id": "web-shop", "name": "Again"})
    text = yaml.safe_dump(doc, sort_keys=False)
    policy, lines = parse_text(text)
    problems = lint(policy, lines, now=NOW)
    unknown = next(p for p in problems if "unknown service 'nope'" in p.message)
    assert text.splitlines()[unknown.line - 1].strip() == "- nope"
    dup = next(p for p in problems if "duplicate component id 'web-shop'" in p.message)
    assert "id: web-shop" in text.splitlines()[dup.line - 1]
    assert unknown.severity == dup.severity == "error"
    bad = example()
    bad["templates"] = {"status_update": "{{ ''.__class__ }} {{ secret }}"}
    assert any("unknown variable 'secret'" in p.message for p in lint_doc(bad))


# --- the overall status --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "impacts", "indicator", "description"),
    [
        ([], [], "none", "All Systems Operational"),
        ([], ["minor"], "minor", "Minor Service Outage"),
        (["operational"], [], "none", "All Systems Operational"),
        (["under_maintenance"], [], "maintenance", "Service Under Maintenance"),
        (["degraded_performance"], [], "minor", "Partially Degraded Service"),
        (["partial_outage"], [], "major", "Partial System Outage"),
        (["major_outage"], [], "critical", "Major System Outage"),
        (["operational", "major_outage"], [], "critical", "Partial System Outage"),
        (["major_outage", "major_outage"], [], "critical", "Major System Outage"),
        (
            ["operational", "degraded_performance"],
            ["critical"],
            "critical",
            "Partially Degraded Service",
        ),
        (["operational", "operational"], ["major"], "major", "Partial System Outage"),
    ],
)
def test_overall_status_follows_statuspages_rule(
    statuses: list[str], impacts: list[str], indicator: str, description: str
) -> None:
    got = service.overall(statuses, impacts)
    assert (got.indicator, got.description) == (indicator, description)


# --- through the API -----------------------------------------------------------------------------


@pytest.fixture
def world(
    client: TestClient,
    clock: FakeClock,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> World:
    return World(client, clock, session_factory, settings).setup(sms_only(example()))


def post(world: World, path: str, body: dict[str, Any], status: int = 201) -> Any:
    answer = world.client.post(path, json=body, headers=world.auth)
    assert answer.status_code == status, answer.text
    return answer.json()


def test_post_from_an_incident_prefilled_linked_and_on_its_timeline(world: World) -> None:
    world.alert("CheckoutDown")  # storefront, critical: P1
    incident = world.incident_id("CheckoutDown")
    draft = world.client.get(f"/api/v1/incidents/{incident}/status-draft", headers=world.auth)
    assert draft.status_code == 200, draft.text
    d = draft.json()
    assert d["required"] is True  # P1 has status_page: true
    assert d["components"] == {"web-shop": "major_outage"}
    assert d["impact"] == "critical"
    assert d["body"] == (
        "We are aware of a problem with Web shop. The team is looking into this and will get "
        "back with a resolution."
    )
    made = post(
        world,
        "/api/v1/status-incidents",
        {k: d[k] for k in ("name", "impact", "components", "incident")} | {"body": ""},
    )
    assert made["incident"] == incident
    assert made["owner"] == "asha"  # the frontend primary on call
    assert made["updates"][0]["body"] == d["body"]  # empty body: the template
    assert made["update_due_at"] is not None
    again = post(world, "/api/v1/status-incidents", {"name": "x", "incident": incident}, 409)
    assert again["field"] == "incident"
    detail = world.client.get(f"/api/v1/incidents/{incident}", headers=world.auth).json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert "status_page.posted" in kinds
    with world.session_factory() as s:
        assert s.get(m.Component, "web-shop").status == "major_outage"  # type: ignore[union-attr]
        assert s.get(m.Component, "payments").status == "operational"  # type: ignore[union-attr]
    # Updates: newest first; resolving gives the components back.
    sid = made["id"]
    world.clock.advance(timedelta(minutes=10))
    post(
        world,
        f"/api/v1/status-incidents/{sid}/updates",
        {
            "status": "identified",
            "body": "A bad release.",
            "components": {"web-shop": "partial_outage"},
        },
    )
    world.clock.advance(timedelta(minutes=10))
    done = post(world, f"/api/v1/status-incidents/{sid}/updates", {"status": "resolved"})
    assert [u["status"] for u in done["updates"]] == ["resolved", "identified", "investigating"]
    assert done["updates"][0]["body"].startswith("The problem with Web shop has been resolved.")
    assert done["updates"][1]["affected_components"] == [
        {
            "code": "web-shop",
            "name": "Web shop",
            "old_status": "major_outage",
            "new_status": "partial_outage",
        }
    ]
    assert done["resolved_at"] is not None and done["update_due_at"] is None
    with world.session_factory() as s:
        assert s.get(m.Component, "web-shop").status == "operational"  # type: ignore[union-attr]
        actions = s.scalars(
            select(m.AuditEvent.action).where(m.AuditEvent.object_type == "status_incident")
        ).all()
    assert actions == ["status_incident.create", "status_incident.update", "status_incident.update"]
    closed = post(world, f"/api/v1/status-incidents/{sid}/updates", {"status": "monitoring"}, 409)
    assert closed["field"] == "status"


def test_bad_input_is_a_4xx_with_the_field_and_roles_hold(world: World) -> None:
    bad = post(
        world,
        "/api/v1/status-incidents",
        {"name": "x", "components": {"nope": "major_outage"}},
        422,
    )
    assert bad["field"] == "components.nope"
    bad = post(world, "/api/v1/status-incidents", {"name": "x", "impact": "huge"}, 422)
    assert bad["field"] == "impact"
    bad = post(world, "/api/v1/status-incidents/999/updates", {"status": "resolved"}, 404)
    assert bad["field"] == "id"
    bad = post(
        world,
        "/api/v1/maintenances",
        {
            "name": "m",
            "scheduled_for": "2026-12-01T10:00:00Z",
            "scheduled_until": "2026-12-01T09:00:00Z",
        },
        422,
    )
    assert bad["field"] == "scheduled_until"
    injected = post(
        world, "/api/v1/status-incidents/preview", {"body": None, "name": "{{ ''.__class__ }}"}, 200
    )
    assert injected["body"].startswith("We are aware of a problem")  # the name is data, not code
    from onduty.auth import service as auth_service

    with world.session_factory() as s, s.begin():
        viewer = auth_service.create_token(s, person_id=None, role="viewer", now=world.clock.now())
    headers = {"Authorization": f"Bearer {viewer}"}
    assert world.client.get("/api/v1/status-incidents", headers=headers).status_code == 200
    refused = world.client.post("/api/v1/status-incidents", json={"name": "x"}, headers=headers)
    assert refused.status_code == 403
    assert world.client.post("/api/v1/status-incidents", json={"name": "x"}).status_code == 401
    with world.session_factory() as s:
        assert s.scalars(select(m.StatusIncident)).all() == []


def test_a_template_from_the_policy_and_the_sandbox(world: World) -> None:
    doc = sms_only(example())
    doc["templates"] = {"status_update": "{{ name }} is {{ status }} on {{ page_name }}."}
    apply_doc(world.session_factory, doc)
    made = post(
        world,
        "/api/v1/status-incidents",
        {"name": "Slow search", "components": {"search": "degraded_performance"}},
    )
    upd = post(world, f"/api/v1/status-incidents/{made['id']}/updates", {"status": "monitoring"})
    assert upd["updates"][0]["body"] == "Slow search is monitoring on Acme Commerce Status."
    # A template that passes lint's variable check but that the sandbox refuses at render time.
    with world.session_factory() as s, s.begin():
        kept = s.get(m.PolicySetting, "templates")
        assert kept is not None
        kept.value = {"status_update": "{{ component_list.__class__.__mro__ }}"}
    refused = post(
        world, f"/api/v1/status-incidents/{made['id']}/updates", {"status": "identified"}, 422
    )
    assert refused["field"] == "body"
    assert "__" in refused["error"] or "unsafe" in refused["error"]


# --- maintenance and update enforcement, by the engine ------------------------------------------


def test_maintenance_starts_and_completes_on_its_own(world: World) -> None:
    start = world.clock.now() + timedelta(minutes=30)
    made = post(
        world,
        "/api/v1/maintenances",
        {
            "name": "Database failover test",
            "scheduled_for": start.isoformat(),
            "scheduled_until": (start + timedelta(hours=1)).isoformat(),
            "components": ["payments", "web-shop"],
        },
    )
    assert made["status"] == "scheduled"
    upcoming = world.client.get("/api/v2/scheduled-maintenances/upcoming.json").json()
    assert [x["id"] for x in upcoming["scheduled_maintenances"]] == [str(made["id"])]

    def state() -> tuple[str, str, str]:
        with world.session_factory() as s:
            row = s.get(m.StatusIncident, made["id"])
            pay = s.get(m.Component, "payments")
            assert row is not None and pay is not None
            got = row.status, pay.status
        # Outside the session: SQLite has one writer at a time, and every session is one.
        return (*got, world.client.get("/api/v2/status.json").json()["status"]["indicator"])

    minute = timedelta(minutes=1)
    world.run_until(29, minute)
    assert state() == ("scheduled", "operational", "none")
    world.run_until(31, minute)
    assert state() == ("in_progress", "under_maintenance", "maintenance")
    active = world.client.get("/api/v2/scheduled-maintenances/active.json").json()
    assert [x["status"] for x in active["scheduled_maintenances"]] == ["in_progress"]
    world.run_until(91, minute)
    assert state() == ("completed", "operational", "none")
    with world.session_factory() as s:
        row = s.get(m.StatusIncident, made["id"])
        assert row is not None
        assert [u.status for u in row.updates] == ["completed", "in_progress", "scheduled"]
        assert row.resolved_at == start + timedelta(hours=1)  # at its time, not the tick's


def test_silence_reminds_the_owner_then_pages_l1(world: World) -> None:
    world.alert("CheckoutDown")
    world.act("CheckoutDown", "acknowledge")
    world.log.clear()
    incident = world.incident_id("CheckoutDown")
    made = post(
        world,
        "/api/v1/status-incidents",
        {"name": "Checkout down", "incident": incident, "components": {"web-shop": "major_outage"}},
    )
    assert made["owner"] == "asha"
    minute = timedelta(minutes=1)
    world.run_until(59, minute)
    assert [e for e in world.log if e[3] == "status.update_due"] == []
    world.run_until(61, minute)
    reminders = [(who, event) for _t, _k, who, event in world.log if event == "status.update_due"]
    assert reminders == [("asha", "status.update_due")]
    with world.session_factory() as s:
        row = s.scalars(
            select(m.OutboxMessage).where(m.OutboxMessage.event == "status.update_due")
        ).one()
        assert f"/status-admin/incidents/{made['id']}" in (row.text or "")
    world.log.clear()
    world.run_until(121, minute)
    paged = [(who, event) for _t, _k, who, event in world.log if event == "status.update_due"]
    assert paged == [("meera", "status.update_due")]  # checkout's L1
    world.log.clear()
    world.run_until(240, minute)
    assert [e for e in world.log if e[3] == "status.update_due"] == []  # once per silence
    # An update starts the clock again.
    post(world, f"/api/v1/status-incidents/{made['id']}/updates", {"status": "identified"})
    world.run_until(240 + 61, minute)
    again = [(who, event) for _t, _k, who, event in world.log if event == "status.update_due"]
    assert again == [("asha", "status.update_due")]
    detail = world.client.get(f"/api/v1/incidents/{incident}", headers=world.auth).json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds.count("status_page.reminder") == 2 and kinds.count("status_page.overdue") == 1


# --- the public page and its JSON -----------------------------------------------------------------

PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_KEYS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
}
INCIDENT_KEYS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
}
UPDATE_KEYS = {
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
}
ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$"


def _iso(value: Any) -> bool:
    import re

    return isinstance(value, str) and re.match(ISO, value) is not None


def test_every_v2_document_has_statuspages_shape(world: World) -> None:
    made = post(
        world,
        "/api/v1/status-incidents",
        {
            "name": "Elevated checkout errors",
            "impact": "major",
            "components": {"web-shop": "partial_outage"},
            "body": "We are investigating **failed** checkouts.",
        },
    )
    world.clock.advance(timedelta(minutes=7))
    post(
        world,
        f"/api/v1/status-incidents/{made['id']}/updates",
        {"status": "identified", "body": "A faulty release."},
    )
    future = world.clock.now() + timedelta(days=2)
    post(
        world,
        "/api/v1/maintenances",
        {
            "name": "Failover",
            "scheduled_for": future.isoformat(),
            "scheduled_until": (future + timedelta(hours=1)).isoformat(),
            "components": ["payments"],
        },
    )
    summary = world.client.get("/api/v2/summary.json")
    assert summary.status_code == 200
    assert summary.headers["access-control-allow-origin"] == "*"
    doc = summary.json()
    assert set(doc) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    assert set(doc["page"]) == PAGE_KEYS
    assert doc["page"]["name"] == "Acme Commerce Status"
    assert doc["page"]["time_zone"] == "Asia/Kolkata"
    assert doc["page"]["url"] == "http://onduty.test/status"
    assert _iso(doc["page"]["updated_at"])
    assert doc["status"] == {"indicator": "major", "description": "Partial System Outage"}
    groups = [c for c in doc["components"] if c["group"]]
    leaves = [c for c in doc["components"] if not c["group"]]
    assert [(g["name"], g["components"]) for g in groups] == [
        ("Shop", ["web-shop", "payments"]),
        ("Catalog", ["search", "catalog"]),
    ]
    assert all(set(c) == COMPONENT_KEYS | {"components"} for c in groups)
    assert all(set(c) == COMPONENT_KEYS for c in leaves)
    shop = groups[0]
    assert shop["status"] == "partial_outage"
    web = next(c for c in leaves if c["id"] == "web-shop")
    assert web["group_id"] == shop["id"] and web["status"] == "partial_outage"
    assert [c["position"] for c in doc["components"]] == sorted(
        c["position"] for c in doc["components"]
    )
    for c in doc["components"]:
        assert isinstance(c["id"], str) and isinstance(c["position"], int)
        assert c["page_id"] == doc["page"]["id"]
        assert _iso(c["created_at"]) and _iso(c["updated_at"])
    [inc] = doc["incidents"]
    assert set(inc) == INCIDENT_KEYS
    assert (
        inc["id"] == str(made["id"]) and inc["status"] == "identified" and inc["impact"] == "major"
    )
    assert inc["monitoring_at"] is None and inc["resolved_at"] is None
    assert [u["status"] for u in inc["incident_updates"]] == ["identified", "investigating"]
    for u in inc["incident_updates"]:
        assert set(u) == UPDATE_KEYS
        assert u["incident_id"] == inc["id"] and isinstance(u["id"], str)
        assert all(_iso(u[k]) for k in ("created_at", "updated_at", "display_at"))
    assert inc["incident_updates"][1]["affected_components"] == [
        {
            "code": "web-shop",
            "name": "Web shop",
            "old_status": "operational",
            "new_status": "partial_outage",
        }
    ]
    assert inc["incident_updates"][1]["body"] == "We are investigating **failed** checkouts."
    assert [c["id"] for c in inc["components"]] == ["web-shop"]
    [maint] = doc["scheduled_maintenances"]
    assert set(maint) == INCIDENT_KEYS | {"scheduled_for", "scheduled_until"}
    assert maint["status"] == "scheduled" and maint["impact"] == "maintenance"
    assert _iso(maint["scheduled_for"]) and _iso(maint["scheduled_until"])
    status = world.client.get("/api/v2/status.json").json()
    assert status == {"page": doc["page"], "status": doc["status"]}
    assert world.client.get("/api/v2/components.json").json() == {
        "page": doc["page"],
        "components": doc["components"],
    }
    assert (
        world.client.get("/api/v2/incidents/unresolved.json").json()["incidents"]
        == doc["incidents"]
    )
    everything = world.client.get("/api/v2/incidents.json").json()
    assert [i["id"] for i in everything["incidents"]] == [str(made["id"])]
    maints = world.client.get("/api/v2/scheduled-maintenances.json").json()
    assert maints["scheduled_maintenances"] == doc["scheduled_maintenances"]
    assert (
        world.client.get("/api/v2/scheduled-maintenances/active.json").json()[
            "scheduled_maintenances"
        ]
        == []
    )


def test_status_page_html_caching_and_history(world: World) -> None:
    made = post(
        world,
        "/api/v1/status-incidents",
        {
            "name": "Search <b>slow</b>",
            "impact": "minor",
            "components": {"search": "degraded_performance"},
            "body": "Looking at it. <script>alert(1)</script> **now**",
        },
    )
    page = world.client.get("/status")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert(1)" not in html and "<strong>now</strong>" in html
    assert "Search &lt;b&gt;slow&lt;/b&gt;" in html
    assert "Minor Service Outage" not in html and "Partially Degraded Service" in html
    assert html.count('class="bar ') == 4 * 90
    assert "b-degraded_performance" in html
    assert 'name="viewport"' in html and "<script" not in html  # no script needed
    zipped = world.client.get("/status", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.text == html
    etag, modified = page.headers["etag"], page.headers["last-modified"]
    assert world.client.get("/status", headers={"If-None-Match": etag}).status_code == 304
    assert world.client.get("/status", headers={"If-Modified-Since": modified}).status_code == 304
    json_etag = world.client.get("/api/v2/summary.json").headers["etag"]
    assert (
        world.client.get("/api/v2/summary.json", headers={"If-None-Match": json_etag}).status_code
        == 304
    )
    # Any change makes a new version.
    world.clock.advance(timedelta(minutes=5))
    post(world, f"/api/v1/status-incidents/{made['id']}/updates", {"status": "resolved"})
    fresh = world.client.get("/status", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert "All Systems Operational" in fresh.text
    # The day still shows what happened, with the incident's name on the bar.
    assert "b-degraded_performance" in fresh.text and "Search &lt;b&gt;slow&lt;/b&gt;" in fresh.text
    # The next day moves the bars (and the ETag) with no change stored.
    world.clock.advance(timedelta(days=1))
    assert (
        world.client.get("/status", headers={"If-None-Match": fresh.headers["etag"]}).status_code
        == 200
    )
    feed = world.client.get("/status/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert "<entry>" in feed.text and "Search &lt;b&gt;slow&lt;/b&gt; (resolved)" in feed.text


def test_history_colours_each_day_by_its_worst_status(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    from onduty.statuspage import public

    apply_doc(session_factory, example())
    start = datetime(2026, 11, 1, 22, 0, tzinfo=UTC)
    with session_factory() as s, s.begin():
        row = service.create_status_incident(
            s,
            name="A",
            status="investigating",
            impact="minor",
            body="x",
            component_statuses={"search": "degraded_performance"},
            incident_id=None,
            actor="system",
            now=start,
            base_url="http://x",
        )
        service.add_update(
            s,
            status_incident_id=row.id,
            status="identified",
            body="y",
            component_statuses={"search": "major_outage"},
            actor="system",
            now=start + timedelta(hours=1),
            base_url="http://x",
        )
        service.add_update(
            s,
            status_incident_id=row.id,
            status="resolved",
            body="z",
            component_statuses=None,
            actor="system",
            now=start + timedelta(hours=30),
            base_url="http://x",
        )
    with session_factory() as s:
        days = public.history(
            s, ["search", "payments"], today=datetime(2026, 11, 30, tzinfo=UTC).date()
        )
    search = {d.day.isoformat(): d for d in days["search"]}
    assert len(days["search"]) == 90
    assert search["2026-11-01"].status == "major_outage" and search["2026-11-01"].incidents == (
        "A",
    )
    assert search["2026-11-03"].status == "major_outage"  # resolved 04:00 on the 3rd
    assert search["2026-11-04"].status == "operational" and search["2026-11-04"].incidents == ()
    assert {d.status for d in days["payments"]} == {"operational"}


def test_post_to_status_page_from_the_page_that_reached_the_responder(world: World) -> None:
    world.alert("CheckoutDown")  # storefront, critical: P1, whose priority asks for it
    link = world.actions["status_page"]
    path = link.removeprefix(world.settings.base_url)
    shown = world.client.get(path)
    assert shown.status_code == 200
    assert "We are aware of a problem with Web shop." in shown.text  # the template's default
    assert "web-shop: major outage" in shown.text
    posted = world.client.post(path)
    assert posted.status_code == 200, posted.text
    assert posted.json()["by"] == "asha"
    [row] = world.client.get("/api/v1/status-incidents", headers=world.auth).json()
    assert (row["incident"], row["owner"], row["components"]) == (
        posted.json()["incident"],
        "asha",
        {"web-shop": "major_outage"},
    )
    again = world.client.post(path)
    assert again.status_code == 409 and "already used" in again.json()["error"]
    # Another responder's link for the same incident: it is on the page already.
    later = world.client.get(path.replace("status/", "status/x"))
    assert later.status_code == 404
    with world.session_factory() as s:
        incident_id = s.scalars(select(m.Incident.id)).one()
    other = links.sign(
        TEST_SECRET,
        action=links.STATUS_PAGE,
        incident_id=incident_id,
        recipient="ravi",
        expires=world.clock.now() + timedelta(hours=1),
    )
    refused = world.client.get(f"/actions/status/{other}")
    assert refused.status_code == 409 and "on the status page already" in refused.text


def test_no_status_page_link_for_a_priority_that_does_not_ask(world: World) -> None:
    world.alert("DiskFilling", severity="warning")  # P3
    assert "acknowledge" in world.actions and "status_page" not in world.actions
