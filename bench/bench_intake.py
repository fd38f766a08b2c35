"""Benchmark of alert intake over HTTP: `onduty serve` in a subprocess on SQLite or PostgreSQL,
an async load generator posting Alertmanager alerts (distinct keys, then one key repeated).
Targets: >= 1,000 alerts/s on PostgreSQL, >= 500/s on SQLite, p99 <= 100 ms.
Run: python bench/bench_intake.py [--db sqlite|postgresql] [--alerts 10000] [--concurrency 16]
                                 [--per-request 1]"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx  # httpx 0.28's pool slows to ~300 req/s at concurrency 32 here
import psycopg

ROOT = Path(__file__).resolve().parents[1]
ONDUTY = str(Path(sys.executable).parent / "onduty")
POLICY = ROOT / "examples" / "acme" / "policy.yaml"
KEY = "acmestorefrontalertmanager0001"  # storefront's alertmanager integration in the policy
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def alert_body(fingerprints: list[str], group: str) -> bytes:
    """One Alertmanager notification: a group with one alert per fingerprint."""
    alerts = []
    for fingerprint in fingerprints:
        labels = {"alertname": f"Bench{fingerprint}", "severity": "critical", "instance": "bench-1"}
        alerts.append(
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": f"bench alert {fingerprint}"},
                "startsAt": "2026-11-30T04:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.local/graph",
                "fingerprint": fingerprint,
            }
        )
    return json.dumps(
        {
            "version": "4",
            "groupKey": group,
            "status": "firing",
            "receiver": "onduty",
            "groupLabels": {},
            "commonLabels": {"severity": "critical"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.local",
            "alerts": alerts,
        }
    ).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh database: a temporary SQLite file, or a PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    name = f"onduty_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def server(url: str, engine: bool) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
    env |= {
        "ONDUTY_DATABASE_URL": url,
        "ONDUTY_SECRET_KEY": "bench-secret-0123456789abcdefghij",
        "ONDUTY_INTEGRATION_RATE_LIMIT": "100000000",
    }
    for args in (["db", "upgrade"], ["policy", "apply", str(POLICY)]):
        subprocess.run([ONDUTY, *args], env=env, check=True, capture_output=True)
    port = free_port()
    command = [ONDUTY, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if not engine:
        command.append("--no-engine")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"onduty serve did not start: {proc.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


async def load(base: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], int]:
    """Post every body with `concurrency` workers; (seconds, latencies in ms, non-202 count)."""
    latencies: list[float] = []
    failures = 0
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal failures
            for body in queue:
                started = time.perf_counter()
                answer = await client.post(f"/integrations/{KEY}", content=body)
                latencies.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 202:
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, failures


def report(name: str, alerts: int, seconds: float, latencies: list[float], failures: int) -> None:
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{name:>10}: {alerts} alerts in {len(latencies)} requests in {seconds:.2f} s = "
        f"{alerts / seconds:,.0f} alerts/s ({len(latencies) / seconds:,.0f} requests/s); "
        f"p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms, max {max(latencies):.1f} ms; "
        f"non-202: {failures}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--per-request",
        type=int,
        default=1,
        help="alerts per Alertmanager notification (one group, so one incident, per request)",
    )
    parser.add_argument("--engine", action="store_true", help="run the engine in the server too")
    args = parser.parse_args()
    n, per = args.alerts, args.per_request
    print(f"{args.db}: {n} alerts, {per} per request, concurrency {args.concurrency}")
    with database(args.db) as url, server(url, args.engine) as base:
        warm = [alert_body([f"warm{i}"], f"warm{i}") for i in range(200)]
        asyncio.run(load(base, warm, args.concurrency))
        distinct = [alert_body([f"d{i}-{j}" for j in range(per)], f"g{i}") for i in range(n // per)]
        report("distinct", n, *asyncio.run(load(base, distinct, args.concurrency)))
        same = [alert_body([f"same{j}" for j in range(per)], "same")] * (n // per)
        report("identical", n, *asyncio.run(load(base, same, args.concurrency)))


if __name__ == "__main__":
    main()
