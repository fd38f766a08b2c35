"""Inbound alerts over HTTP, on the real database: answers, dedup under concurrency, grouping,
resolve, PagerDuty's exact answers, limits, and that a rejected request stores nothing."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.scenario import alertmanager

from onduty import models as m

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
PD_KEY = "0123456789abcdef0123456789abcdef"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def counts(session_factory: sessionmaker[Session]) -> tuple[int, int, int]:
    with session_factory() as s:
        return (
            s.scalar(select(func.count()).select_from(m.Incident)) or 0,
            s.scalar(select(func.count()).select_from(m.Alert)) or 0,
            s.scalar(select(func.count()).select_from(m.TimelineEvent)) or 0,
        )


@pytest.fixture
def keys(session_factory: sessionmaker[Session]) -> dict[str, str]:
    apply_doc(session_factory, example())
    with session_factory() as s:
        return {f"{g.service_id}/{g.name}": g.key for g in s.scalars(select(m.Integration))}


def test_alertmanager_group_becomes_one_incident_with_three_alerts(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    answer = client.post(
        f"/integrations/{keys['storefront/prod-alerts']}",
        content=payload("alertmanager_firing_group_of_3.json"),
    )
    assert answer.status_code == 202 and answer.json()["alerts"] == 3
    assert counts(session_factory)[:2] == (1, 3)
    again = client.post(
        f"/integrations/{keys['storefront/prod-alerts']}",
        content=payload("alertmanager_firing_group_of_3.json"),
    )
    assert again.status_code == 202 and again.json()["incidents_created"] == []
    with session_factory() as s:
        assert sorted(s.scalars(select(m.Alert.count))) == [2, 2, 2]
        incident = s.scalars(select(m.Incident)).one()
        assert (incident.number, incident.status, incident.team_id) == (1, "triggered", "checkout")
        assert incident.priority in ("P1", "P2", "P3", "P4") and incident.stages["reported"]


def test_resolve_resolves_the_incident_when_every_alert_is_resolved(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    url = f"/integrations/{keys['search/prod-alerts']}"
    client.post(url, content=alertmanager("A", fp="a"))
    client.post(url, content=alertmanager("B", fp="b"))
    client.post(url, content=alertmanager("A", fp="a", status="resolved"))
    with session_factory() as s:
        statuses = dict(s.execute(select(m.Incident.title, m.Incident.status)).all())
    assert statuses == {"A is failing": "resolved", "B is failing": "triggered"}
    client.post(url, content=alertmanager("A", fp="a"))
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(m.Incident)) == 3  # a new incident


def test_auto_resolve_can_be_switched_off(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    doc = example()
    doc["services"][2]["integrations"][0]["auto_resolve"] = False
    apply_doc(session_factory, doc)
    with session_factory() as s:
        key = s.scalars(select(m.Integration.key).where(m.Integration.service_id == "search")).one()
    client.post(f"/integrations/{key}", content=alertmanager("A", fp="a"))
    client.post(f"/integrations/{key}", content=alertmanager("A", fp="a", status="resolved"))
    with session_factory() as s:
        assert s.scalars(select(m.Incident.status)).one() == "triggered"
        assert s.scalars(select(m.Alert.status)).one() == "resolved"


def test_fifty_concurrent_identical_posts_make_one_incident(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    url = f"/integrations/{keys['storefront/prod-alerts']}"
    body = alertmanager("Same", fp="same")
    barrier = threading.Barrier(50)
    codes: list[int] = []

    def post() -> None:
        barrier.wait()
        codes.append(client.post(url, content=body).status_code)

    threads = [threading.Thread(target=post) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [202] * 50
    incidents, alerts, _ = counts(session_factory)
    assert (incidents, alerts) == (1, 1)
    with session_factory() as s:
        assert s.scalars(select(m.Alert.count)).one() == 50


def test_gcp_open_close_and_the_console_test(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    url = f"/integrations/{keys['storefront/gcp']}"
    test = client.post(url, content=payload("gcp_test_notification.json"))
    assert test.status_code == 202 and counts(session_factory)[0] == 0  # accepted, nothing stored
    assert client.post(url, content=payload("gcp_1_2_open.json")).status_code == 202
    assert client.post(url, content=payload("gcp_1_2_closed.json")).status_code == 202
    with session_factory() as s:
        assert s.scalars(select(m.Incident.status)).one() == "resolved"


def test_pagerduty_events_v2_answers_exactly(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    event = json.loads(payload("pagerduty_trigger.json"))
    event["routing_key"] = PD_KEY
    answer = client.post("/v2/enqueue", json=event)
    assert answer.status_code == 202
    assert answer.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "checkout-api/5xx-ratio",
    }
    no_key = {k: v for k, v in event.items() if k != "dedup_key"}
    generated = client.post("/v2/enqueue", json=no_key).json()["dedup_key"]
    assert len(generated) == 32
    ack = client.post(
        "/v2/enqueue",
        json={
            "routing_key": PD_KEY,
            "event_action": "acknowledge",
            "dedup_key": "checkout-api/5xx-ratio",
        },
    )
    assert ack.status_code == 202
    resolve = client.post(
        "/v2/enqueue",
        json={
            "routing_key": PD_KEY,
            "event_action": "resolve",
            "dedup_key": "checkout-api/5xx-ratio",
        },
    )
    assert resolve.status_code == 202
    with session_factory() as s:
        rows = dict(s.execute(select(m.Incident.id, m.Incident.status)).all())
    assert sorted(rows.values()) == ["resolved", "triggered"]
    bad = client.post("/v2/enqueue", json={**event, "event_action": "explode"})
    assert bad.status_code == 400 and bad.json()["status"] == "invalid event"
    unknown = client.post("/v2/enqueue", json={**event, "routing_key": "f" * 32})
    assert unknown.status_code == 404 and unknown.json()["errors"] == ["Invalid routing key"]
    garbage = client.post("/v2/enqueue", content=b"{nope")
    assert garbage.status_code == 400


@pytest.mark.parametrize(
    ("target", "body", "status", "field"),
    [
        ("unknown", b"{}", 404, "key"),
        ("storefront/prod-alerts", b"not json", 400, None),
        (
            "storefront/prod-alerts",
            b'{"version": "4", "status": "firing", "alerts": [{"labels": 5}]}',
            422,
            "alerts[0].labels",
        ),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(
    client: TestClient,
    keys: dict[str, str],
    session_factory: sessionmaker[Session],
    target: str,
    body: bytes,
    status: int,
    field: str | None,
) -> None:
    key = keys.get(target, "nope")
    answer = client.post(f"/integrations/{key}", content=body)
    assert answer.status_code == status
    assert answer.json()["field"] == field and answer.json()["error"]
    assert counts(session_factory) == (0, 0, 0)


def test_bodies_over_512_kib_are_refused(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    big = b'{"pad": "' + b"x" * (512 * 1024) + b'"}'
    answer = client.post(f"/integrations/{keys['storefront/prod-alerts']}", content=big)
    assert answer.status_code == 413
    assert client.post("/v2/enqueue", content=big).status_code == 413
    assert counts(session_factory) == (0, 0, 0)


def test_rate_limit_per_integration(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    doc = example()
    doc["services"][2]["integrations"][0]["rate_limit"] = 3
    apply_doc(session_factory, doc)
    with session_factory() as s:
        key = s.scalars(select(m.Integration.key).where(m.Integration.service_id == "search")).one()
    codes = [
        client.post(f"/integrations/{key}", content=alertmanager(f"A{i}", fp=f"a{i}")).status_code
        for i in range(5)
    ]
    assert codes == [202, 202, 202, 429, 429]
    assert counts(session_factory)[0] == 3


JSONS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(
        ["storefront/prod-alerts", "storefront/gcp", "payments/grafana", "catalog-web/uptime", "pd"]
    ),
    doc=JSONS,
    raw=st.binary(max_size=200),
    use_raw=st.booleans(),
)
def test_fuzz_inbound_endpoints_never_5xx(
    client: TestClient,
    keys: dict[str, str],
    session_factory: sessionmaker[Session],
    kind: str,
    doc: Any,
    raw: bytes,
    use_raw: bool,
) -> None:
    before = counts(session_factory)
    body = raw if use_raw else json.dumps(doc).encode()
    url = "/v2/enqueue" if kind == "pd" else f"/integrations/{keys[kind]}"
    answer = client.post(url, content=body)
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert counts(session_factory) == before
