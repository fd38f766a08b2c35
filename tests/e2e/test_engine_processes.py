"""The engine as real processes: killed with SIGKILL mid-escalation and restarted, killed with
pages in flight and restarted, and two `onduty engine` processes sharing one database. A local
webhook receiver counts what arrives: every (incident, step, person) exactly once, or again with
the same idempotency key when the engine died before the receiver answered."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select
from tests.channel_servers import Recorded, Reply, WebhookReceiver
from tests.e2e.processes import Processes, pages, wait_for, webhook_policy
from tests.policy_cases import write_policy
from tests.scenario import alertmanager

from onduty import models as m
from onduty.db import make_engine, make_session_factory
from onduty.notify import outbox
from onduty.notify.signing import verify_webhook


def sent_rows(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            return len(
                session.scalars(
                    select(m.OutboxMessage.id).where(m.OutboxMessage.status == "sent")
                ).all()
            )
    finally:
        engine.dispose()


def test_sigkill_mid_escalation_then_restart_delivers_each_page_once(
    procs: Processes, receiver: WebhookReceiver, tmp_path: Path, db_url: str
) -> None:
    doc = webhook_policy(
        receiver.url,
        [{"notify": ["primary"], "wait": "4s"}, {"notify": ["secondary"], "wait": "60m"}],
    )
    policy = write_policy(doc, tmp_path / "policy.yaml")
    procs.cli("policy", "apply", str(policy))
    keys = {
        r["service"]: r["key"]
        for r in json.loads(procs.cli("integrations", "list", "--json"))
        if r["integration"] == "prod-alerts"
    }
    server = procs.serve()
    answer = httpx.post(
        f"http://127.0.0.1:{procs.port}/integrations/{keys['storefront']}",
        content=alertmanager("Down"),
    )
    assert answer.status_code == 202
    wait_for(lambda: len(receiver.requests) >= 1, 20, "the first page")
    # Killed between steps, not mid-send: a page in flight would be sent again at once after the
    # restart (with its key; test_pages_in_flight_... covers that).
    wait_for(lambda: sent_rows(db_url) >= 1, 20, "the first page recorded as sent")
    server.send_signal(signal.SIGKILL)  # mid-escalation: step 2 is due in 4 s
    server.wait(timeout=10)
    time.sleep(5)  # step 2 falls due while nothing runs
    procs.serve()
    wait_for(lambda: len(receiver.requests) >= 2, 30, "the second step after restart")
    time.sleep(2)  # quiet window
    got = pages(receiver)
    oncall = {
        r["slot"]: r["person"] for r in json.loads(procs.cli("who", "--team", "checkout", "--json"))
    }
    assert [(step, person) for _, step, person, _ in got] == [
        (1, oncall["frontend"]),
        (2, oncall["backend"]),
    ]
    assert len({key for *_, key in got}) == len(got)


class SlowReceiver(WebhookReceiver):
    """Notes when each page arrives, then holds its answer until `release` is set: the pages
    are in flight, claimed and not yet answered."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.arrivals: list[tuple[float, Any, str]] = []  # (when, incident, idempotency key)
        self._arrivals_lock = threading.Lock()

    def answer(self, request: Recorded) -> Reply:
        body = request.json()
        with self._arrivals_lock:
            self.arrivals.append(
                (time.monotonic(), body["incident"]["id"], body["idempotency_key"])
            )
        self.release.wait(60)
        return super().answer(request)

    def arrived(self) -> list[tuple[float, Any, str]]:
        with self._arrivals_lock:
            return list(self.arrivals)


def test_pages_in_flight_when_the_server_is_killed_go_again_at_once_after_restart(
    procs: Processes, tmp_path: Path
) -> None:
    # A long tick makes the heartbeats' TTL (3 ticks) a minute, as long as the send deadline:
    # only the rule "its process is gone from this machine" can explain a prompt resend.
    procs.env["ONDUTY_ENGINE_TICK"] = "20s"
    with SlowReceiver() as receiver:
        doc = webhook_policy(receiver.url, [{"notify": ["primary"], "wait": "60m"}])
        doc["services"][0]["integrations"][0]["rate_limit"] = 1000
        policy = write_policy(doc, tmp_path / "policy.yaml")
        procs.cli("policy", "apply", str(policy))
        key = next(
            r["key"]
            for r in json.loads(procs.cli("integrations", "list", "--json"))
            if r["integration"] == "prod-alerts" and r["service"] == "storefront"
        )
        server = procs.serve()
        url = f"http://127.0.0.1:{procs.port}/integrations/{key}"
        with httpx.Client() as client:
            for i in range(20):
                assert (
                    client.post(url, content=alertmanager(f"K{i}", fp=f"k{i}")).status_code == 202
                )
        # Every sender is busy with a page the receiver has not answered.
        wait_for(lambda: len(receiver.arrived()) >= 16, 60, "pages in flight")
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        before = receiver.arrived()
        receiver.release.set()
        procs.serve()
        up = time.monotonic()
        wait_for(lambda: len(receiver.arrived()) >= len(before) + 20, 60, "every page again")
        time.sleep(2)  # quiet window
        arrived = receiver.arrived()
    later = arrived[len(before) :]
    # Each of the 20 pages went once after the restart, within seconds of the server's start
    # (not when the 60 s send deadline of the dead server's claims passed)...
    assert len(later) == 20 and len({incident for _, incident, _ in later}) == 20
    slowest = max(at for at, _, _ in later) - up
    assert slowest < 10, f"the last page went {slowest:.1f} s after the restart"
    # ...and every page the dead server had in flight went again with the same key.
    keys = {incident: key for _, incident, key in later}
    assert len(set(keys.values())) == 20
    assert len(before) >= 16 and all(keys[incident] == key for _, incident, key in before)


