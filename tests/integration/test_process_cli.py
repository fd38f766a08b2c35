"""`onduty checks list|tick` (and the process commands that follow) through the installed
script on the database, and the same documents through the server's API (the remote backend
driven over a TestClient, which is an httpx client)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_cli import run
from tests.policy_cases import example, write_policy

from onduty.auth import service as auth_service
from onduty.cli.remote import HttpBackend
from onduty.clock import FakeClock

CHECKS = [
    {
        "id": "morning-smoke",
        "team": "checkout",
        "type": "checklist",
        "at": "10:30",
        "items": ["Place a test order on staging", "Payment gateway dashboard is green"],
    },
    {
        "id": "nightly-backup",
        "service": "payments",
        "type": "heartbeat",
        "every": "1d",
        "grace": "1h",
        "key": "nightly-backup-key-0001",
    },
]


def policy_file(tmp_path: Path, **extra: Any) -> Path:
    doc = example()
    doc["checks"] = CHECKS
    doc.update(extra)
    return write_policy(doc, tmp_path / "policy.yaml")


def remote(
    client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> HttpBackend:
    with session_factory() as s, s.begin():
        token = auth_service.create_token(s, person_id="asha", role="responder", now=clock.now())
    client.headers["Authorization"] = f"Bearer {token}"
    return HttpBackend("http://testserver", client)


def test_checks_list_and_tick_locally_and_remotely(
    db_url: str,
    tmp_path: Path,
    client: TestClient,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    applied = run(db_url, "policy", "apply", str(policy_file(tmp_path)))
    assert "created check morning-smoke" in applied.stdout, applied.stderr
    listed = run(db_url, "checks", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    docs = {d["id"]: d for d in json.loads(listed.stdout)}
    assert docs["nightly-backup"]["ping_url"] == (
        "http://alerts.acme.test/heartbeat/nightly-backup-key-0001"
    )
    assert [i["done"] for i in docs["morning-smoke"]["items"]] == [False, False]
    ticked = run(db_url, "checks", "tick", "morning-smoke", "2", "--as", "ravi")
    assert ticked.returncode == 0, ticked.stderr
    assert ticked.stdout.startswith("morning-smoke 20") and ": 1/2 done (" in ticked.stdout
    shown = run(db_url, "checks", "list").stdout
    assert "2. Payment gateway dashboard is green (done by ravi)" in shown
    bad = run(db_url, "checks", "tick", "nightly-backup", "1")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == (
        "error: check 'nightly-backup' is a heartbeat check; only checklists are ticked"
    )
    assert run(db_url, "checks", "tick", "nope", "1").stderr.strip() == (
        "error: no check with id 'nope'"
    )
    # The server's answer has the same shape (its own clock and base URL).
    backend = remote(client, session_factory, clock)
    there = {d["id"]: d for d in backend.checks()}
    assert set(there) == set(docs)
    assert there["nightly-backup"]["ping_url"].endswith("/heartbeat/nightly-backup-key-0001")
    doc = backend.tick("morning-smoke", "Place a test order on staging", person=None)
    assert doc["items"][0]["by"] == "asha"


def test_export_writes_checks_back_and_reapplies_unchanged(db_url: str, tmp_path: Path) -> None:
    path = policy_file(tmp_path, handover={"day": "mon", "time": "10:30"})
    first = run(db_url, "policy", "apply", str(path)).stdout
    assert "created handover meeting" in first
    exported = run(db_url, "policy", "export").stdout
    doc = yaml.safe_load(exported)
    assert doc["handover"] == {"day": "mon", "time": "10:30", "duration": "30m"}
    assert {c["id"] for c in doc["checks"]} == {"morning-smoke", "nightly-backup"}
    assert "key" not in next(c for c in doc["checks"] if c["id"] == "nightly-backup")
    again = tmp_path / "exported.yaml"
    again.write_text(exported)
    assert run(db_url, "policy", "lint", str(again)).returncode == 0
    assert run(db_url, "policy", "apply", str(again)).stdout.strip() == "no changes"
