"""Sessions end when they should (sign-out, a new password, a disabled login), and signing in
is bounded: field lengths, throttles per (username, address), per address and per username, and
old failure rows purged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import TEST_SECRET
from tests.integration.test_cli import run
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.ui_helpers import PASSWORD, csrf, make_login, sign_in

from onduty.auth import service as auth_service
from onduty.auth import session as browser
from onduty.auth.models import LoginFailure
from onduty.clock import FakeClock
from onduty.config import Settings


@pytest.fixture
def settings(db_url: str) -> Settings:
    # Fewer free failures per address and per username than the defaults (30, 100), so that
    # the tests hash fewer passwords; the rules are the same.
    return Settings(
        database_url=db_url,
        secret_key=TEST_SECRET,
        base_url="http://onduty.test",
        login_throttle_address_after=10,
        login_throttle_username_after=12,
    )


@pytest.fixture
def people(session_factory: sessionmaker[Session], clock: FakeClock) -> sessionmaker[Session]:
    apply_doc(session_factory, example())
    make_login(session_factory, clock.now(), "boss", "admin")
    make_login(session_factory, clock.now(), "asha", "responder", person="asha")
    return session_factory


@pytest.fixture
def app(client: TestClient) -> FastAPI:
    application: FastAPI = client.app  # type: ignore[assignment]
    return application


@pytest.fixture
def from_address(app: FastAPI) -> Iterator[dict[str, TestClient]]:
    """Clients of the same app that connect from other addresses, by address."""
    made: dict[str, TestClient] = {}

    class Clients(dict[str, TestClient]):
        def __missing__(self, address: str) -> TestClient:
            made[address] = self[address] = TestClient(app, client=(address, 40000))
            return made[address]

    yield Clients()
    for c in made.values():
        c.close()


def signed_in(client: TestClient) -> bool:
    return client.get("/", follow_redirects=False).status_code == 200


def second_browser(app: FastAPI, client: TestClient) -> TestClient:
    """Another browser holding a copy of `client`'s session cookie."""
    other = TestClient(app)
    other.cookies.set(browser.COOKIE, client.cookies[browser.COOKIE])
    return other


# --- sessions end ------------------------------------------------------------------------------


def test_sign_out_ends_every_session_of_the_login_including_kept_cookies(
    client: TestClient, app: FastAPI, people: sessionmaker[Session]
) -> None:
    sign_in(client, "boss")
    kept = second_browser(app, client)  # a copy taken before sign-out (or another device)
    laptop = TestClient(app)
    sign_in(laptop, "boss")
    assert signed_in(kept) and signed_in(laptop)
    page = client.get("/").text
    assert client.post("/logout", data={"csrf_token": csrf(page)}).status_code == 200
    assert not signed_in(client)
    assert not signed_in(kept)
    assert not signed_in(laptop)
    sign_in(client, "boss")  # signing in again gives a working session
    assert signed_in(client) and not signed_in(kept)
    for c in (kept, laptop):
        c.close()


def test_a_new_password_ends_every_session(
    client: TestClient, app: FastAPI, people: sessionmaker[Session], clock: FakeClock
) -> None:
    sign_in(client, "asha")
    assert signed_in(client)
    with people() as s, s.begin():
        auth_service.create_login(
            s,
            username="asha",
            password="a brand new password",
            role="responder",
            now=clock.now(),
            person_id="asha",
        )
    assert not signed_in(client)
    sign_in(client, "asha", "a brand new password")
    assert signed_in(client)


def test_user_disable_ends_sessions_and_refuses_sign_in_until_enabled(
    client: TestClient, app: FastAPI, people: sessionmaker[Session], db_url: str
) -> None:
    sign_in(client, "asha")
    sign_in_boss = TestClient(app)
    sign_in(sign_in_boss, "boss")
    done = run(db_url, "user", "disable", "asha")
    assert (done.returncode, done.stdout.strip()) == (
        0,
        "login asha disabled; its sessions have ended",
    )
    assert not signed_in(client)
    assert signed_in(sign_in_boss)  # other logins keep their sessions
    refused = client.post("/login", data={"username": "asha", "password": PASSWORD})
    assert refused.status_code == 401 and "Wrong username or password" in refused.text
    assert not signed_in(client)
    assert run(db_url, "user", "enable", "asha").stdout.strip() == "login asha enabled"
    sign_in(client, "asha")
    assert signed_in(client)
    unknown = run(db_url, "user", "disable", "nobody")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "error: no login named 'nobody'"
    sign_in_boss.close()


# --- sign-in bounds ----------------------------------------------------------------------------


