"""Benchmark of the dry-run (issue 18): one dry-run of the demo policy (every service, P1 and
P3, at instants spread over a week), and the paging check behind `onduty policy lint --paging`
(a P1 for every service at every hour of a week), on a scratch SQLite file. Prints the load
average before and after. Run: python bench/bench_dryrun.py [--runs 200]"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from onduty.db import make_engine, make_session_factory, migrate
from onduty.escalation import dryrun
from onduty.policy import apply_policy, load_file

POLICY = Path(__file__).resolve().parents[1] / "examples" / "acme" / "policy.yaml"
START = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        migrate(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as session, session.begin():
            apply_policy(session, load_file(POLICY)[0], actor="bench", now=START)
        services = ["storefront", "payments", "search", "catalog-web"]
        timings = []
        for i in range(args.runs):
            # A new session each time: nothing remembered from the previous run.
            with factory() as session:
                at = START + timedelta(minutes=97 * i)
                began = time.perf_counter()
                run = dryrun.dry_run(
                    session, service_id=services[i % 4], at=at, priority=("P1", "P3")[i % 2]
                )
                timings.append(time.perf_counter() - began)
                assert run.entries
        timings.sort()
        print(
            f"one dry-run ({args.runs} runs, own session each): "
            f"p50 {statistics.median(timings) * 1000:.1f} ms, "
            f"p95 {timings[int(len(timings) * 0.95)] * 1000:.1f} ms"
        )
        with factory() as session:
            began = time.perf_counter()
            _ack, gaps = dryrun.paging_gaps(session, start=START, channels=frozenset({"email"}))
            took = time.perf_counter() - began
        print(f"paging check, 4 services x 168 hours: {took:.2f} s ({len(gaps)} gaps)")
        engine.dispose()
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
