"""Who is on call, overrides (with conflicts), swaps, time off, responders and iCal feeds,
through the service and the HTTP API, on the demo organisation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example

from onduty.auth import service as auth_service
from onduty.clock import FakeClock
from onduty.errors import Conflict
from onduty.schedules import ical
from onduty.schedules import service as schedules_service
from onduty.schedules.models import Override, TimeOff

# The demo rota hands off on Mondays at 10:00 Asia/Kolkata (04:30Z) from 2026-11-02:
# weeks 0, 2, 4… asha (frontend) and ravi (backend); weeks 1, 3, 5… neha and arjun.
WEEK3_START = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)
WEEK4_START = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)
THURSDAY = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def demo(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    apply_doc(session_factory, example())
    return session_factory


@pytest.fixture
def auth(demo: sessionmaker[Session], clock: FakeClock) -> dict[str, str]:
    with demo() as s, s.begin():
        token = auth_service.create_token(s, person_id="asha", role="responder", now=clock.now())
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def manager(demo: sessionmaker[Session], clock: FakeClock) -> dict[str, str]:
    with demo() as s, s.begin():
        token = auth_service.create_token(s, person_id="cto", role="manager", now=clock.now())
    return {"Authorization": f"Bearer {token}"}


def test_who_is_on_call_with_whole_shifts(demo: sessionmaker[Session]) -> None:
    with demo() as s:
        rows = schedules_service.on_call_at(s, at=THURSDAY, team_id="checkout")
    assert [(r.slot, r.person, r.start, r.end) for r in rows] == [
        ("frontend", "neha", WEEK3_START, WEEK4_START),
        ("backend", "arjun", WEEK3_START, WEEK4_START),
    ]


def test_oncall_endpoint(client: TestClient, auth: dict[str, str]) -> None:
    answer = client.get(
        "/api/v1/oncall", params={"team": "catalog", "at": "2026-11-30T04:30:00Z"}, headers=auth
    )
    assert answer.status_code == 200
    assert answer.json() == [
        {
            "team": "catalog",
            "slot": "frontend",
            "person": "priya",
            "source": "rota",
            "start": "2026-11-30T04:30:00Z",
            "end": "2026-12-07T04:30:00Z",
        },
        {
            "team": "catalog",
            "slot": "backend",
            "person": "sana",
            "source": "rota",
            "start": "2026-11-30T04:30:00Z",
            "end": "2026-12-07T04:30:00Z",
        },
    ]
    assert client.get("/api/v1/oncall", params={"team": "nope"}, headers=auth).status_code == 404
    bad = client.get("/api/v1/oncall", params={"at": "yesterday"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["field"] == "at"


def test_override_changes_only_its_window(client: TestClient, auth: dict[str, str]) -> None:
    made = client.post(
        "/api/v1/overrides",
        json={
            "team": "checkout",
            "slot": "backend",
            "person": "ravi",
            "start": "2026-11-26T10:00:00Z",
            "end": "2026-11-26T14:00:00Z",
        },
        headers=auth,
    )
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == "asha"

    def who(at: str) -> tuple[str, str, str]:
        rows = client.get(
            "/api/v1/oncall", params={"team": "checkout", "at": at}, headers=auth
        ).json()
        backend = next(r for r in rows if r["slot"] == "backend")
        return backend["person"], backend["start"], backend["end"]

    assert who("2026-11-26T09:59:59Z") == ("arjun", "2026-11-23T04:30:00Z", "2026-11-26T10:00:00Z")
    assert who("2026-11-26T12:00:00Z") == ("ravi", "2026-11-26T10:00:00Z", "2026-11-26T14:00:00Z")
    assert who("2026-11-26T14:00:00Z") == ("arjun", "2026-11-26T14:00:00Z", "2026-11-30T04:30:00Z")
    front = client.get(
        "/api/v1/oncall", params={"team": "checkout", "at": "2026-11-26T12:00:00Z"}, headers=auth
    )
    assert front.json()[0]["person"] == "neha"
    removed = client.delete(f"/api/v1/overrides/{made.json()['id']}", headers=auth)
    assert removed.status_code == 204
    assert who("2026-11-26T12:00:00Z")[0] == "arjun"


def test_conflicting_override_is_refused(client: TestClient, auth: dict[str, str]) -> None:
    body = {
        "team": "checkout",
        "slot": "backend",
        "person": "ravi",
        "start": "2026-11-26T10:00:00Z",
        "end": "2026-11-26T14:00:00Z",
    }
    assert client.post("/api/v1/overrides", json=body, headers=auth).status_code == 201
    clash = client.post(
        "/api/v1/overrides",
        json={**body, "person": "arjun", "start": "2026-11-26T13:00:00Z"},
        headers=auth,
    )
    assert clash.status_code == 409
    assert (
        clash.json()["field"] == "start"
        and "already gives checkout/backend to ravi" in clash.json()["error"]
    )
    other_slot = client.post("/api/v1/overrides", json={**body, "slot": "frontend"}, headers=auth)
    assert other_slot.status_code == 201
    after = client.post(
        "/api/v1/overrides",
        json={**body, "start": "2026-11-26T14:00:00Z", "end": "2026-11-26T15:00:00Z"},
        headers=auth,
    )
    assert after.status_code == 201  # touching, not overlapping


def test_concurrent_conflicting_overrides_store_exactly_one(
    client: TestClient, auth: dict[str, str], demo: sessionmaker[Session]
) -> None:
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def post(person: str) -> None:
        barrier.wait()
        answer = client.post(
            "/api/v1/overrides",
            json={
                "team": "checkout",
                "slot": "frontend",
                "person": person,
                "start": "2026-12-01T00:00:00Z",
                "end": "2026-12-02T00:00:00Z",
            },
            headers=auth,
        )
        codes.append(answer.status_code)

    threads = [
        threading.Thread(target=post, args=(p,))
        for p in ("asha", "neha", "priya", "dev", "asha", "neha")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201, 409, 409, 409, 409, 409]
    with demo() as s:
        assert s.scalar(select(func.count()).select_from(Override)) == 1


def test_override_input_errors(client: TestClient, auth: dict[str, str]) -> None:
    base = {
        "team": "checkout",
        "slot": "backend",
        "person": "ravi",
        "start": "2026-11-26T10:00:00Z",
        "end": "2026-11-26T14:00:00Z",
    }
    cases = [
        ({"team": "nope"}, 404, "team"),
        ({"slot": "mobile"}, 404, "slot"),
        ({"person": "bob"}, 404, "person"),
        ({"end": "2026-11-26T09:00:00Z"}, 422, "end"),
        ({"start": "2026-11-26T10:00:00"}, 422, "start"),
    ]
    for change, status, field in cases:
        answer = client.post("/api/v1/overrides", json={**base, **change}, headers=auth)
        assert (answer.status_code, answer.json()["field"]) == (status, field), (
            change,
            answer.text,
        )


def test_viewer_cannot_make_overrides(
    client: TestClient, demo: sessionmaker[Session], clock: FakeClock
) -> None:
    with demo() as s, s.begin():
        token = auth_service.create_token(s, person_id=None, role="viewer", now=clock.now())
    answer = client.post(
        "/api/v1/overrides",
        json={
            "team": "checkout",
            "slot": "backend",
            "person": "ravi",
            "start": "2026-11-26T10:00:00Z",
            "end": "2026-11-26T14:00:00Z",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 403


def test_swap_exchanges_two_shifts_atomically(client: TestClient, auth: dict[str, str]) -> None:
    answer = client.post(
        "/api/v1/swaps",
        json={
            "team": "checkout",
            "slot": "frontend",
            "first": "2026-11-26T12:00:00Z",
            "second": "2026-12-01T12:00:00Z",
        },
        headers=auth,
    )
    assert answer.status_code == 201, answer.text
    pairs = [(o["person"], o["start"], o["end"]) for o in answer.json()]
    assert pairs == [
        ("asha", "2026-11-23T04:30:00Z", "2026-11-30T04:30:00Z"),
        ("neha", "2026-11-30T04:30:00Z", "2026-12-07T04:30:00Z"),
    ]
    # A second swap over the same shifts collides with the first: nothing of it is stored.
    again = client.post(
        "/api/v1/swaps",
        json={
            "team": "checkout",
            "slot": "frontend",
            "first": "2026-12-15T12:00:00Z",
            "second": "2026-12-01T12:00:00Z",
        },
        headers=auth,
    )
    assert again.status_code == 409
    listed = client.get("/api/v1/overrides", params={"team": "checkout"}, headers=auth).json()
    assert len(listed) == 2


def test_time_off_is_covered_by_the_next_person(
    client: TestClient, manager: dict[str, str], demo: sessionmaker[Session]
) -> None:
    made = client.post(
        "/api/v1/time-off",
        json={"person": "arjun", "start": "2026-11-26T00:00:00Z", "end": "2026-11-27T00:00:00Z"},
        headers=manager,  # someone else's time off needs a manager
    )
    assert made.status_code == 201
    with demo() as s:
        at_noon = {
            r.slot: r for r in schedules_service.on_call_at(s, at=THURSDAY, team_id="checkout")
        }
    assert (at_noon["backend"].person, at_noon["backend"].source) == ("ravi", "cover")


def test_responders_for_each_target(demo: sessionmaker[Session]) -> None:
    with demo() as s:

        def r(target: str, discipline: str | None = "frontend") -> list[str]:
            return schedules_service.responders(
                s, team_id="checkout", discipline=discipline, target=target, at=THURSDAY
            )

        assert r("primary") == ["neha"]
        assert r("secondary") == ["arjun"]
        assert r("primary", "backend") == ["arjun"]
        assert r("secondary", "backend") == ["neha"]
        assert r("primary", None) == ["neha"]
        assert r("team") == ["neha", "arjun"]
        assert (r("L1"), r("L2"), r("L3")) == (["meera"], ["karan"], ["cto"])
        assert r("person:priya") == ["priya"]
        assert r("person:ghost") == []
        assert r("slot:catalog/backend") == ["vikram"]


def test_handoffs_in_a_window(demo: sessionmaker[Session]) -> None:
    with demo() as s:
        events = schedules_service.handoffs(
            s,
            team_id="checkout",
            start=WEEK4_START - timedelta(hours=1),
            end=WEEK4_START + timedelta(hours=1),
        )
    assert [(h.slot, h.person, h.at) for h in events] == [
        ("frontend", "asha", WEEK4_START),
        ("backend", "ravi", WEEK4_START),
    ]


def test_ical_feeds_are_valid_and_secret(
    client: TestClient, auth: dict[str, str], clock: FakeClock
) -> None:
    clock.set(THURSDAY)
    urls = client.get("/api/v1/calendars", headers=auth).json()
    team_url = urls["teams"]["checkout"].removeprefix("http://onduty.test")
    answer = client.get(team_url)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(answer.content)
    assert cal.walk("VTIMEZONE")[0]["TZID"] == "Asia/Kolkata"
    events = [
        (str(e["SUMMARY"]), e.decoded("DTSTART"), e.decoded("DTEND")) for e in cal.walk("VEVENT")
    ]
    assert ("On call: checkout frontend (neha)", WEEK3_START, WEEK4_START) in [
        (name, start.astimezone(UTC), end.astimezone(UTC)) for name, start, end in events
    ]
    raw = answer.content.decode()
    assert "DTSTART;TZID=Asia/Kolkata:20261123T100000" in raw
    person = client.get(urls["people"]["ravi"].removeprefix("http://onduty.test"))
    people_events = Calendar.from_ical(person.content).walk("VEVENT")
    assert people_events and all("(ravi)" in str(e["SUMMARY"]) for e in people_events)
    assert client.get("/ical/team/checkout.ics?token=forged").status_code == 404
    token = ical.feed_token("test-secret-key-0123456789abcdef", "team", "catalog")
    assert client.get(f"/ical/team/checkout.ics?token={token}").status_code == 404


def test_service_conflict_error(demo: sessionmaker[Session], clock: FakeClock) -> None:
    with demo() as s, s.begin():
        schedules_service.create_override(
            s,
            team_id="checkout",
            slot="backend",
            person_id="ravi",
            start=utc("2026-12-02T12:30"),
            end=utc("2026-12-03T03:30"),
            now=clock.now(),
        )
    with demo() as s, s.begin(), pytest.raises(Conflict):
        schedules_service.create_override(
            s,
            team_id="checkout",
            slot="backend",
            person_id="arjun",
            start=utc("2026-12-03T00:00"),
            end=utc("2026-12-04T00:00"),
            now=clock.now(),
        )


# --- who may change schedules, for how long, and who did ---------------------------------------


def test_time_off_records_its_author(
    client: TestClient, auth: dict[str, str], manager: dict[str, str], demo: sessionmaker[Session]
) -> None:
    window = {"start": "2026-11-26T00:00:00Z", "end": "2026-11-27T00:00:00Z"}
    own = client.post("/api/v1/time-off", json={"person": "asha", **window}, headers=auth)
    assert own.status_code == 201, own.text
    assert own.json()["created_by"] == "asha"
    other = client.post("/api/v1/time-off", json={"person": "arjun", **window}, headers=manager)
    assert other.status_code == 201 and other.json()["created_by"] == "cto"
    with demo() as s:
        rows = s.scalars(select(TimeOff).order_by(TimeOff.id)).all()
        assert [(r.person_id, r.created_by, r.managed) for r in rows] == [
            ("asha", "asha", False),
            ("arjun", "cto", False),
        ]
        assert all(r.created_at is not None for r in rows)


def test_a_responder_adds_only_their_own_time_off(
    client: TestClient, auth: dict[str, str], demo: sessionmaker[Session], clock: FakeClock
) -> None:
    # Time off takes a person off every rota: from year 1 to 9999 it silenced them for good.
    window = {"start": "2026-11-26T00:00:00Z", "end": "2026-11-27T00:00:00Z"}
    with demo() as s, s.begin():
        nobody = auth_service.create_token(s, person_id=None, role="responder", now=clock.now())
    for headers in (auth, {"Authorization": f"Bearer {nobody}"}):
        answer = client.post(
            "/api/v1/time-off", json={"person": "arjun", **window}, headers=headers
        )
        assert answer.status_code == 403 and answer.json()["field"] == "person"
    with demo() as s:
        assert s.scalar(select(func.count()).select_from(TimeOff)) == 0
        assert schedules_service.on_call_at(s, at=THURSDAY, team_id="checkout")[1].person == "arjun"


def test_schedule_windows_have_a_configurable_maximum(
    client: TestClient, auth: dict[str, str], demo: sessionmaker[Session]
) -> None:
    override = {"team": "checkout", "slot": "backend", "person": "ravi"}
    day = {"start": "2026-11-26T00:00:00Z", "end": "2026-11-27T00:00:00Z"}
    long = {"start": "2026-11-26T00:00:00Z", "end": "2027-03-01T00:00:00Z"}  # 95 days
    for path, body in (
        ("/api/v1/overrides", {**override, **long}),
        ("/api/v1/time-off", {"person": "asha", **long}),
    ):
        answer = client.post(path, json=body, headers=auth)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json() == {
            "error": "the window is longer than the most allowed, 90d",
            "field": "end",
        }
    client.app.state.settings.max_schedule_window = timedelta(hours=12)  # type: ignore[attr-defined]
    assert (
        client.post("/api/v1/overrides", json={**override, **day}, headers=auth).status_code == 422
    )
    # A swap makes two overrides of whole (here weekly) shifts: each is bounded the same way.
    swap = {"team": "checkout", "slot": "frontend"}
    instants = {"first": "2026-11-26T12:00:00Z", "second": "2026-12-01T12:00:00Z"}
    answer = client.post("/api/v1/swaps", json={**swap, **instants}, headers=auth)
    assert answer.status_code == 422 and answer.json()["field"] == "end"
    client.app.state.settings.max_schedule_window = timedelta(days=7)  # type: ignore[attr-defined]
    assert client.post("/api/v1/swaps", json={**swap, **instants}, headers=auth).status_code == 201
    with demo() as s:
        assert [o.created_by for o in s.scalars(select(Override))] == ["asha", "asha"]


def test_schedule_names_are_bounded(client: TestClient, auth: dict[str, str]) -> None:
    window = {"start": "2026-11-26T00:00:00Z", "end": "2026-11-27T00:00:00Z"}
    long = "x" * 65
    for path, body, field in (
        (
            "/api/v1/overrides",
            {"team": long, "slot": "backend", "person": "ravi", **window},
            "team",
        ),
        (
            "/api/v1/overrides",
            {"team": "checkout", "slot": long, "person": "ravi", **window},
            "slot",
        ),
        ("/api/v1/time-off", {"person": long, **window}, "person"),
    ):
        answer = client.post(path, json=body, headers=auth)
        assert answer.status_code == 422 and answer.json()["field"] == field, answer.text


def test_time_zones_endpoint(
    client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    doc = example()
    doc["teams"][1]["rota"]["timezone"] = "Europe/London"
    doc["teams"].append({"id": "qa", "name": "QA", "members": ["meera"]})
    apply_doc(session_factory, doc)
    with session_factory() as s, s.begin():
        token = auth_service.create_token(s, person_id=None, role="viewer", now=clock.now())
    assert client.get("/api/v1/timezones").status_code == 401
    answer = client.get("/api/v1/timezones", headers={"Authorization": f"Bearer {token}"})
    assert answer.json() == {
        "organization": "Asia/Kolkata",
        "teams": {"checkout": "Asia/Kolkata", "catalog": "Europe/London", "qa": "Asia/Kolkata"},
    }
