"""The status page in a real browser: a responder posts from the admin page (with the htmx
live preview), the public page reads well on a phone without script, and Atlassian's own
`@statuspage/status-widget` (vendored) reads our summary.json from another origin."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import SCREENSHOTS, Server
from tests.e2e.test_browser import page_for

pytestmark = pytest.mark.browser
WIDGET = Path(__file__).parent / "vendor" / "statuspage-status-widget" / "index.js"


@pytest.fixture
def widget_site(server: Server, tmp_path: Path) -> Iterator[str]:
    """Another origin (a client's own site) embedding the widget, pointed at our page."""
    (tmp_path / "index.js").write_bytes(WIDGET.read_bytes())
    (tmp_path / "index.html").write_text(
        "<!doctype html><html><head><script src='/index.js'></script></head><body>"
        f"<statuspage-widget src='{server.base}'></statuspage-widget></body></html>"
    )
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_post_then_read_on_a_phone_and_in_statuspages_widget(
    chromium: Any, server: Server, widget_site: str
) -> None:
    page = page_for(chromium, server, "asha")
    page.goto("/status-admin")
    page.get_by_label("Name").first.fill("Checkout errors for some customers")
    page.get_by_label("Impact").select_option("major")
    page.get_by_label("Web shop").first.select_option("partial_outage")
    page.get_by_label("Message (Markdown; empty: the template)").fill("We are **on it**.")
    preview = page.locator("#new-preview strong")
    preview.wait_for(timeout=10_000)  # htmx rendered the Markdown through the server
    assert preview.inner_text() == "on it"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "status-admin.png"), full_page=True)
    page.get_by_role("button", name="Post to status page").click()
    page.wait_for_url("**/status-admin/incidents/*")
    assert page.get_by_text(re.compile(r"update due in (59|60) min")).is_visible()

    phone = chromium.new_context(
        base_url=server.base, viewport={"width": 390, "height": 844}, java_script_enabled=False
    ).new_page()
    phone.goto("/status")
    assert phone.get_by_role("status").inner_text() == "Partial System Outage"
    assert phone.get_by_text("Checkout errors for some customers").is_visible()
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone
    phone.screenshot(path=str(SCREENSHOTS / "status-phone.png"), full_page=True)
    wide = chromium.new_context(base_url=server.base, viewport={"width": 1100, "height": 900})
    desk = wide.new_page()
    desk.goto("/status")
    desk.screenshot(path=str(SCREENSHOTS / "status.png"), full_page=True)

    widget = chromium.new_context().new_page()
    widget.goto(widget_site)
    text = widget.locator("statuspage-widget .status-text")
    text.wait_for(timeout=15_000)
    assert text.inner_text() == "Partial System Outage"
    indicator = widget.locator("statuspage-widget .status-indicator")
    assert "major" in (indicator.get_attribute("class") or "")
