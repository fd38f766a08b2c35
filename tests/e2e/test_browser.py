"""The web UI in a real browser (Debian's chromium via Playwright) against a real server."""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.conftest import SCREENSHOTS, Server
from tests.ui_helpers import PASSWORD

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