def test_two_engines_deliver_every_notification_exactly_once(
    procs: Processes, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    doc = webhook_policy(receiver.url, [{"notify": ["primary"], "wait": "60m"}])
    doc["services"][0]["integrations"][0]["rate_limit"] = 1000
    policy = write_policy(doc, tmp_path / "policy.yaml")
    procs.cli("policy", "apply", str(policy))
    keys = {
        r["service"]: r["key"]
        for r in json.loads(procs.cli("integrations", "list", "--json"))
        if r["integration"] == "prod-alerts"
    }
    procs.serve("--no-engine")
    url = f"http://127.0.0.1:{procs.port}/integrations/{keys['storefront']}"
    with httpx.Client() as client:
        for i in range(500):
            assert client.post(url, content=alertmanager(f"A{i}", fp=f"fp{i}")).status_code == 202
    procs.start("engine")
    procs.start("engine")
    wait_for(lambda: len(receiver.requests) >= 500, 180, "500 pages")
    time.sleep(2)
    got = pages(receiver)
    assert len(got) == 500
    per_incident = Counter(incident for incident, *_ in got)
    assert len(per_incident) == 500 and set(per_incident.values()) == {1}
    assert len({key for *_, key in got}) == 500


def test_onduty_engine_sends_calls_to_the_http_target(
    procs: Processes, receiver: WebhookReceiver, db_url: str
) -> None:
    procs.env["ONDUTY_HTTP_TARGET_SECRET"] = "process-http-secret"
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            now = datetime.now(UTC)
            item = outbox.OutboxItem(
                key="deploy-42",
                event="deploy.frozen",
                due_at=now,
                target="http",
                payload={"url": f"{receiver.url}/calls", "body": {"until": "friday"}},
            )
            assert outbox.enqueue(session, item, now=now) is not None
    finally:
        engine.dispose()
    procs.start("engine")
    wait_for(lambda: len(receiver.requests) >= 1, 60, "the call")
    (request,) = receiver.requests
    verify_webhook(request.body, "process-http-secret", request.headers["X-Onduty-Signature"])
    assert request.json()["idempotency_key"] == "deploy-42"


def test_a_separate_engine_pages_at_once_woken_by_the_api_process_commit(
    procs: Processes, receiver: WebhookReceiver, tmp_path: Path, db_url: str
) -> None:
    """`onduty engine` on its own, with a tick so long that only PostgreSQL's NOTIFY can wake it
    in time: each alert's page arrives within a second, also after its listening connection
    was cut (it listens again and catches up)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("cross-process wake-up is PostgreSQL's LISTEN/NOTIFY")
    procs.env["ONDUTY_ENGINE_TICK"] = "60s"
    doc = webhook_policy(receiver.url, [{"notify": ["primary"], "wait": "60m"}])
    policy = write_policy(doc, tmp_path / "policy.yaml")
    procs.cli("policy", "apply", str(policy))
    key = next(
        r["key"]
        for r in json.loads(procs.cli("integrations", "list", "--json"))
        if r["integration"] == "prod-alerts" and r["service"] == "storefront"
    )
    procs.serve("--no-engine")
    procs.start("engine")
    wait_for(lambda: _listeners(db_url) == 1, 30, "the engine's LISTEN connection")
    url = f"http://127.0.0.1:{procs.port}/integrations/{key}"

    def page_latency(n: int) -> float:
        started = time.monotonic()
        with httpx.Client() as client:
            assert client.post(url, content=alertmanager(f"W{n}", fp=f"w{n}")).status_code == 202
        wait_for(lambda: len(receiver.requests) > n, 10, f"page {n}")
        return time.monotonic() - started

    assert max(page_latency(n) for n in range(3)) < 1.0
    with psycopg.connect(_plain(db_url), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'onduty-listen'"
        )
    wait_for(lambda: _listeners(db_url) == 1, 10, "the listener back")
    assert page_latency(3) < 1.0


def _plain(db_url: str) -> str:
    return db_url.replace("postgresql+psycopg://", "postgresql://")


def _listeners(db_url: str) -> int:
    with psycopg.connect(_plain(db_url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'onduty-listen'"
            " AND datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0
