"""Alert storm: intake and the engine together, as users run them (issue 13's benchmark).

5,000 distinct Alertmanager alerts (one per request, so one incident each) are posted as fast as
the server takes them, at concurrency 16, to either
  - `serve`: the default `onduty serve`, engine in the same process, or
  - `split`: `onduty serve --no-engine` plus `onduty engine` in its own process.
Every person has one working webhook contact method pointing at a local receiver, which runs in
its own process and stamps each incident's first page as it arrives. Reported: intake alerts/s
and latency; alert -> first page handed over (p50/p99/max); when the last first page arrived
after the last alert was accepted; the server processes' own CPU time per alert.

Run: python bench/bench_storm.py [--db sqlite|postgresql] [--layout serve|split]
                                 [--alerts 5000] [--concurrency 16]
Needs the bench extra (httpx2): pip install -e '.[bench]'"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx2 as httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_intake import ONDUTY, alert_body, database, free_port

TICKS = os.sysconf("SC_CLK_TCK")


def _receive(port: int, pipe: Connection) -> None:
    """The webhook receiver (its own process, so it takes no CPU from the load generator's
    interpreter): the first arrival per incident title, as wall-clock time."""
    arrivals: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            arrivals.setdefault(body["incident"]["title"], time.time())
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    pipe.send("ready")
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    while True:
        command = pipe.recv()
        if command == "count":
            pipe.send(len(arrivals))
        else:
            pipe.send(arrivals)
            return


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit("onduty serve did not start")


@contextmanager
def servers(url: str, layout: str, hook_port: int, tmp: Path) -> Iterator[tuple[str, list[int]]]:
    """Migrate, apply the demo policy with every person on the local webhook, start the layout;
    (base URL, pids of the server processes)."""
    from tests.policy_cases import example

    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
    port = free_port()
    env |= {
        "ONDUTY_DATABASE_URL": url,
        "ONDUTY_SECRET_KEY": "bench-secret-0123456789abcdefghij",
        "ONDUTY_INTEGRATION_RATE_LIMIT": "100000000",
        "ONDUTY_BASE_URL": f"http://127.0.0.1:{port}",
    }
    doc = example()
    for person in doc["people"]:
        person["contact_methods"] = [
            {"id": "hook", "type": "webhook", "url": f"http://127.0.0.1:{hook_port}/h"}
        ]
        person["notification_rules"] = [{"after": "0m", "via": "hook"}]
    policy = tmp / "policy.yaml"
    policy.write_text(yaml.safe_dump(doc))
    for args in (["db", "upgrade"], ["policy", "apply", str(policy)]):
        subprocess.run([ONDUTY, *args], env=env, check=True, capture_output=True)
    serve = [ONDUTY, "serve", "--host", "127.0.0.1", "--port", str(port)]
    commands = [serve] if layout == "serve" else [[*serve, "--no-engine"], [ONDUTY, "engine"]]
    procs = [
        subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for c in commands
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, procs[0])
        time.sleep(2)  # the engine's first ticks
        yield base, [p.pid for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)


async def storm(
    base: str, key: str, bodies: list[tuple[str, bytes]], concurrency: int
) -> tuple[float, list[float], dict[str, float], int]:
    """(seconds, latencies ms, title -> wall time its 202 came back, non-202 count)."""
    latencies: list[float] = []
    accepted: dict[str, float] = {}
    failures = 0
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal failures
            for title, body in queue:
                started, sent_at = time.perf_counter(), time.time()
                answer = await client.post(f"/integrations/{key}", content=body)
                latencies.append((time.perf_counter() - started) * 1000)
                accepted[title] = sent_at
                if answer.status_code != 202:
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, accepted, failures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--layout", choices=["serve", "split"], default="serve")
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    hook_port = free_port()
    parent, child = mp.Pipe()
    receiver = mp.Process(target=_receive, args=(hook_port, child), daemon=True)
    receiver.start()
    assert parent.recv() == "ready"
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(args.db) as url,
        servers(url, args.layout, hook_port, Path(tmp)) as (base, pids),
    ):
        key = "acmestorefrontalertmanager0001"
        stamp = time.strftime("%H%M%S")
        bodies = []
        for i in range(args.alerts):
            fp = f"s{stamp}x{i}"
            bodies.append((f"bench alert {fp}", alert_body([fp], f"g{fp}")))
        cpu_before = sum(_cpu_seconds(pid) for pid in pids)
        seconds, latencies, accepted, failures = asyncio.run(
            storm(base, key, bodies, args.concurrency)
        )
        last_accepted = max(accepted.values())
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            parent.send("count")
            if parent.recv() >= len(bodies):
                break
            time.sleep(0.2)
        cpu = sum(_cpu_seconds(pid) for pid in pids) - cpu_before
        parent.send("all")
        arrivals: dict[str, float] = parent.recv()
    receiver.join(timeout=5)
    first = [(arrivals[t] - s) * 1000 for t, s in accepted.items() if t in arrivals]
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{args.db} {args.layout}: {args.alerts} distinct alerts, concurrency "
        f"{args.concurrency}; load {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"  intake: {args.alerts / seconds:,.0f} alerts/s; p50 {cuts[49]:.1f} ms, "
        f"p99 {cuts[98]:.1f} ms, max {max(latencies):.1f} ms; non-202: {failures}"
    )
    if first:
        last_page = max(arrivals[t] for t in accepted if t in arrivals)
        print(
            f"  first page: {len(first)}/{len(accepted)} delivered; from its alert's request: "
            f"p50 {percentile(first, 0.5):.0f} ms, p99 {percentile(first, 0.99):.0f} ms, "
            f"max {max(first):.0f} ms; last first page {last_page - last_accepted:.2f} s "
            f"after the last alert was accepted"
        )
    print(
        f"  server CPU: {cpu:.1f} s for {args.alerts} alerts = "
        f"{cpu * 1000 / args.alerts:.1f} ms per alert (processes' own user + system time)"
    )


if __name__ == "__main__":
    main()
