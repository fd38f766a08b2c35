"""`onduty who`, `schedule show|fairness`, `override add|list|remove` and `swap` end to end."""

from __future__ import annotations

import json

from tests.integration.test_cli import run
from tests.policy_cases import EXAMPLE


def test_schedule_commands(db_url: str) -> None:
    assert run(db_url, "policy", "apply", str(EXAMPLE)).returncode == 0

    who = run(db_url, "who", "--team", "checkout", "--at", "2026-11-26T17:30", "--json")
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout) == [
        {
            "team": "checkout",
            "slot": "frontend",
            "person": "neha",
            "start": "2026-11-23T04:30:00+00:00",
            "end": "2026-11-30T04:30:00+00:00",
        },
        {
            "team": "checkout",
            "slot": "backend",
            "person": "arjun",
            "start": "2026-11-23T04:30:00+00:00",
            "end": "2026-11-30T04:30:00+00:00",
        },
    ]
    everyone = run(db_url, "who", "--at", "2026-11-26T12:00:00Z")
    assert "catalog" in everyone.stdout and "checkout" in everyone.stdout

    added = run(
        db_url,
        "override",
        "add",
        "--team",
        "checkout",
        "--slot",
        "backend",
        "--person",
        "ravi",
        "--start",
        "2026-11-26T15:30",
        "--end",
        "2026-11-26T19:30",
        "--reason",
        "dentist",
    )
    assert added.returncode == 0, added.stderr
    assert "ravi covers checkout/backend from Thu 2026-11-26 15:30 IST" in added.stdout
    clash = run(
        db_url,
        "override",
        "add",
        "--team",
        "checkout",
        "--slot",
        "backend",
        "--person",
        "arjun",
        "--start",
        "2026-11-26T18:00",
        "--end",
        "2026-11-26T20:00",
    )
    assert clash.returncode == 1 and clash.stderr.startswith("error: override 1 already gives")
    during = json.loads(
        run(db_url, "who", "--team", "checkout", "--at", "2026-11-26T17:30", "--json").stdout
    )
    assert during[1]["person"] == "ravi"
    listed = run(db_url, "override", "list", "--team", "checkout")
    assert "dentist" in listed.stdout and "ravi" in listed.stdout
    assert run(db_url, "override", "remove", "1").stdout.strip() == "removed override 1"
    missing = run(db_url, "override", "remove", "1")
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: no override with id 1")

    swapped = run(
        db_url,
        "swap",
        "--team",
        "catalog",
        "--slot",
        "frontend",
        "--first",
        "2026-11-26T12:00",
        "--second",
        "2026-12-01T12:00",
    )
    assert swapped.returncode == 0, swapped.stderr
    assert "priya covers catalog/frontend from Mon 2026-11-23 10:00 IST" in swapped.stdout
    assert "dev covers catalog/frontend from Mon 2026-11-30 10:00 IST" in swapped.stdout

    bad = run(db_url, "who", "--at", "next tuesday")
    assert (bad.returncode, bad.stderr.strip()) == (
        1,
        "error: --at: 'next tuesday' is not an ISO 8601 date and time",
    )


def test_schedule_show_and_fairness(db_url: str) -> None:
    assert run(db_url, "policy", "apply", str(EXAMPLE)).returncode == 0
    shown = run(db_url, "schedule", "show", "--team", "checkout", "--weeks", "4")
    assert shown.returncode == 0, shown.stderr
    assert "checkout (Asia/Kolkata)" in shown.stdout
    assert "Mon" in shown.stdout and "10:00 IST" in shown.stdout
    fair = run(
        db_url, "schedule", "fairness", "--team", "checkout", "--weeks", "12", "--ahead", "--json"
    )
    assert fair.returncode == 0, fair.stderr
    rows = json.loads(fair.stdout)
    assert set(rows) == {"asha", "neha", "ravi", "arjun"}
    # Twelve weekly shifts over two slots: each person holds six, give or take the edges.
    assert abs(sum(r["hours"] for r in rows.values()) - 2 * 12 * 168) < 1e-6
