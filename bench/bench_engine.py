"""Benchmark of the engine (issue 5 targets), talking only to 127.0.0.1:

1. alert -> first notification handed to the channel, at 50 alerts/s (p50 <= 100 ms, p99 <= 1 s):
   a real `onduty serve` (engine in process) receives Alertmanager posts; every on-call person
   has a webhook contact method pointing at a local receiver, which stamps arrivals.
2. escalation step lateness with 10,000 open incidents (p99 <= 1 s): 10,000 escalations fall due
   over 60 s while the engine runs; lateness = when the step ran - when it was due.
3. idle memory of `onduty serve` (<= 150 MB RSS).

Beside each latency, the CPU time spent for it (the server's in part 1, this process's in part
2): a figure that other load on the machine changes much less than the latencies.

Run: python bench/bench_engine.py [--database-url URL]   (default: a temporary SQLite file)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
ONDUTY = str(Path(sys.executable).parent / "onduty")
sys.path.insert(0, str(ROOT))


def receiver() -> tuple[ThreadingHTTPServer, dict[str, float]]:
    arrivals: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            arrivals.setdefault(body["incident"]["title"], time.perf_counter())
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, arrivals


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def env_for(url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
    env.update(
        ONDUTY_DATABASE_URL=url,
        ONDUTY_SECRET_KEY="bench-secret-0123456789abcdef",
        ONDUTY_BASE_URL=f"http://127.0.0.1:{port}",
        ONDUTY_ENGINE_TICK="1s",
    )
    return env


def run(cmd: list[str], env: dict[str, str]) -> str:
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def first_notification(url: str, tmp: Path, rate: int = 50, seconds: int = 10) -> dict[str, float]:
    from tests.policy_cases import example
    from tests.scenario import alertmanager

    server, arrivals = receiver()
    port = 18000 + os.getpid() % 1000
    env = env_for(url, port)
    doc = example()
    for person in doc["people"]:
        person["contact_methods"] = [
            {"id": "hook", "type": "webhook", "url": f"http://127.0.0.1:{server.server_port}/h"}
        ]
        person["notification_rules"] = [{"after": "0m", "via": "hook"}]
    doc["services"][0]["integrations"][0]["rate_limit"] = 100000
    policy = tmp / "policy.yaml"
    policy.write_text(yaml.safe_dump(doc))
    run([ONDUTY, "db", "upgrade"], env)
    run([ONDUTY, "policy", "apply", str(policy)], env)
    key = next(
        r["key"]
        for r in json.loads(run([ONDUTY, "integrations", "list", "--json"], env))
        if r["service"] == "storefront" and r["type"] == "alertmanager"
    )
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen(
        [ONDUTY, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        time.sleep(3)
        status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
        rss_mb = int(next(x for x in status if x.startswith("VmRSS")).split()[1]) / 1024
        sent: dict[str, float] = {}
        stamp = datetime.now(UTC).strftime("%H%M%S")
        cpu_before = cpu_seconds(proc.pid)
        with httpx.Client(base_url=base) as client:
            start = time.perf_counter()
            for i in range(rate * seconds):
                target = start + i / rate
                while time.perf_counter() < target:
                    time.sleep(0.001)
                name = f"B{stamp}x{i}"
                sent[f"{name} is failing"] = time.perf_counter()
                assert (
                    client.post(
                        f"/integrations/{key}", content=alertmanager(name, fp=name)
                    ).status_code
                    == 202
                )
        deadline = time.perf_counter() + 30
        while len(arrivals) < len(sent) and time.perf_counter() < deadline:
            time.sleep(0.1)
        cpu = cpu_seconds(proc.pid) - cpu_before
        lat = [(arrivals[t] - s) * 1000 for t, s in sent.items() if t in arrivals]
        return {
            "server_cpu_ms_per_alert": cpu * 1000 / len(sent),
            "alerts": len(sent),
            "delivered": len(lat),
            "p50_ms": percentile(lat, 0.5),
            "p99_ms": percentile(lat, 0.99),
            "idle_rss_mb": rss_mb,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        server.shutdown()


def step_lateness(url: str, count: int = 10_000, spread_s: int = 60) -> dict[str, float]:
    from sqlalchemy import func, insert, select, text

    from onduty import models as m
    from onduty.clock import SystemClock
    from onduty.config import Settings
    from onduty.db import make_engine, make_session_factory
    from onduty.engine import Engine
    from onduty.notify import FakeChannel

    db = make_engine(url)
    factory = make_session_factory(db)
    now = datetime.now(UTC)
    due: dict[int, datetime] = {}
    with factory() as s, s.begin():
        service = s.get(m.Service, "payments")
        assert service is not None
        policy_snapshot = {"repeat": 0, "steps": [{"notify": ["person:ravi"], "wait_s": 3600}]}
        top = s.scalar(select(func.max(m.Incident.number))) or 0
        rows, states = [], []
        first_id = (s.scalar(select(m.Incident.id).order_by(m.Incident.id.desc())) or 0) + 1
        for i in range(count):
            at = now + timedelta(seconds=5 + spread_s * i / count)
            rows.append(
                dict(
                    id=first_id + i,
                    number=top + i + 1,
                    title=f"L{i}",
                    status="triggered",
                    service_id="payments",
                    team_id=service.team_id,
                    discipline="backend",
                    priority="P1",
                    rule_priority="P1",
                    source="bench",
                    stages={},
                    stage="reported",
                    backlog=False,
                    page_due_at=now,
                    generation=1,
                    created_at=now,
                )
            )
            states.append(
                dict(
                    incident_id=first_id + i,
                    policy_id="standard",
                    policy=policy_snapshot,
                    step=0,
                    cycle=0,
                    next_at=at,
                    generation=1,
                    finished=False,
                )
            )
            due[first_id + i] = at
        s.execute(insert(m.Incident), rows)
        s.execute(insert(m.EscalationState), states)
        # Numbering goes on after these (a sequence on PostgreSQL, the counter row on SQLite).
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT setval('incident_number', :n)"), {"n": top + count})
        else:
            s.execute(
                m.Counter.__table__.update()
                .where(m.Counter.name == "incident")
                .values(value=top + count)
            )
    settings = Settings(
        database_url=url,
        secret_key="bench-secret-0123456789abcdef",
        engine_tick=timedelta(seconds=1),  # the default
    )
    fakes = {t: FakeChannel(t) for t in ("email", "sms", "voice", "slack", "webhook")}
    engine = Engine(settings, factory, SystemClock(), fakes, holder="bench")
    thread = threading.Thread(target=engine.run, daemon=True)
    cpu_before = time.process_time()
    thread.start()
    time.sleep(spread_s + 12)
    engine.stop()
    thread.join(timeout=30)
    cpu = time.process_time() - cpu_before
    with factory() as s:
        created = dict(
            s.execute(
                select(m.Notification.incident_id, m.Notification.created_at).where(
                    m.Notification.incident_id >= min(due)
                )
            ).all()
        )
    late = [(created[i] - due[i]).total_seconds() for i in due if i in created]
    db.dispose()
    return {
        "engine_cpu_ms_per_step": cpu * 1000 / max(1, len(late)),  # per step that ran
        "escalations": count,
        "ran": len(late),
        "p50_s": percentile(late, 0.5),
        "p99_s": percentile(late, 0.99),
        "max_s": max(late) if late else float("nan"),
        "mean_s": statistics.mean(late) if late else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--first-only", action="store_true", help="skip the step lateness part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        report_first(first_notification(url, Path(tmp)))  # also applies the policy
        if not args.first_only:
            report_lateness(step_lateness(url))


def report_first(first: dict[str, float]) -> None:
    print(
        f"alert -> first notification at 50/s: {first['delivered']}/{first['alerts']} delivered, "
        f"p50 {first['p50_ms']:.0f} ms, p99 {first['p99_ms']:.0f} ms (targets 100 ms / 1 s)"
    )
    print(f"  server CPU {first['server_cpu_ms_per_alert']:.1f} ms per alert")
    print(f"idle RSS of onduty serve: {first['idle_rss_mb']:.0f} MB (target <= 150 MB)")


def report_lateness(late: dict[str, float]) -> None:
    print(
        f"step lateness, 10,000 escalations due over 60 s: ran {late['ran']}, "
        f"p50 {late['p50_s']:.3f} s, "
        f"p99 {late['p99_s']:.3f} s, max {late['max_s']:.3f} s (target p99 <= 1 s)"
    )
    print(f"  engine CPU {late['engine_cpu_ms_per_step']:.2f} ms per step (its pages sent too)")


if __name__ == "__main__":
    main()
