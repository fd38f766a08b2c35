"""The responder's commands through a live `onduty serve` on 127.0.0.1 (`--server`,
ONDUTY_URL, ONDUTY_TOKEN, `onduty login`): the same output and exit codes as on the database,
roles enforced by the server, and one clear line when the server or the token is wrong."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import new_database
from tests.e2e.conftest import ONDUTY, free_port
from tests.integration.test_cli_start import HEAVY, imported, loaded
from tests.policy_cases import EXAMPLE

from onduty.auth import service as auth_service
from onduty.db import make_engine, make_session_factory, migrate
from onduty.incidents import ingest
from onduty.incidents.models import TimelineEvent
from onduty.policy import apply_policy, load_file
from onduty.schedules.models import Override

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Remote:
    base: str
    db_url: str
    responder: str  # ravi's token
    viewer: str
    env: dict[str, str]

    def local(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(args, self.env | {"ONDUTY_DATABASE_URL": self.db_url})

    def remote(
        self, *args: str, token: str | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        env = self.env | {"ONDUTY_URL": self.base, "ONDUTY_TOKEN": token or self.responder}
        return self._run(args, env | extra)

    def _run(self, args: tuple[str, ...], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ONDUTY, *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    """One server for this module's tests: the Acme policy, two incidents, two tokens."""
    folder = tmp_path_factory.mktemp("remote")
    with new_database(folder) as url:
        migrate(url)
        engine = make_engine(url)
        with make_session_factory(engine)() as session, session.begin():
            apply_policy(session, load_file(EXAMPLE)[0])
            tokens = [
                auth_service.create_token(session, person_id=person, role=role, now=NOW)
                for person, role in (("ravi", "responder"), (None, "viewer"))
            ]
            for title in ("Refunds fail", "[prod] Search is slow [/x]"):
                ingest.report(
                    session,
                    service_id="payments",
                    title=title,
                    channel="team",
                    actor="ravi",
                    now=NOW,
                    fields={},
                )
        engine.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
        env["XDG_CONFIG_HOME"] = str(folder / "config")
        port = free_port()
        server_env = env | {
            "ONDUTY_DATABASE_URL": url,
            "ONDUTY_SECRET_KEY": "e2e-secret-0123456789ab",
        }
        log = (folder / "server.log").open("w+")
        proc = subprocess.Popen(
            [ONDUTY, "serve", "--no-engine", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, (folder / "server.log").read_text()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
            yield Remote(base, url, tokens[0], tokens[1], env)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            log.close()


def test_reads_answer_as_on_the_database(served: Remote) -> None:
    answers = {}
    for args in (
        ("who", "--json"),
        ("who", "--team", "checkout", "--at", "2026-11-26T17:30"),
        ("incident", "list"),
        ("incident", "list", "--status", "triggered", "--json"),
        ("incident", "show", "1"),
        ("incident", "show", "2", "--json"),
        ("override", "list", "--json"),
        ("incident", "show", "99"),
        ("who", "--team", "nope"),
        ("dryrun", "--service", "payments", "--priority", "P3", "--at", "2026-11-28T23:00"),
        ("dryrun", "--service", "storefront", "--at", "2026-11-26T17:30", "--json"),
        ("dryrun", "--service", "nope"),
    ):
        here, there = served.local(*args), served.remote(*args)
        assert (there.returncode, there.stdout, there.stderr) == (
            here.returncode,
            here.stdout,
            here.stderr,
        ), args
        answers[args] = there
    assert "Refunds fail" in answers[("incident", "list")].stdout
    assert "[prod] Search is slow [/x]" in answers[("incident", "list")].stdout
    assert "acknowledged" not in answers[("incident", "show", "1")].stdout
    assert answers[("who", "--team", "nope")].stderr == "error: no team with id 'nope'\n"
    # Shifts from "now": the two runs start a few seconds apart; every handoff is the same.
    here, there = (
        json.loads(r.stdout)
        for r in (
            served.local("schedule", "show", "--team", "catalog", "--json"),
            served.remote("schedule", "show", "--team", "catalog", "--json"),
        )
    )

    def handoffs(doc: dict[str, Any]) -> list[tuple[str, str, str | None]]:
        end = max(s["end"] for s in doc["shifts"])  # now + 4 weeks, not a handoff
        return [(s["slot"], s["end"], s["person"]) for s in doc["shifts"] if s["end"] != end]

    assert handoffs(here) and handoffs(here) == handoffs(there)
    assert (here["timezone"], there["timezone"]) == ("Asia/Kolkata", "Asia/Kolkata")


def test_changes_go_through_the_server_as_the_tokens_person(served: Remote) -> None:
    denied = served.remote("incident", "ack", "1", token=served.viewer)
    assert (denied.returncode, denied.stderr) == (
        1,
        "error: this needs the responder role; the token has viewer\n",
    )
    acked = served.remote("incident", "ack", "1")
    assert (acked.returncode, acked.stdout) == (0, "incident #1 acknowledged\n")
    again = served.remote("incident", "ack", "1")
    assert (again.returncode, again.stderr) == (
        1,
        "error: incident #1 was already acknowledged by ravi\n",
    )
    assert served.remote("incident", "resolve", "1").stdout == "incident #1 resolved\n"
    assert served.remote("incident", "reopen", "1", "--server", served.base).returncode == 0
    as_other = served.remote("incident", "ack", "2", "--as", "asha")
    assert as_other.returncode == 1 and "--as" in as_other.stderr

    added = served.remote(
        *("override", "add", "--team", "checkout", "--slot", "backend", "--person", "arjun"),
        *("--start", "2030-01-07T09:00", "--end", "2030-01-07T13:30"),
    )
    assert (added.returncode, added.stdout) == (
        0,
        "override 1: arjun covers checkout/backend from Mon 2030-01-07 09:00 IST to "
        "Mon 2030-01-07 13:30 IST\n",
    )
    clash = served.remote(
        *("override", "add", "--team", "checkout", "--slot", "backend", "--person", "ravi"),
        *("--start", "2030-01-07T10:00", "--end", "2030-01-07T11:00"),
    )
    assert clash.returncode == 1 and clash.stderr.startswith("error: override 1 already gives")
    swapped = served.remote(
        *("swap", "--team", "catalog", "--slot", "frontend"),
        *("--first", "2030-01-08T12:00", "--second", "2030-01-15T12:00"),
    )
    assert swapped.returncode == 0, swapped.stderr
    assert len(swapped.stdout.splitlines()) == 2

    engine = make_engine(served.db_url)
    try:
        with make_session_factory(engine)() as session:
            events = session.scalars(
                select(TimelineEvent)
                .where(TimelineEvent.incident_id == 1)
                .order_by(TimelineEvent.id)
            )
            assert [(e.kind, e.actor, e.channel) for e in events][-3:] == [
                ("acknowledged", "ravi", "api"),
                ("resolved", "ravi", "api"),
                ("reopened", "ravi", "api"),
            ]
            authors = {o.created_by for o in session.scalars(select(Override))}
            assert authors == {"ravi"}
    finally:
        engine.dispose()
    assert served.remote("override", "remove", "1").stdout == "removed override 1\n"
    gone = served.remote("override", "remove", "1")
    assert (gone.returncode, gone.stderr) == (1, "error: no override with id 1\n")


def test_unreachable_server_and_refused_token_are_one_line(served: Remote) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    down = served.remote("who", "--server", closed)
    assert down.returncode == 1
    assert (
        down.stderr.startswith(f"error: cannot reach {closed}: ") and down.stderr.count("\n") == 1
    )
    refused = served.remote("incident", "list", token="odt_not-a-token")
    assert (refused.returncode, refused.stderr) == (
        1,
        f"error: {served.base} refused the token: the token is unknown or revoked\n",
    )
    none = served.remote("who", ONDUTY_TOKEN="")
    assert none.returncode == 1
    assert none.stderr.startswith(f"error: no API token for {served.base}: set ONDUTY_TOKEN")


def test_login_keeps_the_token_for_this_user_only(served: Remote, tmp_path: Path) -> None:
    env = served.env | {"XDG_CONFIG_HOME": str(tmp_path)}
    login = subprocess.run(
        [ONDUTY, "login", "--server", served.base + "/", "--token-stdin"],
        input="odt_wrong\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert login.returncode == 1 and "refused the token" in login.stderr
    saved = tmp_path / "onduty" / "credentials"
    assert not saved.exists()
    login = subprocess.run(
        [ONDUTY, "login", "--server", served.base + "/", "--token-stdin"],
        input=served.viewer + "\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert login.returncode == 0, login.stderr
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert json.loads(saved.read_text()) == {served.base: served.viewer}
    who = subprocess.run(
        [ONDUTY, "who", "--json"],
        capture_output=True,
        text=True,
        env=env | {"ONDUTY_URL": served.base},
        check=False,
    )
    assert who.returncode == 0, who.stderr
    assert {r["team"] for r in json.loads(who.stdout)} == {"checkout", "catalog"}


def test_remote_commands_load_no_database_code(served: Remote, tmp_path: Path) -> None:
    env = served.env | {"ONDUTY_URL": served.base, "ONDUTY_TOKEN": served.responder}
    for command in (["who"], ["incident", "list", "--json"]):
        modules = imported(env, tmp_path, *command)
        assert "httpx" in modules
        assert loaded(modules, (*HEAVY, "sqlalchemy", "pydantic_settings", "onduty.db")) == []


def test_handover_through_the_server_as_on_the_database(served: Remote) -> None:
    given = ("--actual", "slow", "--ideal", "fast", "--tried", "reindexed")
    unknown = served.remote("incident", "handover", "2", "--developer", "ghost", *given)
    assert (unknown.returncode, unknown.stderr) == (1, "error: no person with id 'ghost'\n")
    done = served.remote(
        "incident", "handover", "2", "--developer", "sana", *given, "--link", "https://x.example/"
    )
    assert (done.returncode, done.stdout) == (0, "incident #2 handed over to sana\n")
    remote = served.remote("incident", "list", "--stage", "handed_over", "--json")
    local = served.local("incident", "list", "--stage", "handed_over", "--json")
    assert remote.returncode == local.returncode == 0
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    assert [d["number"] for d in json.loads(remote.stdout)] == [2]
