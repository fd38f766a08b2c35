"""The on-call report on a small history with known answers: MTTA/MTTR medians and p90s, SLA
percentages, escalation levels, pages at night in the person's zone, the noisiest key, hours
on call from the rota, journey stages and check completion; the API's bad ranges (422), CSV,
the CLI, Prometheus histograms, and that a report does not hold SQLite's write lock."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_cli import run
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example

from onduty import models as m
from onduty.auth import service as auth_service
from onduty.clock import FakeClock
from onduty.db import dialect

T0 = datetime(2026, 11, 30, 5, 30, tzinfo=UTC)  # Mon 11:00 IST


def incident(
    s: Session,
    number: int,
    *,
    service: str,
    priority: str,
    at: datetime,
    ack: tuple[int, str] | None = None,
    resolve: int | None = None,
    pages: list[tuple[int, str, int]] = (),  # type: ignore[assignment]
    key: str = "",
) -> int:
    stages = {"reported": at.isoformat()}
    if ack:
        stages["acknowledged"] = (at + timedelta(seconds=ack[0])).isoformat()
    if resolve:
        stages["resolved_on_call"] = (at + timedelta(seconds=resolve)).isoformat()
    incident_id = s.execute(
        insert(m.Incident).returning(m.Incident.id),
        {
            "number": number,
            "title": f"incident {number}",
            "status": "resolved" if resolve else "acknowledged" if ack else "triggered",
            "service_id": service,
            "team_id": "checkout",
            "priority": priority,
            "rule_priority": priority,
            "source": "alertmanager",
            "stages": stages,
            "stage": "reported",
            "backlog": False,
            "page_due_at": at,
            "generation": 1,
            "created_at": at,
            "acknowledged_at": at + timedelta(seconds=ack[0]) if ack else None,
            "acknowledged_by": ack[1] if ack else None,
            "resolved_at": at + timedelta(seconds=resolve) if resolve else None,
        },
    ).scalar_one()
    for step, person, after in pages:
        s.execute(
            insert(m.Notification),
            {
                "incident_id": incident_id,
                "generation": 1,
                "cycle": 0,
                "step": step,
                "person_id": person,
                "target": "primary",
                "created_at": at + timedelta(seconds=after),
            },
        )
    s.execute(
        insert(m.Alert),
        {
            "incident_id": incident_id,
            "service_id": service,
            "dedup_key": key or f"am:v1:{number}",
            "status": "firing",
            "summary": f"alert {number}",
            "labels": {},
            "details": {},
            "count": 1,
            "first_seen": at,
            "last_seen": at,
        },
    )
    return incident_id


@pytest.fixture
def history(session_factory: sessionmaker[Session]) -> None:
    apply_doc(session_factory, example())
    with session_factory() as s, s.begin():
        incident(
            s,
            1,
            service="storefront",
            priority="P1",
            at=T0,
            ack=(60, "asha"),
            resolve=3600,
            pages=[(0, "asha", 0)],
        )
        incident(
            s,
            2,
            service="storefront",
            priority="P1",
            at=T0 + timedelta(days=1),
            ack=(600, "ravi"),
            resolve=5 * 3600,
            pages=[(0, "asha", 0), (1, "ravi", 300)],
        )
        # Wed 00:30 IST: a page at night (and out of working hours) for ravi.
        incident(
            s,
            3,
            service="payments",
            priority="P3",
            at=datetime(2026, 12, 1, 19, 0, tzinfo=UTC),
            pages=[(0, "ravi", 0)],
            key="am:v1:disk-full",
        )
        s.add(
            m.Check(
                id="smoke",
                type="checklist",
                team_id="checkout",
                spec={},
                state="ok",
                failures=0,
                pings=0,
            )
        )
        s.flush()
        for day, kinds in ((1, ["due", "done"]), (2, ["due", "missed"])):
            for kind in kinds:
                s.add(
                    m.CheckRun(
                        check_id="smoke",
                        at=T0 + timedelta(days=day),
                        kind=kind,
                        day=date(2026, 11, 30) + timedelta(days=day),
                        ok=True,
                    )
                )


def api(
    client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> dict[str, str]:
    with session_factory() as s, s.begin():
        token = auth_service.create_token(s, person_id=None, role="viewer", now=clock.now())
    return {"Authorization": f"Bearer {token}"}


def test_report_figures(
    history: None, client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    clock.set(datetime(2026, 12, 7, tzinfo=UTC))
    auth = api(client, session_factory, clock)
    answer = client.get(
        "/api/v1/reports/oncall",
        params={"team": "checkout", "since": "2026-11-30", "until": "2026-12-06"},
        headers=auth,
    )
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    # Dates are inclusive, in the team's zone (Asia/Kolkata, +05:30).
    assert (doc["since"], doc["until"]) == (
        "2026-11-29T18:30:00+00:00",
        "2026-12-06T18:30:00+00:00",
    )
    t = doc["totals"]
    assert t["incidents"] == 3 and t["acknowledged"] == 2 and t["resolved"] == 2
    assert (t["mtta_median_s"], t["mtta_p90_s"]) == (330.0, 546.0)
    assert (t["mttr_median_s"], t["mttr_p90_s"]) == (10800.0, 16560.0)
    assert t["acknowledged_within_ack_timeout_pct"] == 33.3  # 1 of 3 within 5 minutes
    assert t["resolved_within_target_pct"] == 33.3  # P1 in 1 h of 4; P1 in 5 h; P3 open
    assert [(r["priority"], r["incidents"]) for r in doc["by_priority"]] == [("P1", 2), ("P3", 1)]
    assert [(r["service"], r["incidents"]) for r in doc["by_service"]] == [
        ("payments", 1),
        ("storefront", 2),
    ]
    people = {p["person"]: p for p in doc["by_person"]}
    assert (people["asha"]["acknowledged"], people["asha"]["mtta_median_s"]) == (1, 60.0)
    assert (people["asha"]["pages"], people["asha"]["pages_night"]) == (2, 0)
    assert (
        people["ravi"]["pages"],
        people["ravi"]["pages_off_hours"],
        people["ravi"]["pages_night"],
    ) == (2, 1, 1)
    # From the rota: neha held frontend until Mon 10:00 IST (10 h of the range), asha since.
    assert (people["neha"]["shifts"], people["neha"]["hours_on_call"]) == (1, 10.0)
    assert (people["asha"]["shifts"], people["asha"]["hours_on_call"]) == (1, 158.0)
    assert doc["escalations"] == [{"level": 1, "incidents": 2}, {"level": 2, "incidents": 1}]
    [noisy] = doc["noisy_keys"]
    assert (noisy["key"], noisy["night_pages"], noisy["summary"]) == (
        "am:v1:disk-full",
        1,
        "alert 3",
    )
    stages = {s["stage"]: s for s in doc["stages"]}
    assert stages["reported"] == {"stage": "reported", "reached": 3, "mean_seconds_to_next": 330.0}
    assert stages["acknowledged"]["mean_seconds_to_next"] == 10470.0
    assert doc["checks"] == [
        {
            "check": "smoke",
            "type": "checklist",
            "team": "checkout",
            "due": 2,
            "done": 1,
            "missed": 1,
            "completion_pct": 50.0,
        }
    ]
    weeks = {w["week_start"]: w for w in doc["weekly"]}
    assert weeks["2026-11-30"]["incidents"] == 3 and weeks["2026-11-30"]["pages"] == 4
    # CSV: the same figures, one per row.
    text = client.get(
        "/api/v1/reports/oncall",
        params={"team": "checkout", "since": "2026-11-30", "until": "2026-12-06", "format": "csv"},
        headers=auth,
    ).text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "group", "metric", "value"]
    assert ["by_person", "ravi", "pages_night", "1"] in rows


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"since": "2026-12-06", "until": "2026-11-30"}, "until", "until must be after since"),
        ({"since": "2024-01-01", "until": "2026-01-01"}, "since", "at most 400 are allowed"),
        ({"since": "last tuesday"}, "since", "is not a date"),
        ({"team": "nope"}, "team", "no team with id 'nope'"),
    ],
)
def test_bad_ranges_are_a_clear_422(
    client: TestClient,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    params: dict[str, str],
    field: str,
    words: str,
) -> None:
    apply_doc(session_factory, example())
    answer = client.get(
        "/api/v1/reports/oncall", params=params, headers=api(client, session_factory, clock)
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == field and words in answer.json()["error"]


def test_prometheus_histograms(history: None, client: TestClient) -> None:
    text = client.get("/metrics").text
    assert 'onduty_time_to_acknowledge_seconds_bucket{le="300.0",priority="P1"} 1.0' in text
    assert 'onduty_time_to_acknowledge_seconds_bucket{le="+Inf",priority="P1"} 2.0' in text
    assert 'onduty_time_to_acknowledge_seconds_sum{priority="P1"} 660.0' in text
    assert 'onduty_time_to_resolve_seconds_bucket{le="14400.0",priority="P1"} 1.0' in text


def test_cli_report_json_and_csv(history: None, db_url: str) -> None:
    args = ("report", "--team", "checkout", "--since", "2026-11-30", "--until", "2026-12-06")
    doc = json.loads(run(db_url, *args, "--json").stdout)
    assert doc["totals"]["incidents"] == 3
    text = run(db_url, *args, "--csv").stdout
    assert "totals,,incidents,3" in text.splitlines()
    shown = run(db_url, *args).stdout
    assert "3 incidents; MTTA median 5m 30s" in shown
    bad = run(db_url, "report", "--since", "2026-12-06", "--until", "2026-11-30")
    assert (bad.returncode, bad.stderr.strip()) == (1, "error: until must be after since")


def test_a_report_does_not_hold_the_sqlite_writer(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as reader:
        reader.connection(execution_options={dialect.READ_ONLY: True})
        reader.execute(m.Incident.__table__.select()).all()
        done = threading.Event()

        def write() -> None:
            with session_factory() as s, s.begin():
                s.add(m.Counter(name="probe", value=1))
            done.set()

        threading.Thread(target=write, daemon=True).start()
        assert done.wait(5), "the writer waited for the report's transaction"
