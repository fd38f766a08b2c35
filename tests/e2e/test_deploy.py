"""The documented deployment (deploy/systemd, docs/DEPLOY.md), run for real on PostgreSQL:
the API unit's and the engine unit's own command lines, one of each killed with SIGKILL under
load; a backup restored with pg_restore that the engine carries on from; and PostgreSQL itself
stopped and started again under the serving process."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from tests.channel_servers import WebhookReceiver
from tests.conftest import BACKEND, new_database
from tests.e2e.conftest import ONDUTY, free_port
from tests.e2e.processes import Processes, pages, wait_for, webhook_policy
from tests.policy_cases import write_policy
from tests.scenario import alertmanager

from onduty import models as m
from onduty.db import make_engine, make_session_factory

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="the deployment is PostgreSQL's")
UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


def unit_command(unit: str, port: int) -> list[str]:
    """The unit's ExecStart, with this test's onduty and port."""
    text = (UNITS / unit).read_text()
    line = next(x for x in text.splitlines() if x.startswith("ExecStart="))
    argv = shlex.split(line.removeprefix("ExecStart="))
    argv[0] = ONDUTY
    if "--port" in argv:
        argv[argv.index("--port") + 1] = str(port)
    return argv


def integration_key(procs: Processes) -> str:
    return next(
        r["key"]
        for r in json.loads(procs.cli("integrations", "list", "--json"))
        if r["integration"] == "prod-alerts" and r["service"] == "storefront"
    )


def apply(
    procs: Processes, receiver: WebhookReceiver, tmp: Path, steps: list[dict[str, str]]
) -> None:
    doc = webhook_policy(receiver.url, steps)
    doc["services"][0]["integrations"][0]["rate_limit"] = 100_000
    procs.cli("policy", "apply", str(write_policy(doc, tmp / "policy.yaml")))


def workers_of(pid: int) -> list[int]:
    """The serving processes uvicorn started (multiprocessing's spawned children)."""
    found = []
    for child in Path("/proc").glob("[0-9]*"):
        try:
            stat = (child / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (child / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(child.name))
    return found


def test_the_documented_layout_loses_nothing_when_an_api_worker_and_an_engine_are_killed(
    procs: Processes, receiver: WebhookReceiver, tmp_path: Path, db_url: str
) -> None:
    apply(procs, receiver, tmp_path, [{"notify": ["primary"], "wait": "60m"}])
    url = f"http://127.0.0.1:{procs.port}/integrations/{integration_key(procs)}"
    api = procs.start(*unit_command("onduty-api.service", procs.port)[1:])
    wait_for(lambda: len(workers_of(api.pid)) == 2, 60, "two API workers")
    wait_for(lambda: _answers(f"http://127.0.0.1:{procs.port}/healthz"), 60, "the API")
    engines = [procs.start(*unit_command("onduty-engine@.service", 0)[1:]) for _ in range(2)]

    accepted: list[str] = []

    def send(first: int, count: int) -> None:
        with httpx.Client(timeout=10) as client:
            for i in range(first, first + count):
                try:
                    answer = client.post(url, content=alertmanager(f"K{i}", fp=f"k{i}"))
                except httpx.TransportError:
                    continue  # the worker died under this request: not answered, not promised
                if answer.status_code == 202:
                    accepted.append(f"k{i}")

    senders = [threading.Thread(target=send, args=(n * 75, 75)) for n in range(4)]
    for sender in senders:
        sender.start()
    wait_for(lambda: len(accepted) >= 75, 120, "the first alerts")
    os.kill(workers_of(api.pid)[0], signal.SIGKILL)
    os.kill(engines[0].pid, signal.SIGKILL)
    for sender in senders:
        sender.join()

    assert len(accepted) >= 250  # the surviving worker (and uvicorn's restart) kept answering
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            # dedup keys are stored as am:v1:<fingerprint>
            stored = {k.rsplit(":", 1)[-1] for k in session.scalars(select(m.Alert.dedup_key))}
            incidents = session.scalar(select(func.count(m.Incident.id)))
    finally:
        engine.dispose()
    assert set(accepted) <= stored
    wait_for(lambda: len({p[0] for p in pages(receiver)}) >= incidents, 120, "every page")
    time.sleep(2)
    got = pages(receiver)
    per_incident = Counter(incident for incident, *_ in got)
    assert len(per_incident) == incidents
    # Exactly once, or again with the same key where the killed engine had one in flight.
    keys_per_incident = {i: {k for j, *_, k in got if j == i} for i in per_incident}
    assert all(len(keys) == 1 for keys in keys_per_incident.values())
    assert sum(per_incident.values()) - incidents <= 16  # at most the dead engine's sends


def test_a_restored_backup_carries_on_escalating(
    procs: Processes, receiver: WebhookReceiver, tmp_path: Path, db_url: str
) -> None:
    apply(
        procs,
        receiver,
        tmp_path,
        [{"notify": ["primary"], "wait": "4s"}, {"notify": ["secondary"], "wait": "60m"}],
    )
    server = procs.serve()
    url = f"http://127.0.0.1:{procs.port}/integrations/{integration_key(procs)}"
    assert httpx.post(url, content=alertmanager("Backup", fp="b1")).status_code == 202
    wait_for(lambda: len(receiver.requests) == 1, 30, "the first page")
    server.terminate()
    server.wait(timeout=30)
    dump = tmp_path / "onduty.dump"
    plain = db_url.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", plain], check=True)

    with new_database(tmp_path) as restored:
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={restored}", str(dump)], check=True)
        procs.env["ONDUTY_DATABASE_URL"] = restored
        procs.start("engine")
        wait_for(lambda: len(receiver.requests) == 2, 30, "the second step's page")
        time.sleep(1)
        assert [p[2] for p in pages(receiver)] == ["asha", "ravi"]
        procs.stop_all()


# --- PostgreSQL stopped and started under the server ------------------------------------------


@dataclass
class Cluster:
    """A PostgreSQL cluster of one test's own, so it can be stopped and started."""

    home: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [*_AS_POSTGRES, str(_BIN / "pg_ctl"), "-D", str(self.home / "data"), "-w", *args],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.ctl("-o", options, "-l", str(self.home / "log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-m", mode, "stop")


_BIN = Path(shutil.which("pg_ctl") or "/usr/lib/postgresql/15/bin/pg_ctl").resolve().parent
_AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    home = Path(tempfile.mkdtemp(prefix="onduty-pg-"))
    if _AS_POSTGRES:  # initdb refuses to run as root
        shutil.chown(home, "postgres", "postgres")
    initdb = [str(_BIN / "initdb"), "-D", str(home / "data"), "-A", "trust", "-U", "postgres"]
    subprocess.run(
        [*_AS_POSTGRES, *initdb],
        check=True,
        capture_output=True,
    )
    made = Cluster(home, free_port())
    made.start()
    try:
        yield made
    finally:
        made.stop("immediate")
        shutil.rmtree(home, ignore_errors=True)


def test_postgresql_restart_mid_run_gives_503s_then_intake_resumes_by_itself(
    cluster: Cluster, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    procs = Processes(cluster.url, tmp_path)
    try:
        procs.cli("db", "upgrade")
        apply(procs, receiver, tmp_path, [{"notify": ["primary"], "wait": "60m"}])
        procs.serve()
        url = f"http://127.0.0.1:{procs.port}/integrations/{integration_key(procs)}"
        with httpx.Client(timeout=30) as client:
            assert client.post(url, content=alertmanager("Up", fp="u0")).status_code == 202

            cluster.stop()
            for i in range(3):
                started = time.monotonic()
                answer = client.post(url, content=alertmanager("Away", fp=f"a{i}"))
                assert answer.status_code == 503, answer.text
                assert "Retry-After" in answer.headers
                assert time.monotonic() - started < 10

            cluster.start()
            back = time.monotonic()
            wait_for(
                lambda: client.post(url, content=alertmanager("Back", fp="b0")).status_code == 202,
                5,
                "intake back within 5 s of PostgreSQL's return",
            )
            assert time.monotonic() - back < 5
            wait_for(lambda: len(receiver.requests) >= 2, 30, "the pages of u0 and b0")
    finally:
        procs.stop_all()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
