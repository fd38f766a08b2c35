"""What a browser is told and refused: cross-site POSTs (login CSRF included) are 403, every
answer carries the security headers, signed-in pages are not cached, no template has inline
script, and the API docs load nothing from another origin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.ui_helpers import PASSWORD, csrf, make_login, sign_in

from onduty.auth import session as browser
from onduty.clock import FakeClock

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "onduty" / "web" / "templates"
STATIC = TEMPLATES.parent / "static"


@pytest.fixture
def boss(session_factory: sessionmaker[Session], clock: FakeClock) -> sessionmaker[Session]:
    apply_doc(session_factory, example())
    make_login(session_factory, clock.now(), "boss", "admin")
    return session_factory


LOGIN = {"username": "boss", "password": PASSWORD, "next": "/"}


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://other.onduty.test"},
        {"Origin": "https://evil.example"},  # a browser that predates Sec-Fetch-Site
        {"Origin": "null"},  # a sandboxed frame or a cross-site redirect
    ],
)
def test_a_cross_site_login_form_is_refused(
    client: TestClient, boss: sessionmaker[Session], headers: dict[str, str]
) -> None:
    answer = client.post(
        "/login",
        data=LOGIN,
        headers={**headers, "Accept": "text/html"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "This form was sent from another site" in answer.text
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://onduty.test"},
        {"Sec-Fetch-Site": "none"},  # typed or bookmarked by the user
        {"Origin": "http://onduty.test"},  # the configured base URL
        {"Origin": "http://testserver"},  # the host the browser addressed
        {},  # programs send neither header
    ],
)
def test_same_origin_and_header_less_logins_pass(
    client: TestClient, boss: sessionmaker[Session], headers: dict[str, str]
) -> None:
    answer = client.post("/login", data=LOGIN, headers=headers, follow_redirects=False)
    assert answer.status_code == 303
    assert browser.COOKIE in answer.headers["set-cookie"]


def test_cross_site_posts_to_signed_in_forms_and_the_api_are_refused(
    client: TestClient, boss: sessionmaker[Session]
) -> None:
    sign_in(client, "boss")
    token = csrf(client.get("/").text)
    evil = {"Sec-Fetch-Site": "cross-site"}
    answer = client.post("/logout", data={"csrf_token": token}, headers=evil)
    assert answer.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in
    api = client.post("/api/v1/incidents", json={}, headers={"Origin": "https://evil.example"})
    assert api.status_code == 403
    assert api.json() == {
        "error": "this request came from another site; onduty accepts changes only from its "
        "own pages",
        "field": "origin",
    }
    # Reading is not refused: a link from another site to a page must work.
    assert client.get("/teams", headers=evil).status_code == 200


def test_every_answer_carries_the_security_headers(
    client: TestClient, boss: sessionmaker[Session]
) -> None:
    for path in ("/login", "/healthz", "/api/docs", "/static/app.js", "/no-such-page"):
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, path
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy, path
        assert "unsafe-eval" not in policy, path
        assert headers["referrer-policy"] == "no-referrer", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path


def test_signed_in_pages_are_not_stored_by_caches(
    client: TestClient, boss: sessionmaker[Session]
) -> None:
    sign_in(client, "boss")
    for path in ("/", "/tokens", "/teams/checkout", "/partials/open-incidents"):
        assert client.get(path).headers["cache-control"] == "no-store", path


def test_templates_have_no_inline_script_or_style() -> None:
    """The CSP forbids inline script and style; this finds any a template would bring back."""
    for template in TEMPLATES.glob("*.html"):
        html = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, (template.name, tag)
        assert not re.search(r"<script\b[^>]*>(?!\s*</script>)", html), template.name
        assert not re.search(r"\son[a-z]+\s*=", html), template.name  # onclick= and the like
        assert not re.search(r"\sstyle\s*=", html), template.name
        assert "<style" not in html, template.name
        assert "javascript:" not in html, template.name
        assert "hx-on" not in html, template.name  # htmx's inline handlers need eval


def test_api_docs_load_only_local_assets(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith("/static/") for u in urls), urls
    assert "cdn" not in page.text and "<script>" not in page.text
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url
    script = (STATIC / "api-docs.js").read_text()
    assert "/api/openapi.json" in page.text and "validatorUrl: null" in script
