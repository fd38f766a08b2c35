"""What every route checks before it does any work: one body limit (declared and streamed),
credentials before the body is read, and ids and instants bounded to a clear 422."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.ui_helpers import csrf, make_login, sign_in

from onduty import models as m
from onduty.auth import service as auth_service
from onduty.clock import FakeClock

PAST_INT32 = 2**31  # one more than the largest id an INTEGER column holds on PostgreSQL
PAST_INT64 = 2**63  # one more than SQLite's driver can bind
LIMIT = 512 * 1024  # the default max_body_bytes


@pytest.fixture
def demo(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    apply_doc(session_factory, example())
    return session_factory


@pytest.fixture
def auth(demo: sessionmaker[Session], clock: FakeClock) -> dict[str, str]:
    with demo() as s, s.begin():
        token = auth_service.create_token(s, person_id="asha", role="admin", now=clock.now())
    return {"Authorization": f"Bearer {token}"}


def asgi_post(
    app: FastAPI, path: str, headers: dict[str, str], chunks: Iterable[bytes]
) -> tuple[int, dict[str, Any], int]:
    """POST straight through the ASGI interface, the body in `chunks` as a server would stream
    it; returns the status, the JSON answer and how many chunks the app asked for."""
    pending = list(chunks)
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if asked < len(pending):
            asked += 1
            return {
                "type": "http.request",
                "body": pending[asked - 1],
                "more_body": asked < len(pending),
            }
        await asyncio.sleep(3600)  # nothing more: a client that keeps the connection open
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=30))
    start = next(s for s in sent if s["type"] == "http.response.start")
    body = b"".join(s.get("body", b"") for s in sent if s["type"] == "http.response.body")
    return start["status"], json.loads(body), asked


# --- one body limit, before anything else -----------------------------------------------------


def test_a_declared_length_over_the_limit_is_413_before_any_byte_is_read(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    chunks = [b"{" + b" " * 65536] * 1100  # 70 MB, declared
    for path in ("/api/v1/incidents", "/integrations/slack/interactions", "/login"):
        headers = {"content-type": "application/json", "content-length": str(65537 * 1100)}
        status, answer, asked = asgi_post(client.app, path, headers, chunks)  # type: ignore[arg-type]
        assert (status, asked) == (413, 0), path
        assert answer == {"error": "the body is over the limit of 512 KiB", "field": None}


def test_a_streamed_body_is_cut_off_just_past_the_limit_on_every_route(
    client: TestClient, demo: sessionmaker[Session], auth: dict[str, str]
) -> None:
    chunks = [b"{" + b" " * 65535] * 1100  # 70 MB, chunked: no Content-Length
    status, answer, asked = asgi_post(
        client.app,  # type: ignore[arg-type]
        "/api/v1/incidents",
        {**auth, "content-type": "application/json"},
        chunks,
    )
    assert status == 413 and answer["field"] is None
    assert asked == LIMIT // 65536 + 1  # read up to the limit and one chunk more, then stopped
    # Just under the limit is parsed as usual (here: not a valid report).
    body = json.dumps({"service": "storefront", "title": "x" * 10})
    padded = body + " " * (LIMIT - len(body))
    answer2 = client.post(
        "/api/v1/incidents",
        content=padded,
        headers={**auth, "content-type": "application/json"},
    )
    assert answer2.status_code == 201, answer2.text


def test_the_limit_is_one_setting(client: TestClient, demo: sessionmaker[Session]) -> None:
    client.app.state.settings.max_body_bytes = 1024  # type: ignore[attr-defined]
    for path, under in (("/integrations/nokey", 404), ("/api/v1/incidents", 401)):
        over = client.post(path, content=b" " * 1025)
        assert over.status_code == 413, path
        assert over.json() == {"error": "the body is over the limit of 1 KiB", "field": None}
        assert client.post(path, content=b" " * 1024).status_code == under


def test_credentials_are_checked_before_the_body_is_read(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    chunks = [b'{"service": "storefront", "title": "' + b"x" * 60000] * 4 + [b'"}']
    for headers in ({}, {"authorization": "Bearer odt_not-a-token"}):
        status, answer, asked = asgi_post(
            client.app,  # type: ignore[arg-type]
            "/api/v1/incidents",
            {**headers, "content-type": "application/json"},
            chunks,
        )
        assert (status, answer["field"], asked) == (401, "authorization", 0)


def test_an_unconfigured_webhook_reads_no_body(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    for path in (
        "/integrations/slack/interactions",
        "/integrations/slack/commands",
        "/integrations/twilio/sms",
        "/integrations/twilio/status",
    ):
        status, _, asked = asgi_post(
            client.app,  # type: ignore[arg-type]
            path,
            {"content-type": "application/x-www-form-urlencoded"},
            [b"payload=" + b"x" * 60000] * 4,
        )
        assert (status, asked) == (404, 0), path


def test_junk_without_a_token_is_401_not_422(
    client: TestClient, demo: sessionmaker[Session]
) -> None:
    for method, path in (
        ("PATCH", "/api/v1/incidents/1"),
        ("POST", "/api/v1/incidents"),
        ("POST", "/api/v1/overrides"),
        ("POST", "/api/v1/time-off"),
    ):
        answer = client.request(
            method, path, content=b"{not json", headers={"content-type": "application/json"}
        )
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.json()["field"] == "authorization"


def test_a_viewer_is_refused_before_its_body_is_parsed(
    client: TestClient, demo: sessionmaker[Session], clock: FakeClock
) -> None:
    with demo() as s, s.begin():
        token = auth_service.create_token(s, person_id=None, role="viewer", now=clock.now())
    answer = client.patch(
        "/api/v1/incidents/1",
        content=b"{not json",
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert answer.status_code == 403 and answer.json()["field"] == "authorization"


# --- ids and instants -------------------------------------------------------------------------


@pytest.mark.parametrize("big", [PAST_INT32, PAST_INT64])
def test_ids_past_the_columns_are_422_on_every_api_route(
    client: TestClient, auth: dict[str, str], big: int
) -> None:
    for method, path in (
        ("GET", f"/api/v1/incidents/{big}"),
        ("PATCH", f"/api/v1/incidents/{big}"),
        ("POST", f"/api/v1/incidents/{big}/acknowledge"),
        ("POST", f"/api/v1/incidents/{big}/resolve"),
        ("POST", f"/api/v1/incidents/{big}/escalate"),
        ("POST", f"/api/v1/incidents/{big}/reopen"),
        ("DELETE", f"/api/v1/overrides/{big}"),
    ):
        answer = client.request(method, path, headers=auth, json={})
        assert answer.status_code == 422, (method, path, answer.text)
        assert answer.json()["field"] in ("incident_id", "override_id")
    assert client.get("/api/v1/incidents/0", headers=auth).status_code == 422
    assert client.get(f"/api/v1/incidents/{PAST_INT32 - 1}", headers=auth).status_code == 404


@pytest.mark.parametrize("big", [PAST_INT32, PAST_INT64])
def test_ids_past_the_columns_are_422_on_the_pages(
    client: TestClient, demo: sessionmaker[Session], clock: FakeClock, big: int
) -> None:
    make_login(demo, clock.now(), "boss", "admin")
    sign_in(client, "boss")
    token = csrf(client.get("/tokens").text)
    assert client.get(f"/incidents/{big}").status_code == 422
    for path in (
        f"/incidents/{big}/acknowledge",
        f"/incidents/{big}/priority",
        f"/tokens/{big}/revoke",
        f"/teams/checkout/overrides/{big}/remove",
    ):
        answer = client.post(path, data={"csrf_token": token}, follow_redirects=False)
        assert answer.status_code == 422, (path, answer.text)


@pytest.mark.parametrize(
    "params",
    [
        {"at": "9999-12-31T23:59:59Z"},
        {"at": "0001-01-01T00:00:00Z"},
        {"at": "0001-01-01T00:00:00+14:00"},
        {"at": "1969-12-31T23:59:59Z"},
        {"at": "3000-01-01T00:00:00Z"},
    ],
)
def test_instants_out_of_range_are_422(
    client: TestClient, auth: dict[str, str], params: dict[str, str]
) -> None:
    answer = client.get("/api/v1/oncall", params=params, headers=auth)
    assert answer.status_code == 422 and answer.json() == {
        "error": "Value error, must be from 1970-01-01T00:00:00Z to before 3000-01-01T00:00:00Z",
        "field": "at",
    }


def test_schedule_changes_in_year_1_are_422_and_store_nothing(
    client: TestClient, demo: sessionmaker[Session], auth: dict[str, str]
) -> None:
    year1, soon = "0001-01-01T00:00:00Z", "2026-11-26T10:00:00Z"
    for path, body, field in (
        (
            "/api/v1/overrides",
            {"team": "checkout", "slot": "backend", "person": "ravi", "start": year1, "end": soon},
            "start",
        ),
        (
            "/api/v1/swaps",
            {"team": "checkout", "slot": "backend", "first": year1, "second": soon},
            "first",
        ),
        ("/api/v1/time-off", {"person": "asha", "start": year1, "end": soon}, "start"),
        (
            "/api/v1/overrides",
            {
                "team": "checkout",
                "slot": "backend",
                "person": "ravi",
                "start": soon,
                "end": "9999-12-31T23:59:59Z",
            },
            "end",
        ),
    ):
        answer = client.post(path, json=body, headers=auth)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["field"] == field
    listed = client.get("/api/v1/overrides", params={"start": year1}, headers=auth)
    assert listed.status_code == 422 and listed.json()["field"] == "start"
    with demo() as s:
        assert s.scalar(select(func.count()).select_from(m.Override)) == 0
        assert s.scalar(select(func.count()).select_from(m.TimeOff)) == 0


def test_a_year_1_override_from_the_team_page_is_422(
    client: TestClient, demo: sessionmaker[Session], clock: FakeClock
) -> None:
    make_login(demo, clock.now(), "asha", "responder", person="asha")
    sign_in(client, "asha")
    token = csrf(client.get("/teams/checkout").text)
    answer = client.post(
        "/teams/checkout/overrides",
        data={
            "csrf_token": token,
            "slot": "backend",
            "person": "ravi",
            "start": "0001-01-01T00:00",
            "end": (clock.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert answer.status_code == 422 and "from 1970-01-01" in answer.text


# --- NUL characters, which PostgreSQL cannot store or compare in text -------------------------


def test_a_nul_in_the_url_is_400_on_every_route(
    client: TestClient, demo: sessionmaker[Session], auth: dict[str, str]
) -> None:
    for method, url in (
        ("GET", "/api/v1/oncall?team=a%00b"),
        ("GET", "/api/v1/incidents?service=%00"),
        ("GET", "/api/v1/teams/a%00b/shifts"),
        ("POST", "/integrations/a%00b"),
        ("GET", "/teams/a%00b"),
        ("GET", "/people/a%00b"),
    ):
        answer = client.request(method, url, headers=auth)
        assert answer.status_code == 400, (url, answer.text)
        assert answer.json() == {"error": "the URL must not contain a NUL character", "field": None}


def test_a_nul_in_any_api_text_is_422(
    client: TestClient, demo: sessionmaker[Session], auth: dict[str, str]
) -> None:
    window = {"start": "2026-12-02T00:00:00Z", "end": "2026-12-03T00:00:00Z"}
    for method, path, body, field in (
        ("POST", "/api/v1/incidents", {"service": "storefront", "title": "a\x00bc"}, "title"),
        ("POST", "/api/v1/incidents", {"service": "s\x00", "title": "abc"}, "service"),
        (
            "POST",
            "/api/v1/incidents",
            {"service": "storefront", "title": "abc", "links": ["\x00"]},
            "links.0",
        ),
        (
            "POST",
            "/api/v1/overrides",
            {"team": "c\x00", "slot": "a", "person": "b", **window},
            "team",
        ),
        ("POST", "/api/v1/time-off", {"person": "asha", "reason": "\x00", **window}, "reason"),
        (
            "POST",
            "/api/v1/swaps",
            {"team": "checkout", "slot": "\x00", "first": window["start"], "second": window["end"]},
            "slot",
        ),
    ):
        answer = client.request(method, path, json=body, headers=auth)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json() == {
            "error": "Value error, must not contain a NUL character",
            "field": field,
        }


def test_a_nul_in_a_form_is_422(
    client: TestClient, demo: sessionmaker[Session], clock: FakeClock
) -> None:
    make_login(demo, clock.now(), "asha", "responder", person="asha")
    sign_in(client, "asha")
    token = csrf(client.get("/teams/checkout").text)
    answer = client.post(
        "/teams/checkout/overrides",
        data={
            "csrf_token": token,
            "slot": "backend",
            "person": "ra\x00vi",
            "start": "x",
            "end": "y",
        },
    )
    assert answer.status_code == 422
    assert answer.json() == {"error": "person must not contain a NUL character", "field": "person"}
