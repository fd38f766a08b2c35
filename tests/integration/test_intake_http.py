"""Inbound alerts over HTTP: dedup, grouping, resolve, PagerDuty's answers, the 4xx answers
(nothing stored from a rejected request), rate limits, and the concurrent-duplicate race."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example

from onduty import models as m
from onduty.auth import service as auth_service
from onduty.clock import FakeClock

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
AM_KEY = "acmestorefrontalertmanager0001"  # storefront, alertmanager
GCP_KEY = "acmestorefrontgcp000000000001"  # storefront, gcp
GRAFANA_KEY = "acmepaymentsgrafana00000001"  # payments, grafana
GENERIC_KEY = "acmecatalogwebgeneric000001"  # catalog-web, generic with a mapping
PD_KEY = "0123456789abcdef0123456789abcdef"  # payments, pagerduty


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def pd(name: str, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(payload(name))
    doc["routing_key"] = PD_KEY
    doc.update(changes)
    return doc


def am(*alerts: tuple[str, str] | tuple[str, str, dict[str, str]], group: str = "g1") -> bytes:
    """An Alertmanager v4 body; each alert is (fingerprint, status[, extra labels])."""
    items = []
    for spec in alerts:
        fp, status = spec[0], spec[1]
        extra = spec[2] if len(spec) > 2 else {}  # type: ignore[misc]
        labels = {"alertname": f"Alert-{fp}", "severity": "critical", **extra}
        items.append(
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": f"{labels['alertname']} is failing"},
                "startsAt": "2026-11-30T04:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.local/graph",
                "fingerprint": fp,
            }
        )
    return json.dumps(
        {
            "version": "4",
            "groupKey": group,
            "status": items[0]["status"],
            "receiver": "onduty",
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.local",
            "alerts": items,
        }
    ).encode()


def counts(session_factory: sessionmaker[Session]) -> tuple[int, int, int]:
    with session_factory() as s:
        return (
            s.scalar(select(func.count()).select_from(m.Incident)) or 0,
            s.scalar(select(func.count()).select_from(m.Alert)) or 0,
            s.scalar(select(func.count()).select_from(m.TimelineEvent)) or 0,
        )


def incidents(session_factory: sessionmaker[Session]) -> list[m.Incident]:
    with session_factory() as s:
        return list(s.scalars(select(m.Incident).order_by(m.Incident.id)))


def alerts(session_factory: sessionmaker[Session]) -> list[m.Alert]:
    with session_factory() as s:
        return list(s.scalars(select(m.Alert).order_by(m.Alert.id)))


def kinds(session_factory: sessionmaker[Session], incident_id: int) -> list[str]:
    with session_factory() as s:
        return list(
            s.scalars(
                select(m.TimelineEvent.kind)
                .where(m.TimelineEvent.incident_id == incident_id)
                .order_by(m.TimelineEvent.id)
            )
        )


@pytest.fixture
def acme(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    apply_doc(session_factory, example())
    return session_factory


def post(client: TestClient, key: str, body: bytes, **kw: Any) -> Any:
    return client.post(f"/integrations/{key}", content=body, **kw)


# --- ingest -----------------------------------------------------------------------------------


def test_an_alertmanager_group_becomes_one_incident_with_its_alerts(
    client: TestClient, acme: sessionmaker[Session], clock: FakeClock
) -> None:
    answer = post(client, AM_KEY, payload("alertmanager_firing_group_of_3.json"))
    assert answer.status_code == 202, answer.text
    assert answer.json()["alerts"] == 3
    [incident] = incidents(acme)
    assert answer.json()["incidents_created"] == [incident.id]
    assert (incident.status, incident.service_id, incident.team_id) == (
        "triggered",
        "storefront",
        "checkout",
    )
    assert incident.discipline == "frontend"  # the service's default
    assert (incident.priority, incident.rule_priority, incident.matched_rule) == ("P1", "P1", 0)
    assert incident.number == 1 and incident.generation == 1
    assert incident.stages == {"reported": clock.now().isoformat()} and incident.stage == "reported"
    assert (incident.backlog, incident.page_due_at) == (False, clock.now())
    rows = alerts(acme)
    assert [a.incident_id for a in rows] == [incident.id] * 3
    assert all(a.open_key == a.dedup_key and a.status == "firing" for a in rows)
    assert kinds(acme, incident.id) == ["triggered"] + ["alert.added"] * 3


def test_a_repeat_updates_the_open_alert_and_never_duplicates_it(
    client: TestClient, acme: sessionmaker[Session], clock: FakeClock
) -> None:
    body = payload("alertmanager_firing_group_of_3.json")
    assert post(client, AM_KEY, body).status_code == 202
    first = clock.now()
    clock.advance(timedelta(minutes=2))
    answer = post(client, AM_KEY, body)
    assert answer.status_code == 202
    assert answer.json()["incidents_created"] == []
    assert counts(acme)[:2] == (1, 3)
    assert all(
        (a.count, a.first_seen, a.last_seen) == (2, first, clock.now()) for a in alerts(acme)
    )


def test_resolve_closes_alerts_then_the_incident_and_a_later_firing_opens_a_new_one(
    client: TestClient, acme: sessionmaker[Session], clock: FakeClock
) -> None:
    post(client, AM_KEY, am(("a", "firing"), ("b", "firing")))
    [incident] = incidents(acme)
    clock.advance(timedelta(minutes=1))
    post(client, AM_KEY, am(("a", "resolved")))
    assert incidents(acme)[0].status == "triggered"  # b still fires
    clock.advance(timedelta(minutes=1))
    answer = post(client, AM_KEY, am(("b", "resolved")))
    assert answer.json()["incidents_resolved"] == [incident.id]
    [done] = incidents(acme)
    assert (done.status, done.resolved_at, done.resolved_by) == (
        "resolved",
        clock.now(),
        "prod-alerts",
    )
    assert done.generation == 2
    assert "resolved_on_call" in done.stages
    assert all(a.open_key is None and a.status == "resolved" for a in alerts(acme))
    assert kinds(acme, incident.id)[-3:] == ["alert.resolved", "alert.resolved", "resolved"]
    # A resolve for nothing open is a no-op; a new firing is a new incident.
    assert post(client, AM_KEY, am(("b", "resolved"))).status_code == 202
    post(client, AM_KEY, am(("a", "firing")))
    first, second = incidents(acme)
    assert (first.status, second.status, second.number) == ("resolved", "triggered", 2)


def test_without_auto_resolve_the_incident_stays_open(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    with acme() as s, s.begin():
        s.scalars(
            select(m.Integration).where(m.Integration.key == AM_KEY)
        ).one().auto_resolve = False
    post(client, AM_KEY, am(("a", "firing")))
    post(client, AM_KEY, am(("a", "resolved")))
    assert [i.status for i in incidents(acme)] == ["triggered"]
    assert [a.status for a in alerts(acme)] == ["resolved"]


def test_mixed_firing_and_resolved_in_one_request(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    post(client, AM_KEY, payload("alertmanager_firing_group_of_3.json"))
    post(client, AM_KEY, payload("alertmanager_mixed_firing_and_resolved.json"))
    rows = alerts(acme)
    assert [(a.status, a.count) for a in rows] == [
        ("firing", 2),
        ("resolved", 1),
        ("firing", 1),
    ]
    assert [i.status for i in incidents(acme)] == ["triggered"]


def test_a_new_alert_of_an_open_group_joins_its_incident(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    post(client, AM_KEY, am(("a", "firing"), group="g"))
    post(client, AM_KEY, am(("b", "firing"), group="g"))
    post(client, AM_KEY, am(("c", "firing"), group="other"))
    assert [a.incident_id for a in alerts(acme)] == [1, 1, 2]


def test_priority_comes_from_the_first_matching_criticality_rule(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    post(client, AM_KEY, am(("e", "firing", {"severity": "error"}), group="1"))
    post(client, AM_KEY, am(("s", "firing", {"severity": "none", "env": "staging"}), group="2"))
    post(client, AM_KEY, am(("x", "firing", {"severity": "nonsense"}), group="3"))
    assert [(i.priority, i.matched_rule) for i in incidents(acme)] == [
        ("P2", 2),
        ("P4", 3),
        ("P3", 5),
    ]


def test_gcp_open_closed_and_the_test_notification(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    answer = post(client, GCP_KEY, payload("gcp_test_notification.json"))
    assert answer.status_code == 202
    assert (answer.json()["test"], answer.json()["alerts"]) == (True, 0)
    assert counts(acme) == (0, 0, 0)  # a test notification stores nothing
    assert post(client, GCP_KEY, payload("gcp_1_2_open.json")).status_code == 202
    assert post(client, GCP_KEY, payload("gcp_1_2_open.json")).status_code == 202
    assert post(client, GCP_KEY, payload("gcp_1_2_closed.json")).status_code == 202
    [incident] = incidents(acme)
    assert incident.status == "resolved" and incident.source == "gcp"
    assert [a.count for a in alerts(acme)] == [2]


def test_grafana_and_generic_senders(client: TestClient, acme: sessionmaker[Session]) -> None:
    assert post(client, GRAFANA_KEY, payload("grafana_firing.json")).status_code == 202
    assert post(client, GRAFANA_KEY, payload("grafana_resolved.json")).status_code == 202
    body = {"check": {"name": "Catalog is down", "id": "c-1", "level": "critical", "state": "down"}}
    answer = post(client, GENERIC_KEY, json.dumps(body).encode())
    assert answer.status_code == 202, answer.text
    grafana, generic = incidents(acme)
    assert (grafana.service_id, grafana.status) == ("payments", "resolved")
    assert (generic.service_id, generic.title, generic.priority) == (
        "catalog-web",
        "Catalog is down",
        "P1",
    )


# --- PagerDuty Events API v2 ------------------------------------------------------------------


def test_pagerduty_trigger_acknowledge_resolve(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    trigger = pd("pagerduty_trigger.json")
    answer = client.post("/v2/enqueue", json=trigger)
    assert answer.status_code == 202
    assert answer.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": trigger["dedup_key"],
    }
    ack = pd("pagerduty_acknowledge.json", dedup_key=trigger["dedup_key"])
    assert client.post("/v2/enqueue", json=ack).status_code == 202
    [incident] = incidents(acme)
    assert (incident.status, incident.acknowledged_by, incident.service_id) == (
        "acknowledged",
        "events",
        "payments",
    )
    # A second acknowledge is accepted and changes nothing.
    assert client.post("/v2/enqueue", json=ack).status_code == 202
    resolve = pd("pagerduty_resolve.json", dedup_key=trigger["dedup_key"])
    assert client.post("/v2/enqueue", json=resolve).json()["dedup_key"] == trigger["dedup_key"]
    assert incidents(acme)[0].status == "resolved"
    assert kinds(acme, incident.id) == [
        "triggered",
        "alert.added",
        "acknowledged",
        "alert.resolved",
        "resolved",
    ]


def test_pagerduty_trigger_without_dedup_key_gets_a_generated_one(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    first = client.post("/v2/enqueue", json=pd("pagerduty_trigger_without_dedup_key.json"))
    second = client.post("/v2/enqueue", json=pd("pagerduty_trigger_without_dedup_key.json"))
    assert first.status_code == second.status_code == 202
    keys = {first.json()["dedup_key"], second.json()["dedup_key"]}
    assert len(keys) == 2 and all(len(k) == 32 for k in keys)
    assert counts(acme)[:2] == (2, 2)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("pagerduty_invalid_action.json", "invalid event"),
        ("pagerduty_invalid_severity.json", "invalid event"),
        ("pagerduty_invalid_trigger_fields.json", "invalid event"),
        ("pagerduty_invalid_resolve_without_key.json", "invalid event"),
        ("pagerduty_invalid_not_json.json", "Unrecognized object"),
    ],
)
def test_pagerduty_invalid_events_get_pagerdutys_400(
    client: TestClient, acme: sessionmaker[Session], name: str, status: str
) -> None:
    answer = client.post("/v2/enqueue", content=payload(name))
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == status and body["errors"] and body["error"]
    assert "field" in body
    assert counts(acme) == (0, 0, 0)


def test_pagerduty_unknown_routing_key_is_404(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    trigger = pd("pagerduty_trigger.json", routing_key="f" * 32)
    answer = client.post("/v2/enqueue", json=trigger)
    assert answer.status_code == 404
    assert answer.json()["field"] == "routing_key"
    # An alertmanager integration's key is not a routing key either.
    trigger["routing_key"] = "acmesearchalertmanager000001"[:32].ljust(32, "0")
    assert client.post("/v2/enqueue", json=trigger).status_code == 404
    assert counts(acme) == (0, 0, 0)


# --- rejected requests ------------------------------------------------------------------------


def test_unknown_key_is_404_and_a_pagerduty_key_is_not_an_inbound_url(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    body = am(("a", "firing"))
    assert post(client, "nope", body).json() == {
        "error": "no integration has this key",
        "field": "key",
    }
    assert post(client, "nope", body).status_code == 404
    assert post(client, PD_KEY, body).status_code == 404
    assert counts(acme) == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (payload("alertmanager_invalid_status.json"), 422, "alerts[0].status"),
        (payload("alertmanager_invalid_labels.json"), 422, "alerts[2].labels"),
        (payload("alertmanager_invalid_label_value.json"), 422, "alerts[2].labels.shard"),
    ],
)
def test_bad_bodies_say_what_is_wrong_and_store_nothing(
    client: TestClient,
    acme: sessionmaker[Session],
    body: bytes,
    status: int,
    field: str | None,
) -> None:
    answer = post(client, AM_KEY, body)
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error", "field"} and answer.json()["error"]
    assert answer.json()["field"] == field
    assert counts(acme) == (0, 0, 0)


def test_bodies_over_512_kib_are_413_by_length_or_by_bytes(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    big = b" " * (512 * 1024) + am(("a", "firing"))
    assert post(client, AM_KEY, big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield from (big[i : i + 65536] for i in range(0, len(big), 65536))

    answer = post(client, AM_KEY, chunks())
    assert answer.status_code == 413 and answer.json()["error"]
    lying = client.post(
        "/v2/enqueue", content=big, headers={"content-length": "10"}
    )  # a lying Content-Length: the bytes read still count
    assert lying.status_code == 413
    assert counts(acme) == (0, 0, 0)
    # Just under the limit is fine.
    body = am(("a", "firing"))
    assert post(client, AM_KEY, body + b" " * (512 * 1024 - len(body))).status_code == 202


def test_an_integration_over_its_rate_limit_gets_429_until_the_next_minute(
    client: TestClient, acme: sessionmaker[Session], clock: FakeClock
) -> None:
    with acme() as s, s.begin():
        s.scalars(select(m.Integration).where(m.Integration.key == AM_KEY)).one().rate_limit = 3
        s.scalars(select(m.Integration).where(m.Integration.key == PD_KEY)).one().rate_limit = 1
    clock.set(clock.now().replace(second=0))
    for n in range(3):
        assert post(client, AM_KEY, am((f"a{n}", "firing"), group=str(n))).status_code == 202
    limited = post(client, AM_KEY, am(("z", "firing"), group="z"))
    assert limited.status_code == 429 and limited.json()["field"] is None
    assert counts(acme)[0] == 3  # the rejected request stored nothing
    # Other integrations have their own budget.
    assert post(client, GCP_KEY, payload("gcp_1_2_open.json")).status_code == 202
    assert client.post("/v2/enqueue", json=pd("pagerduty_trigger.json")).status_code == 202
    throttled = client.post("/v2/enqueue", json=pd("pagerduty_trigger.json", dedup_key="x"))
    assert throttled.status_code == 429 and throttled.json()["status"] == "throttle event"
    clock.advance(timedelta(minutes=1))
    assert post(client, AM_KEY, am(("z", "firing"), group="z")).status_code == 202


def test_the_default_rate_limit_comes_from_settings(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    client.app.state.settings.integration_rate_limit = 1  # type: ignore[attr-defined]
    assert post(client, AM_KEY, am(("a", "firing"))).status_code == 202
    assert post(client, AM_KEY, am(("a", "firing"))).status_code == 429


# --- concurrency ------------------------------------------------------------------------------


def test_fifty_concurrent_identical_posts_make_exactly_one_incident(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    body = am(("same", "firing"), ("also", "firing"), group="race")
    trigger = pd("pagerduty_trigger.json")
    barrier = threading.Barrier(50)
    answers: list[int] = []

    def send(n: int) -> None:
        barrier.wait()
        if n % 2:
            answers.append(post(client, AM_KEY, body).status_code)
        else:
            answers.append(client.post("/v2/enqueue", json=trigger).status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [202] * 50
    rows = incidents(acme)
    assert sorted((i.service_id, i.number) for i in rows) == [
        ("payments", 1),
        ("storefront", 2),
    ] or (sorted((i.service_id, i.number) for i in rows) == [("payments", 2), ("storefront", 1)])
    assert sorted((a.service_id, a.count) for a in alerts(acme)) == [
        ("payments", 25),
        ("storefront", 25),
        ("storefront", 25),
    ]


# --- bounds: alerts per request, key and text lengths -----------------------------------------


def test_one_request_holds_at_most_max_alerts_per_request(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    checks = [{"check": {"name": f"Check {n} is down", "id": f"c-{n}"}} for n in range(101)]
    answer = post(client, GENERIC_KEY, json.dumps(checks).encode())
    assert answer.status_code == 422 and answer.json()["field"] == "alerts"
    assert "holds 101 alerts; at most 100" in answer.json()["error"]
    assert counts(acme) == (0, 0, 0)  # 101 alerts used to open 101 incidents
    assert post(client, GENERIC_KEY, json.dumps(checks[:100]).encode()).status_code == 202
    assert counts(acme)[0] == 100
    # The cap is a setting, and holds for Alertmanager's groups as well.
    client.app.state.settings.max_alerts_per_request = 2  # type: ignore[attr-defined]
    group = post(client, AM_KEY, payload("alertmanager_firing_group_of_3.json"))
    assert group.status_code == 422 and group.json()["field"] == "alerts"


def test_long_sender_keys_are_kept_as_their_digest_and_still_deduplicate(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    # The key columns hold 300 characters: PostgreSQL refused longer ones with a 500.
    fingerprint, group = "f" * 5000, "g" * 5000
    body = am((fingerprint, "firing"), (fingerprint[:-1], "firing"), group=group)
    assert post(client, AM_KEY, body).status_code == 202
    assert post(client, AM_KEY, body).status_code == 202
    rows = alerts(acme)
    assert [a.count for a in rows] == [2, 2] and len({a.incident_id for a in rows}) == 1
    assert all(len(a.dedup_key) <= 300 and len(a.group_key or "") <= 300 for a in rows)
    assert rows[0].dedup_key != rows[1].dedup_key
    assert rows[0].dedup_key.startswith("am:v1:sha256:") and rows[0].group_key
    gcp = json.loads(payload("gcp_1_2_open.json"))
    gcp["incident"]["incident_id"] = "i" * 5000
    assert post(client, GCP_KEY, json.dumps(gcp).encode()).status_code == 202
    generic = {"check": {"name": "Catalog is down", "id": "k" * 5000}}
    assert post(client, GENERIC_KEY, json.dumps(generic).encode()).status_code == 202
    assert all(len(a.dedup_key) <= 300 for a in alerts(acme))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("discipline", "d" * 65),
        ("service", "s" * 65),
        ("links", ["https://example.com/" + "l" * 2000]),
        ("title", "t" * 1025),
        ("steps", "s" * 20001),
    ],
)
def test_every_text_of_a_report_is_bounded(
    client: TestClient, acme: sessionmaker[Session], clock: FakeClock, field: str, value: object
) -> None:
    with acme() as s, s.begin():
        token = auth_service.create_token(s, person_id="asha", role="responder", now=clock.now())
    report = {"service": "storefront", "title": "Checkout button does nothing", field: value}
    answer = client.post(
        "/api/v1/incidents", json=report, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"].split(".")[0] == field
    assert counts(acme)[0] == 0


def test_a_nul_character_anywhere_in_a_body_is_400(
    client: TestClient, acme: sessionmaker[Session]
) -> None:
    for where in ("summary", "label", "fingerprint"):
        doc = json.loads(am(("a\x00" if where == "fingerprint" else "a", "firing")))
        if where == "summary":
            doc["alerts"][0]["annotations"]["summary"] = "Disk\x00full"
        elif where == "label":
            doc["alerts"][0]["labels"]["x\x00"] = "y"
        answer = post(client, AM_KEY, json.dumps(doc).encode())
        assert answer.status_code == 400, answer.text
        assert answer.json() == {
            "error": "body contains a NUL character, which onduty cannot store",
            "field": None,
        }
    event = pd("pagerduty_trigger.json")
    event["payload"]["summary"] = "\x00"
    assert client.post("/v2/enqueue", json=event).status_code == 400
    assert counts(acme) == (0, 0, 0)
