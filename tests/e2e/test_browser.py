"""The web UI in a real browser (Debian's chromium via Playwright) against a real server."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.e2e.conftest import SCREENSHOTS, Server
from tests.policy_cases import write_policy
from tests.scenario import alertmanager
from tests.ui_helpers import PASSWORD

from onduty.db import make_engine, make_session_factory
from onduty.incidents.models import Incident

pytestmark = pytest.mark.browser


def page_for(chromium: Any, server: Server, username: str) -> Any:
    context = chromium.new_context(base_url=server.base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/")
    assert page.url.startswith(f"{server.base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.base}/")
    return page


def test_login_and_override_changes_who_is_on_call(chromium: Any, server: Server) -> None:
    page = page_for(chromium, server, "asha")
    assert page.get_by_role("heading", name="Acme Commerce").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    page.get_by_role("link", name="Checkout").first.click()
    page.wait_for_url("**/teams/checkout")
    backend = page.locator('span.person[data-slot="backend"]')
    before = backend.inner_text()
    other = "arjun" if before == "ravi" else "ravi"
    now_local = page.evaluate(
        "() => new Date(Date.now() + 5.5*3600e3).toISOString().slice(0, 16)"
    )  # Asia/Kolkata wall clock, the team's zone
    later = page.evaluate(
        "() => new Date(Date.now() + 5.5*3600e3 + 2*3600e3).toISOString().slice(0, 16)"
    )
    page.get_by_label("Slot").select_option("backend")
    page.get_by_label("Person").select_option(other)
    page.get_by_label("From (Asia/Kolkata)").fill(now_local)
    page.get_by_label("Until (Asia/Kolkata)").fill(later)
    page.get_by_label("Reason").fill("browser test")
    page.get_by_role("button", name="Add override").click()
    page.wait_for_url("**/teams/checkout")
    assert backend.inner_text() == other
    assert page.get_by_text("browser test").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "team.png"), full_page=True)
    page.goto("/services")
    page.screenshot(path=str(SCREENSHOTS / "services.png"), full_page=True)


def test_viewer_sees_no_forms_to_change_things(chromium: Any, server: Server) -> None:
    page = page_for(chromium, server, "guest")
    page.goto("/teams/checkout")
    assert page.get_by_role("button", name="Add override").count() == 0
    page.goto("/tokens")
    assert "This needs the admin role" in page.content()


def test_admin_pages(chromium: Any, server: Server) -> None:
    page = page_for(chromium, server, "boss")
    page.goto("/tokens")
    page.get_by_label("Name").fill("ci")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Create token").click()
    assert page.locator("#new-token").inner_text().startswith("odt_")
    page.goto("/audit")
    assert page.get_by_text("token.create").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "audit.png"), full_page=True)


def fire(server: Server, name: str, severity: str = "critical") -> None:
    rows = json.loads(server.cli("integrations", "list", "--json"))
    url = next(
        r["url"] for r in rows if r["service"] == "storefront" and r["integration"] == "prod-alerts"
    )
    answer = httpx.post(url, content=alertmanager(name, severity=severity), timeout=10)
    assert answer.status_code == 202, answer.text


def test_incident_appears_live_and_is_acknowledged(
    chromium: Any, server: Server, db_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = page_for(chromium, server, "asha")
    expect(page.locator("#open-incidents")).to_contain_text("All quiet")
    page.evaluate("() => { window.notReloaded = true; }")
    fire(server, "CheckoutDown")
    link = page.get_by_role("link", name=re.compile("CheckoutDown is failing"))
    expect(link).to_be_visible(timeout=10_000)  # polled in, not reloaded
    assert page.evaluate("() => window.notReloaded") is True
    expect(page.locator("#open-incidents")).to_contain_text("P1 · 1 open")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    link.click()
    page.wait_for_url(re.compile(r".*/incidents/\d+$"))
    incident_url = page.url
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(incident_url)
    expect(page.locator("#status")).to_have_text("acknowledged")
    expect(page.locator("table.timeline tr.ev-acknowledged")).to_contain_text("asha")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "incident.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: no sideways scrolling
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "incident-phone.png"))
    page.set_viewport_size({"width": 1280, "height": 900})

    # A P4 outside working hours waits in the backlog; in working hours, put it there by hand
    # so the screenshot shows a row whatever the time of day.
    fire(server, "SlowImages", severity="warning")
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s, s.begin():
            slow = s.scalars(select(Incident).where(Incident.title.contains("SlowImages"))).one()
            if not slow.backlog:
                slow.backlog, slow.page_due_at = True, slow.created_at + timedelta(hours=20)
    finally:
        engine.dispose()
    page.goto("/backlog")
    expect(page.get_by_role("link", name=re.compile("SlowImages"))).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "backlog.png"), full_page=True)

    page.goto("/people/asha")
    page.get_by_role("button", name="Send me a test notification").click()
    expect(page.get_by_role("status")).to_contain_text("sent to the queue")
    expect(page.get_by_role("table", name="Recent test notifications")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "person.png"), full_page=True)


def test_viewer_sees_no_incident_actions(chromium: Any, server: Server) -> None:
    from playwright.sync_api import expect

    fire(server, "CheckoutDown")
    page = page_for(chromium, server, "guest")
    link = page.get_by_role("link", name=re.compile("CheckoutDown is failing"))
    expect(link).to_be_visible(timeout=10_000)
    link.click()
    page.wait_for_url(re.compile(r".*/incidents/\d+$"))
    expect(page.get_by_role("heading", name=re.compile("CheckoutDown"))).to_be_visible()
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    assert page.get_by_role("button", name="Change priority").count() == 0


def test_reports_charts_checks_and_rota_timeline(
    chromium: Any, server: Server, db_url: str, tmp_path: Path
) -> None:
    """The reports page draws its four trends with the vendored uPlot under the CSP (no
    violation reported), the team page shows the rota timeline with a "now" line, and the
    checks page ticks an item."""
    from datetime import UTC, datetime

    from playwright.sync_api import expect
    from tests.integration.test_reports import incident
    from tests.policy_cases import example

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    factory = make_session_factory(make_engine(db_url))
    with factory() as s, s.begin():
        for n in range(24):
            at = now - timedelta(days=n * 1.2, hours=n % 7)
            incident(
                s,
                100 + n,
                service="storefront" if n % 3 else "payments",
                priority=("P1", "P2", "P3")[n % 3],
                at=at,
                ack=(60 + 40 * n, "asha" if n % 2 else "ravi"),
                resolve=1800 + 900 * n,
                pages=[(0, "asha" if n % 2 else "ravi", 0), (1, "neha", 300)][: 1 + n % 2],
                key=f"am:v1:{n % 4}",
            )
    doc = example()
    doc["checks"] = [
        {
            "id": "morning-smoke",
            "team": "checkout",
            "type": "checklist",
            "at": "00:00",
            "items": ["Place a test order on staging", "Payment gateway dashboard is green"],
        }
    ]
    ist = timedelta(hours=5, minutes=30)  # Asia/Kolkata, the team's zone (no DST)

    def local(at: datetime) -> str:
        return (at + ist).strftime("%Y-%m-%dT%H:%M")

    doc["overrides"] = [
        {
            "team": "checkout",
            "slot": "backend",
            "person": "arjun",
            "start": local(now + timedelta(days=8)),
            "end": local(now + timedelta(days=10)),
        }
    ]
    doc["time_off"] = [
        {
            "person": "neha",
            "start": local(now + timedelta(days=15)),
            "end": local(now + timedelta(days=18)),
        }
    ]
    policy = write_policy(doc, tmp_path / "with-checks.yaml")
    server.cli("policy", "apply", str(policy))

    page = page_for(chromium, server, "asha")
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    page.goto("/reports?team=checkout")
    expect(page.locator(".chart.drawn canvas")).to_have_count(4, timeout=10_000)
    expect(page.locator("table.summary")).to_contain_text("team checkout")
    assert violations == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "reports.png"), full_page=True)

    page.goto("/teams/checkout")
    timeline = page.locator("svg.timeline")
    expect(timeline.locator("line.now")).to_have_count(1)
    expect(timeline.locator("text.lane")).to_have_text(["frontend", "backend", "time off"])
    assert timeline.locator("g.bar.rota").count() >= 4
    expect(timeline.locator("g.bar.override")).to_have_count(1)
    expect(timeline.locator("g.bar.off")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "team.png"), full_page=True)

    page.goto("/checks")
    page.get_by_role("button", name="Tick").first.click()
    page.wait_for_url("**/checks")
    expect(page.locator("section.check li .done")).to_contain_text("Place a test order")
    page.screenshot(path=str(SCREENSHOTS / "checks.png"), full_page=True)
