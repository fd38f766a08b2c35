"""Benchmark of the command line's start: `onduty --help`, `onduty who` and `onduty incident
list`, on a SQLite file next to it (local) and through `onduty serve` on 127.0.0.1 (remote),
each as a ratio to `python -c pass` timed in the same rounds (target: at most 10x). Rounds run
every command once in turn, so a change in the machine's load hits all of them alike; the load
average is printed before and after. Bytecode caches are written and used, as installed.
Run: python bench/bench_cli.py [--rounds 15]"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

ONDUTY = str(Path(sys.executable).parent / "onduty")
POLICY = Path(__file__).resolve().parents[1] / "examples" / "acme" / "policy.yaml"
SECRET = "bench-secret-0123456789abcdefghij"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, env: dict[str, str]) -> str:
    """Migrate, apply the Acme policy, report 20 incidents; an admin API token."""
    from onduty.clock import SystemClock
    from onduty.db import make_engine, make_session_factory
    from onduty.incidents import ingest

    def cli(*args: str) -> str:
        return subprocess.run(
            [ONDUTY, *args], env=env, check=True, capture_output=True, text=True
        ).stdout

    cli("db", "upgrade")
    cli("policy", "apply", str(POLICY))
    engine = make_engine(url)
    with make_session_factory(engine)() as session, session.begin():
        for i in range(20):
            ingest.report(
                session,
                service_id="payments",
                title=f"Refunds fail {i}",
                channel="team",
                actor="ravi",
                now=SystemClock().now(),
                fields={},
            )
    engine.dispose()
    return cli("token", "create", "--role", "responder", "--person", "ravi").strip()


@contextmanager
def server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    command = [ONDUTY, "serve", "--no-engine", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"onduty serve did not start: {proc.stderr!r}") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{command} failed: {result.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        # As installed: with bytecode caches (the warm-up run writes any that are missing).
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ONDUTY_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env |= {"ONDUTY_DATABASE_URL": url, "ONDUTY_SECRET_KEY": SECRET}
        token = prepare(url, env)
        with server(env) as base:
            remote = env | {"ONDUTY_URL": base, "ONDUTY_TOKEN": token}
            cases: list[tuple[str, list[str], dict[str, str]]] = [
                ("python -c pass", [py, "-c", "pass"], env),
                ("python -c 'import typer'", [py, "-c", "import typer"], env),
                ("python -c 'import sqlalchemy.orm'", [py, "-c", "import sqlalchemy.orm"], env),
                ("onduty --help", [ONDUTY, "--help"], env),
                ("onduty who (local)", [ONDUTY, "who"], env),
                ("onduty who --json (local)", [ONDUTY, "who", "--json"], env),
                ("onduty incident list (local)", [ONDUTY, "incident", "list"], env),
                ("onduty who (remote)", [ONDUTY, "who"], remote),
                ("onduty who --json (remote)", [ONDUTY, "who", "--json"], remote),
                ("onduty incident list (remote)", [ONDUTY, "incident", "list"], remote),
            ]
            for _, command, case_env in cases:  # warm the page cache and .pyc files
                timed(command, case_env)
            load_before = os.getloadavg()
            walls: dict[str, list[float]] = {name: [] for name, _, _ in cases}
            cpus: dict[str, list[float]] = {name: [] for name, _, _ in cases}
            for _ in range(args.rounds):
                for name, command, case_env in cases:
                    wall, cpu = timed(command, case_env)
                    walls[name].append(wall)
                    cpus[name].append(cpu)
            load_after = os.getloadavg()
    base_wall = statistics.median(walls["python -c pass"])
    base_cpu = statistics.median(cpus["python -c pass"])
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M}Z, {os.cpu_count()} CPUs, {args.rounds} rounds")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    print(f"{'command':40} {'wall ms':>8} {'ratio':>6} {'cpu ms':>8} {'ratio':>6}")
    for name, _, _ in cases:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(
            f"{name:40} {wall * 1000:8.0f} {wall / base_wall:6.1f} "
            f"{cpu * 1000:8.0f} {cpu / base_cpu:6.1f}"
        )


if __name__ == "__main__":
    main()
