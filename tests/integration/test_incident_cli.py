"""`onduty incident list|show|ack|resolve|reopen` through the installed script."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_cli import run
from tests.policy_cases import EXAMPLE

from onduty.clock import FakeClock
from onduty.incidents import ingest as incident_ingest


def test_incident_commands(
    db_url: str, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    assert run(db_url, "policy", "apply", str(EXAMPLE)).returncode == 0
    with session_factory() as s, s.begin():
        for title in ("Refunds fail", "Search is slow"):
            incident_ingest.report(
                s,
                service_id="payments",
                title=title,
                channel="team",
                actor="ravi",
                now=clock.now(),
                fields={},
            )

    listed = run(db_url, "incident", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(r["id"], r["status"], r["team"]) for r in json.loads(listed.stdout)] == [
        (2, "triggered", "checkout"),
        (1, "triggered", "checkout"),
    ]
    assert "Refunds fail" in run(db_url, "incident", "list").stdout

    acked = run(db_url, "incident", "ack", "1", "--as", "ravi")
    assert (acked.returncode, acked.stdout.strip()) == (0, "incident #1 acknowledged")
    again = run(db_url, "incident", "ack", "1")
    assert again.returncode == 1
    assert again.stderr.strip() == "error: incident #1 was already acknowledged by ravi"
    assert "Traceback" not in again.stderr
    assert run(db_url, "incident", "ack", "2", "--as", "ghost").returncode == 1
    assert run(db_url, "incident", "resolve", "1").returncode == 0
    assert run(db_url, "incident", "reopen", "1").stdout.strip() == "incident #1 reopened"
    missing = run(db_url, "incident", "show", "99")
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: no incident with id 99")

    filtered = run(
        db_url, "incident", "list", "--status", "triggered", "--team", "checkout", "--json"
    )
    assert [r["id"] for r in json.loads(filtered.stdout)] == [2, 1]
    shown = json.loads(run(db_url, "incident", "show", "1", "--json").stdout)
    assert [(e["kind"], e["actor"], e["channel"]) for e in shown["timeline"]][2:] == [
        ("acknowledged", "ravi", "cli"),
        ("resolved", "cli", "cli"),
        ("reopened", "cli", "cli"),
    ]
    assert "acknowledged by ravi (cli)" in run(db_url, "incident", "show", "1").stdout
