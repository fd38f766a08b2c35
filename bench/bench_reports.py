"""Benchmark of the on-call report and of heartbeats (issue 17).

Reports: a synthetic year of history for N teams (each: a weekly rota of two slots of two
people, L1-L3, one service), `--incidents` incidents spread over the year with acknowledge and
resolve times, one or two pages each and one alert each, written with Core inserts; then the
organisation's one-year report and one team's month, each run `--rounds` times (median). The
report reads incidents, notifications, alerts and check runs, not the timeline, so timeline
rows are not generated.

Heartbeats: `--heartbeats` heartbeat checks; the CPU time of a ping through the whole HTTP
stack (the FastAPI app in this process via Starlette's TestClient, so the client's own cost is
included: an upper bound) and of the engine's scan for late heartbeats, turned into the share
of one core that `--heartbeats` checks pinging every 10 s cost.

Run: python bench/bench_reports.py [--database-url URL] [--teams 50] [--incidents 100000]"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import insert

YEAR_START = datetime(2025, 12, 1, tzinfo=UTC)
SECRET = "bench-secret-0123456789abcdefghij"


def policy(teams: int, heartbeats: int) -> dict[str, Any]:
    people, team_docs, services = [], [], []
    for t in range(teams):
        ids = [f"t{t}p{i}" for i in range(4)] + [f"t{t}l{i}" for i in range(3)]
        for i, pid in enumerate(ids):
            people.append(
                {
                    "id": pid,
                    "name": pid,
                    "email": f"{pid}@bench.example",
                    "timezone": ("Asia/Kolkata", "Europe/London", "America/New_York")[t % 3],
                    **({"discipline": ("frontend", "backend")[i % 2]} if i < 4 else {}),
                }
            )
        team_docs.append(
            {
                "id": f"team{t}",
                "name": f"Team {t}",
                "members": ids[:4],
                "support": {"L1": [ids[4]], "L2": [ids[5]], "L3": [ids[6]]},
                "rota": {
                    "timezone": "Asia/Kolkata",
                    "handoff": {"day": "mon", "time": "10:00"},
                    "start": "2025-11-03",
                    "slots": {"frontend": [ids[0], ids[2]], "backend": [ids[1], ids[3]]},
                },
            }
        )
        services.append(
            {
                "id": f"svc{t}",
                "name": f"Service {t}",
                "team": f"team{t}",
                "discipline": "backend",
                "escalation_policy": "standard",
                "integrations": [{"id": "am", "type": "alertmanager"}],
            }
        )
    return {
        "version": 1,
        "organization": {"name": "Bench", "timezone": "Asia/Kolkata", "ack_timeout": "5m"},
        "people": people,
        "teams": team_docs,
        "services": services,
        "escalation_policies": [
            {
                "id": "standard",
                "steps": [
                    {"notify": ["primary"], "wait": "5m"},
                    {"notify": ["secondary"], "wait": "5m"},
                    {"notify": ["L1"], "wait": "10m"},
                ],
            }
        ],
        "checks": [
            {
                "id": f"hb{i}",
                "service": f"svc{i % teams}",
                "type": "heartbeat",
                "every": "10s",
                "grace": "5s",
                "key": f"bench-heartbeat-key-{i:06d}",
            }
            for i in range(heartbeats)
        ],
    }


def history(factory: Any, teams: int, incidents: int, seed: int = 7) -> None:
    from onduty import models as m

    rng = random.Random(seed)
    span = 365 * 86400
    chunk = 5000
    number = 0
    with factory() as s, s.begin():
        for start in range(0, incidents, chunk):
            rows, pages, alerts = [], [], []
            for _ in range(min(chunk, incidents - start)):
                number += 1
                t = rng.randrange(teams)
                at = YEAR_START + timedelta(seconds=rng.randrange(span))
                ack = rng.choice([30, 90, 200, 280, 400, 900]) + rng.randrange(60)
                res = ack + rng.randrange(600, 2 * 86400)
                rows.append(
                    {
                        "number": number,
                        "title": f"alert {number % 300}",
                        "status": "resolved",
                        "service_id": f"svc{t}",
                        "team_id": f"team{t}",
                        "priority": rng.choice(["P1", "P2", "P3", "P3", "P4"]),
                        "rule_priority": "P3",
                        "source": "alertmanager",
                        "stages": {
                            "reported": at.isoformat(),
                            "acknowledged": (at + timedelta(seconds=ack)).isoformat(),
                            "resolved_on_call": (at + timedelta(seconds=res)).isoformat(),
                        },
                        "stage": "resolved_on_call",
                        "backlog": False,
                        "page_due_at": at,
                        "generation": 3,
                        "created_at": at,
                        "acknowledged_at": at + timedelta(seconds=ack),
                        "acknowledged_by": f"t{t}p{rng.randrange(4)}",
                        "resolved_at": at + timedelta(seconds=res),
                    }
                )
            ids = (
                s.execute(
                    insert(m.Incident).returning(m.Incident.id, sort_by_parameter_order=True), rows
                )
                .scalars()
                .all()
            )
            for incident_id, row in zip(ids, rows, strict=True):
                t = int(row["team_id"][4:])
                at = row["created_at"]
                for step in range(1 + (incident_id % 3 == 0)):
                    pages.append(
                        {
                            "incident_id": incident_id,
                            "generation": 1,
                            "cycle": 0,
                            "step": step,
                            "person_id": f"t{t}p{(incident_id + step) % 4}",
                            "target": "primary",
                            "created_at": at + timedelta(seconds=300 * step),
                        }
                    )
                alerts.append(
                    {
                        "incident_id": incident_id,
                        "service_id": row["service_id"],
                        "dedup_key": f"am:v1:{incident_id % 300}",
                        "status": "resolved",
                        "summary": row["title"],
                        "labels": {},
                        "details": {},
                        "count": 1,
                        "first_seen": at,
                        "last_seen": at,
                    }
                )
            s.execute(insert(m.Notification), pages)
            s.execute(insert(m.Alert), alerts)


def timed(rounds: int, run: Any) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--heartbeats", type=int, default=1000)
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from onduty.checks import service as checks_service
    from onduty.clock import FakeClock
    from onduty.config import Settings
    from onduty.db import dialect, make_engine, make_session_factory, migrate
    from onduty.policy import apply_policy, parse_text
    from onduty.reports import service as reports_service
    from onduty.web.app import create_app

    folder = tempfile.mkdtemp(prefix="bench-reports-")
    url = args.database_url or f"sqlite:///{folder}/onduty.db"
    print(f"load before: {os.getloadavg()}")
    migrate(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    doc, _ = parse_text(yaml.safe_dump(policy(args.teams, args.heartbeats)))
    with factory() as s, s.begin():
        apply_policy(s, doc)
    started = time.perf_counter()
    history(factory, args.teams, args.incidents)
    print(
        f"history: {args.teams} teams, {args.incidents} incidents, "
        f"~{int(args.incidents * 4 / 3)} pages, {args.incidents} alerts "
        f"written in {time.perf_counter() - started:.1f} s ({engine.dialect.name})"
    )
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    now = YEAR_START + timedelta(days=365)

    def report(team: str | None, since: str, until: str) -> dict[str, Any]:
        with factory() as s:
            s.connection(execution_options={dialect.READ_ONLY: True})
            return reports_service.report(s, team=team, since=since, until=until, now=now)

    first, last = YEAR_START.isoformat(), now.isoformat()
    year = report(None, first, last)
    assert year["totals"]["incidents"] == args.incidents, year["totals"]
    wall, cpu = timed(args.rounds, lambda: report(None, first, last))
    print(
        f"organisation, one year: {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU "
        f"(median of {args.rounds})"
    )
    wall, cpu = timed(args.rounds, lambda: report("team7", "2026-06-01", "2026-06-30"))
    print(
        f"one team, one month:    {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU "
        f"(median of {args.rounds})"
    )

    clock = FakeClock(now)
    settings = Settings(database_url=url, secret_key=SECRET)
    app = create_app(settings, clock=clock, engine=engine, session_factory=factory)
    with TestClient(app) as client:
        keys = [f"bench-heartbeat-key-{i:06d}" for i in range(args.heartbeats)]
        assert client.get(f"/heartbeat/{keys[0]}").status_code == 204
        c = time.process_time()
        w = time.perf_counter()
        for n in range(args.pings):
            client.get(f"/heartbeat/{keys[n % len(keys)]}")
        http_cpu = (time.process_time() - c) / args.pings
        http_wall = (time.perf_counter() - w) / args.pings
    c = time.process_time()
    for n in range(args.pings):
        with factory() as s, s.begin():
            checks_service.ping(s, key=keys[n % len(keys)], now=now)
    service_cpu = (time.process_time() - c) / args.pings
    with factory() as s, s.begin():
        checks_service.run_due(s, now=now)  # schedules them all

    def scan() -> None:
        with factory() as s, s.begin():
            checks_service.run_due(s, now=now + timedelta(seconds=1))

    _wall, scan_cpu = timed(5, scan)
    rate = args.heartbeats / 10  # pings a second
    print(
        f"heartbeat ping: {http_cpu * 1000:.2f} ms CPU through HTTP (TestClient included; "
        f"{http_wall * 1000:.2f} ms wall), {service_cpu * 1000:.2f} ms CPU in the service alone"
    )
    print(
        f"{args.heartbeats} heartbeats every 10 s ({rate:.0f}/s): {rate * http_cpu * 100:.1f} % of "
        f"one core through HTTP (upper bound), {rate * service_cpu * 100:.1f} % in the service; "
        f"the engine's late scan {scan_cpu * 1000:.1f} ms CPU a tick "
        f"({scan_cpu * 100:.1f} % at one tick a second)"
    )
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
