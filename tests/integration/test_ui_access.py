"""Browser access without a browser: login, sessions, CSRF, roles, throttling, tokens, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.ui_helpers import PASSWORD, csrf, make_login, sign_in

from onduty.auth import session as browser
from onduty.clock import FakeClock


@pytest.fixture
def demo(session_factory: sessionmaker[Session], clock: FakeClock) -> sessionmaker[Session]:
    apply_doc(session_factory, example())
    make_login(session_factory, clock.now(), "boss", "admin")
    make_login(session_factory, clock.now(), "asha", "responder", person="asha")
    make_login(session_factory, clock.now(), "guest", "viewer")
    return session_factory


PAGES = [
    "/",
    "/teams",
    "/teams/checkout",
    "/services",
    "/policy",
    "/audit",
    "/tokens",
    "/runbooks",
    "/dryrun",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_a_login(client: TestClient, demo: sessionmaker[Session], path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next={path}"


def test_login_sets_a_hardened_cookie_and_logout_clears_it(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    answer = client.post(
        "/login", data={"username": "boss", "password": PASSWORD}, follow_redirects=False
    )
    cookie = answer.headers["set-cookie"]
    assert browser.COOKIE in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "Acme Commerce" in page.text
    out = client.post("/logout", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_and_throttling(
    client: TestClient, demo: sessionmaker[Session], clock: FakeClock
) -> None:
    for _ in range(5):
        wrong = client.post("/login", data={"username": "boss", "password": "nope"})
        assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    # After five failures each attempt waits twice as long as the last: 1 s, then 2 s, …
    blocked = client.post("/login", data={"username": "boss", "password": PASSWORD})
    assert blocked.status_code == 429 and "try again in 1 s" in blocked.text
    clock.advance(timedelta(seconds=1))
    assert client.post("/login", data={"username": "boss", "password": "nope"}).status_code == 401
    still = client.post("/login", data={"username": "boss", "password": PASSWORD})
    assert still.status_code == 429 and "try again in 2 s" in still.text
    clock.advance(timedelta(seconds=2))
    sign_in(client, "boss")
    sign_in(client, "boss")  # success cleared the count


def test_forms_without_the_csrf_token_are_refused(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    sign_in(client, "asha")
    answer = client.post(
        "/teams/checkout/overrides",
        data={
            "slot": "backend",
            "person": "ravi",
            "start": "2026-11-30T12:00",
            "end": "2026-11-30T14:00",
        },
    )
    assert answer.status_code == 403 and "did not come from this site" in answer.text


def test_override_made_on_the_team_page_changes_who_is_on_call(
    client: TestClient, demo: sessionmaker[Session], clock: FakeClock
) -> None:
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    sign_in(client, "asha")
    page = client.get("/teams/checkout")
    assert 'data-slot="backend">arjun<' in page.text
    made = client.post(
        "/teams/checkout/overrides",
        data={
            "csrf_token": csrf(page.text),
            "slot": "backend",
            "person": "ravi",
            "start": "2026-11-26T18:00",
            "end": "2026-11-26T20:00",
            "reason": "cover",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))  # 18:30 in Asia/Kolkata
    after = client.get("/teams/checkout")
    assert 'data-slot="backend">ravi<' in after.text
    assert "Thu 26 Nov 18:00" in after.text and "cover" in after.text
    clash = client.post(
        "/teams/checkout/overrides",
        data={
            "csrf_token": csrf(after.text),
            "slot": "backend",
            "person": "arjun",
            "start": "2026-11-26T19:00",
            "end": "2026-11-26T21:00",
        },
    )
    assert clash.status_code == 409 and "already gives checkout/backend to ravi" in clash.text
    sign_in(client, "boss")
    audit = client.get("/audit").text
    assert "override.create" in audit and "asha" in audit


def test_viewers_cannot_change_things(client: TestClient, demo: sessionmaker[Session]) -> None:
    sign_in(client, "guest")
    page = client.get("/teams/checkout")
    assert page.status_code == 200 and "Add an override" not in page.text
    answer = client.post(
        "/teams/checkout/overrides",
        data={
            "csrf_token": csrf(page.text),
            "slot": "backend",
            "person": "ravi",
            "start": "2026-11-30T09:00",
            "end": "2026-11-30T11:00",
        },
    )
    assert answer.status_code == 403
    assert client.get("/tokens").status_code == 403
    assert client.get("/audit").status_code == 403
    services = client.get("/services").text
    assert "0123456789abcdef0123456789abcdef" not in services


def test_admin_makes_and_revokes_api_tokens_in_the_browser(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    sign_in(client, "boss")
    page = client.get("/tokens")
    made = client.post(
        "/tokens",
        data={"csrf_token": csrf(page.text), "name": "grafana", "person": "", "role": "viewer"},
    )
    assert made.status_code == 201
    token = made.text.split('id="new-token">')[1].split("<")[0]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/oncall", headers=headers).status_code == 200
    token_id = made.text.split('action="/tokens/')[1].split("/")[0]
    revoked = client.post(
        f"/tokens/{token_id}/revoke", data={"csrf_token": csrf(made.text)}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert client.get("/api/v1/oncall", headers=headers).status_code == 401
    audit = client.get("/audit").text
    assert "token.create" in audit and "token.revoke" in audit


def test_managers_see_integration_keys_with_a_copy_button(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    sign_in(client, "boss")
    page = client.get("/services").text
    assert "http://onduty.test/v2/enqueue" in page
    assert "0123456789abcdef0123456789abcdef" in page and 'class="copy"' in page


def test_policy_page_shows_what_the_file_manages(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    sign_in(client, "guest")
    page = client.get("/policy").text
    assert "asha — <strong>policy file</strong>" in page


def test_login_next_must_be_local(client: TestClient, demo: sessionmaker[Session]) -> None:
    answer = client.post(
        "/login",
        data={"username": "boss", "password": PASSWORD, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_a_token_name_is_bounded(client: TestClient, demo: sessionmaker[Session]) -> None:
    # api_token.name holds 100 characters: PostgreSQL refused a longer one with a 500.
    sign_in(client, "boss")
    form = {"csrf_token": csrf(client.get("/tokens").text), "person": "", "role": "viewer"}
    made = client.post("/tokens", data={**form, "name": "n" * 101})
    assert made.status_code == 422 and "name: at most 100 characters" in made.text
    assert client.post("/tokens", data={**form, "name": "n" * 100}).status_code == 201
