"""Benchmark of runbook matching and effectiveness on a SQLite file: the Acme policy, N
runbooks for its services (a quarter with `match` labels), M incidents with one alert each.
Times `apply_folder` (first and unchanged), `for_incident` (what each notification and incident
page pays) and `effectiveness` (the runbooks page and API). Short run: a few seconds.
Run: python bench/bench_runbooks.py [--runbooks 200] [--incidents 2000]"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

POLICY = Path(__file__).resolve().parents[1] / "examples" / "acme" / "policy.yaml"
SERVICES = ("storefront", "payments", "search", "catalog-web")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runbooks", type=int, default=200)
    parser.add_argument("--incidents", type=int, default=2000)
    args = parser.parse_args()
    from onduty import models as m
    from onduty.db import make_engine, make_session_factory, migrate
    from onduty.incidents import ingest
    from onduty.intake.signal import Signal
    from onduty.policy import apply_policy, load_file
    from onduty.runbooks import service as runbooks_service
    from onduty.runbooks.parse import template

    print("load before:", os.getloadavg())
    now = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate(url)
        factory = make_session_factory(make_engine(url))
        with factory() as s, s.begin():
            apply_policy(s, load_file(POLICY)[0], now=now)
        folder = Path(tmp) / "runbooks"
        folder.mkdir()
        for i in range(args.runbooks):
            text = template(SERVICES[i % 4], name=f"rb-{i}")
            if i % 4 == 0:
                text = text.replace("# match:", f"match: {{alertname: A{i % 40}}}\n# was:", 1)
            (folder / f"rb-{i}.md").write_text(text)
        for label in ("first", "unchanged"):
            start = time.perf_counter()
            with factory() as s, s.begin():
                runbooks_service.apply_folder(s, folder, actor="bench", now=now)
            print(
                f"apply_folder ({label}, {args.runbooks} files): "
                f"{(time.perf_counter() - start) * 1000:.0f} ms"
            )
        integration = {}
        with factory() as s:
            for g in s.scalars(select(m.Integration)):
                integration.setdefault(g.service_id, g)
        with factory() as s, s.begin():
            requests = [
                (
                    integration[SERVICES[i % 4]],
                    [
                        Signal(
                            action="trigger",
                            dedup_key=f"bench:v1:{i}",
                            summary=f"A{i % 40} failing",
                            source="alertmanager",
                            severity="warning",
                            labels={"alertname": f"A{i % 40}"},
                        )
                    ],
                )
                for i in range(args.incidents)
            ]
            ingest.ingest_many(s, requests, now=now)
        with factory() as s:
            incidents = s.scalars(select(m.Incident).limit(200)).all()
            times = []
            for incident in incidents:
                start = time.perf_counter()
                runbooks_service.for_incident(s, incident)
                times.append(time.perf_counter() - start)
            if times:
                print(
                    f"for_incident: median {statistics.median(times) * 1000:.2f} ms "
                    f"over {len(times)} incidents"
                )
            start = time.perf_counter()
            rows = runbooks_service.effectiveness(s, now=now)
            count = s.scalar(select(func.count(m.Incident.id)))
            elapsed = (time.perf_counter() - start) * 1000
            print(f"effectiveness ({len(rows)} runbooks, {count} incidents): {elapsed:.0f} ms")
    print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