def failure_rows(factory: sessionmaker[Session]) -> list[tuple[str, str, int]]:
    with factory() as s:
        rows = s.scalars(select(LoginFailure).order_by(LoginFailure.username, LoginFailure.address))
        return [(r.username, r.address, r.failures) for r in rows]


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("u" * 1000, "whatever", "the username is longer than 64 characters"),
        ("boss", "p" * 1025, "the password is longer than 1024 characters"),
        ("", "whatever", "the username is empty"),
        ("bo\x00ss", "whatever", "the username must not contain a NUL character"),
    ],
)
def test_overlong_empty_or_nul_fields_are_refused_and_nothing_is_stored(
    client: TestClient, people: sessionmaker[Session], username: str, password: str, message: str
) -> None:
    answer = client.post("/login", data={"username": username, "password": password})
    assert answer.status_code == 422
    assert message in answer.text
    assert failure_rows(people) == []


def test_a_username_past_the_body_limit_is_refused_before_the_form_is_read(
    client: TestClient, people: sessionmaker[Session]
) -> None:
    # The 900 KB username that used to be stored: every route's body limit refuses it first.
    answer = client.post("/login", data={"username": "u" * 900_000, "password": "whatever"})
    assert answer.status_code == 413
    assert failure_rows(people) == []


def test_an_address_that_sprays_one_password_over_many_usernames_is_slowed(
    client: TestClient, people: sessionmaker[Session], clock: FakeClock
) -> None:
    for i in range(10):
        answer = client.post("/login", data={"username": f"user{i}", "password": "Summer2026!"})
        assert answer.status_code == 401
    sprayed = client.post("/login", data={"username": "boss", "password": PASSWORD})
    assert sprayed.status_code == 429 and "try again in 1 s" in sprayed.text
    clock.advance(timedelta(seconds=1))
    sign_in(client, "boss")  # the wait is over; a success does not reset the address's count
    clock.advance(timedelta(seconds=1))
    again = client.post("/login", data={"username": "user99", "password": "Summer2026!"})
    assert again.status_code == 401
    slower = client.post("/login", data={"username": "asha", "password": PASSWORD})
    assert slower.status_code == 429 and "try again in 2 s" in slower.text


def test_guessing_from_one_address_does_not_lock_the_user_out_elsewhere(
    people: sessionmaker[Session], from_address: dict[str, TestClient]
) -> None:
    attacker, owner = from_address["203.0.113.7"], from_address["198.51.100.20"]
    for _ in range(8):
        attacker.post("/login", data={"username": "boss", "password": "guess"})
    blocked = attacker.post("/login", data={"username": "boss", "password": PASSWORD})
    assert blocked.status_code == 429
    sign_in(owner, "boss")
    assert signed_in(owner)


def test_a_username_guessed_from_many_addresses_is_slowed_for_a_minute_at_most(
    people: sessionmaker[Session],
    from_address: dict[str, TestClient],
    clock: FakeClock,
) -> None:
    # 12 free failures per username over all addresses (in this module), from 4 addresses that
    # each stay under their own limits.
    for i in range(12):
        client = from_address[f"192.0.2.{i % 4}"]
        answer = client.post("/login", data={"username": "boss", "password": f"guess{i}"})
        assert answer.status_code == 401, i
    owner = from_address["198.51.100.20"]
    paused = owner.post("/login", data={"username": "boss", "password": PASSWORD})
    assert paused.status_code == 429 and "try again in 1 s" in paused.text
    other_user = owner.post(
        "/login", data={"username": "asha", "password": PASSWORD}, follow_redirects=False
    )
    assert other_user.status_code == 303
    # Past the cap the wait stops doubling: never more than a minute.
    for j in range(12):
        clock.advance(timedelta(minutes=1))
        guess = from_address[f"192.0.2.{200 + j}"].post(
            "/login", data={"username": "boss", "password": "x"}
        )
        assert guess.status_code == 401
    late = owner.post("/login", data={"username": "boss", "password": PASSWORD})
    assert late.status_code == 429 and "try again in 60 s" in late.text
    clock.advance(timedelta(minutes=1))
    sign_in(owner, "boss")


def test_failure_rows_are_counted_per_key_and_purged_after_a_quiet_day(
    client: TestClient, people: sessionmaker[Session], clock: FakeClock
) -> None:
    client.post("/login", data={"username": "boss", "password": "nope"})
    client.post("/login", data={"username": "ghost", "password": "nope"})
    assert failure_rows(people) == [
        ("", "testclient", 2),
        ("boss", "", 1),
        ("boss", "testclient", 1),
        ("ghost", "", 1),
        ("ghost", "testclient", 1),
    ]
    sign_in(client, "boss")  # a success clears its pair and takes its own count back
    assert failure_rows(people) == [
        ("", "testclient", 2),
        ("boss", "", 1),
        ("ghost", "", 1),
        ("ghost", "testclient", 1),
    ]
    clock.advance(timedelta(days=1, seconds=1))
    client.post("/login", data={"username": "asha", "password": "nope"})
    assert failure_rows(people) == [
        ("", "testclient", 1),
        ("asha", "", 1),
        ("asha", "testclient", 1),
    ]
