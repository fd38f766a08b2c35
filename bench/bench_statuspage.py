"""Benchmark of the public status page (issue 14): `GET /api/v2/summary.json` and `GET /status`
with 30 components and 2,000 past status incidents, each as a ratio of the requests per second
that an empty endpoint of the same server (`/healthz`) reaches in the same run (target: at
least 0.8), and the p99 latency (target: at most 50 ms). `onduty serve --no-engine` on
127.0.0.1 over a SQLite file (or --database-url); clients are processes with keep-alive
connections (http.client, asking for gzip as browsers do, bodies read and not decoded). Rounds run
the three endpoints in turn, so a change in the machine's load hits all of them alike.
Also: queueing one status update for 10,000 confirmed subscribers (target: at most 2 s).
Run: python bench/bench_statuspage.py [--seconds 3] [--rounds 3] [--clients 8]"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import multiprocessing.pool
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import insert

from onduty.clock import SystemClock
from onduty.db import make_engine, make_session_factory, migrate
from onduty.policy import apply_policy, parse_text
from onduty.statuspage import models as sp
from onduty.statuspage import service

POLICY = Path(__file__).resolve().parents[1] / "examples" / "acme" / "policy.yaml"
SECRET = "bench-secret-0123456789abcdefghij"
STATUSES = ("degraded_performance", "partial_outage", "major_outage")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(url: str, now: datetime) -> None:
    """The Acme policy with 30 components (in 6 groups, over its 4 services), and 2,000
    resolved status incidents over the last 120 days, each with three updates."""
    doc = yaml.safe_load(POLICY.read_text())
    services = [s["id"] for s in doc["services"]]
    doc["status_page"]["components"] = [
        {
            "id": f"c{i:02d}",
            "name": f"Component {i}",
            "group": f"Group {i // 5}",
            "services": [services[i % len(services)]],
        }
        for i in range(30)
    ]
    migrate(url)
    factory = make_session_factory(make_engine(url))
    policy, _ = parse_text(yaml.safe_dump(doc, sort_keys=False))
    with factory() as session, session.begin():
        apply_policy(session, policy, now=now)
        incidents, links, updates = [], [], []
        for n in range(2000):
            start = now - timedelta(days=120) + timedelta(minutes=86 * n)
            end = start + timedelta(hours=2)
            incidents.append(
                {
                    "id": n + 1,
                    "kind": "incident",
                    "name": f"Past incident {n}",
                    "status": "resolved",
                    "impact": "minor",
                    "created_by": "bench",
                    "update_every_s": 3600,
                    "last_update_at": end,
                    "auto": False,
                    "created_at": start,
                    "updated_at": end,
                    "started_at": start,
                    "resolved_at": end,
                }
            )
            worst = STATUSES[n % 3]
            for c in (n % 30, (n * 7) % 30):
                links.append(
                    {
                        "status_incident_id": n + 1,
                        "component_id": f"c{c:02d}",
                        "status": "operational",
                        "worst": worst,
                    }
                )
            for k, status in enumerate(("investigating", "identified", "resolved")):
                updates.append(
                    {
                        "status_incident_id": n + 1,
                        "status": status,
                        "body": f"Update {k} of incident {n}: **details** here.",
                        "author": "bench",
                        "notify": True,
                        "created_at": start + timedelta(hours=k),
                    }
                )
        session.execute(insert(sp.StatusIncident), incidents)
        unique = {(r["status_incident_id"], r["component_id"]): r for r in links}
        session.execute(insert(sp.AffectedComponent), list(unique.values()))
        session.execute(insert(sp.StatusUpdate), updates)
        service.touch(session, now)


def serve(url: str) -> tuple[subprocess.Popen[bytes], str]:
    """`onduty serve --no-engine` in its own process (clients here must not share its GIL)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
    env.update(ONDUTY_DATABASE_URL=url, ONDUTY_SECRET_KEY=SECRET)
    onduty = str(Path(sys.executable).parent / "onduty")
    proc = subprocess.Popen(
        [onduty, "serve", "--no-engine", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, base


def _client(args: tuple[str, str, float]) -> list[float]:
    """One keep-alive connection: GET `path` until `stop`, reading each body as it comes (gzip
    asked for and not decoded: the client's work is not what is measured)."""
    base, path, stop = args
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    mine: list[float] = []
    headers = {"Accept-Encoding": "gzip"}
    while (t0 := time.time()) < stop:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200, answer.status
        mine.append(time.time() - t0)
    conn.close()
    return mine


def load(
    pool: multiprocessing.pool.Pool, base: str, path: str, seconds: float, clients: int
) -> tuple[float, list[float]]:
    """Requests per second and each request's latency (s), `clients` processes for `seconds`."""
    started = time.time()
    parts = pool.map(_client, [(base, path, started + seconds)] * clients)
    flat = [x for part in parts for x in part]
    return len(flat) / (time.time() - started), flat


def server_cpu(url: str, paths: tuple[str, ...], count: int) -> dict[str, float]:
    """CPU milliseconds per request of the application alone (ASGI calls in this process, no
    network and no client): what the server spends, whatever the machine's load."""
    import asyncio

    from onduty.config import Settings
    from onduty.web.app import create_app

    app = create_app(Settings(database_url=url, secret_key=SECRET, serve_engine=False))

    async def call(path: str) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench"), (b"accept-encoding", b"gzip")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "scheme": "http",
        }
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        await app(scope, receive, send)
        assert sent[0]["status"] == 200, sent[0]

    async def run() -> dict[str, float]:
        out = {}
        for path in paths:
            await call(path)
            samples = []
            for _ in range(5):  # the best of five: the least disturbed by other processes
                started = time.process_time()
                for _ in range(count):
                    await call(path)
                samples.append((time.process_time() - started) / count * 1000)
            out[path] = min(samples)
        return out

    return asyncio.run(run())


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


def fan_out(url: str, now: datetime) -> float:
    """Seconds to post one update (in its transaction) queuing it for 10,000 subscribers."""
    factory = make_session_factory(make_engine(url))
    with factory() as session, session.begin():
        session.execute(
            insert(sp.Subscriber),
            [
                {
                    "email": f"s{n}@example.org",
                    "token": f"tok{n:08d}",
                    "created_at": now,
                    "confirmed_at": now,
                }
                for n in range(10_000)
            ],
        )
        row = service.create_status_incident(
            session,
            name="Bench",
            status="investigating",
            impact="minor",
            body="x",
            component_statuses={"c00": "degraded_performance"},
            incident_id=None,
            actor="bench",
            now=now,
            base_url="http://bench",
            notify=False,
        )
    started = time.perf_counter()
    with factory() as session, session.begin():
        service.add_update(
            session,
            status_incident_id=row.id,
            status="identified",
            body="Found it.",
            component_statuses=None,
            actor="bench",
            now=now,
            base_url="http://bench",
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database-url")
    parser.add_argument("--extra", nargs="*", default=[], help="more paths to measure")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        now = SystemClock().now()
        t0 = time.perf_counter()
        seed(url, now)
        print(f"seeded 30 components, 2,000 incidents in {time.perf_counter() - t0:.1f} s")
        server, base = serve(url)
        paths = ("/healthz", "/api/v2/summary.json", "/status", *args.extra)
        rates: dict[str, list[float]] = {p: [] for p in paths}
        lat: dict[str, list[float]] = {p: [] for p in paths}
        with multiprocessing.Pool(args.clients) as pool:
            for p in paths:  # warm: first render, connection pools
                load(pool, base, p, 0.3, args.clients)
            for _ in range(args.rounds):
                for p in paths:
                    rate, values = load(pool, base, p, args.seconds, args.clients)
                    rates[p].append(rate)
                    lat[p] += values
        server.terminate()
        server.wait(timeout=20)
        empty = statistics.median(rates["/healthz"])
        result: dict[str, Any] = {}
        for p in paths:
            rate = statistics.median(rates[p])
            result[p] = (rate, rate / empty, p99(lat[p]) * 1000, statistics.median(lat[p]) * 1000)
            print(
                f"{p:24} {rate:8.0f} req/s  ratio {rate / empty:4.2f}  "
                f"p50 {result[p][3]:5.1f} ms  p99 {result[p][2]:5.1f} ms"
            )
        cpu = server_cpu(url, paths, 200)
        for p in paths:
            print(
                f"server CPU {p:24} {cpu[p]:5.2f} ms/request  ratio {cpu['/healthz'] / cpu[p]:4.2f}"
            )
        print(f"fan-out to 10,000 subscribers: {fan_out(url, now):.2f} s")
    print(f"load after: {os.getloadavg()}  ({datetime.now(UTC):%Y-%m-%d %H:%M}Z)")


if __name__ == "__main__":
    main()
