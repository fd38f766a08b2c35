"""A short command starts light: what `onduty --help`, `who` and `incident list` import; the
schema check that needs no Alembic; the setting read without pydantic; shell completion; and
the output made for people (durations, zones) and for scripts (--json shapes)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from tests.integration.test_cli import ONDUTY, run
from tests.policy_cases import EXAMPLE

from onduty.cli.backend import DEFAULT_DATABASE_URL, environment
from onduty.cli.common import span
from onduty.config import Settings
from onduty.db import make_engine
from onduty.db.session import alembic_config, head_revision, schema_revision

HEAVY = ("fastapi", "starlette", "uvicorn", "alembic", "jinja2", "onduty.web", "onduty.engine")

# Runs the command in this interpreter, then writes the names of every module it imported.
PROBE = """
import json, os, sys
from onduty.cli import main
sys.argv = ["onduty", *sys.argv[1:]]
try:
    main()
finally:
    with open(os.environ["PROBE_OUT"], "w") as f:
        json.dump(sorted(sys.modules), f)
"""


def imported(env: dict[str, str], tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=env | {"PROBE_OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in names or m.startswith(names))


def test_light_commands_import_only_what_they_use(db_url: str, tmp_path: Path) -> None:
    assert run(db_url, "policy", "apply", str(EXAMPLE)).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
    env["ONDUTY_DATABASE_URL"] = db_url

    helped = imported(env, tmp_path, "--help")
    assert loaded(helped, (*HEAVY, "sqlalchemy", "httpx", "rich", "onduty.models")) == []
    for command in (["who"], ["incident", "list"]):
        modules = imported(env, tmp_path, *command)
        assert loaded(modules, (*HEAVY, "httpx", "pydantic_settings", "onduty.config")) == []
        # Only the tables a command reads are mapped (every model's mapper costs at start).
        assert "onduty.models" not in modules and "onduty.auth.models" not in modules
    assert "onduty.incidents.models" not in imported(env, tmp_path, "who")


def test_schema_head_is_known_without_alembic(db_url: str, tmp_path: Path) -> None:
    assert head_revision() == ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    engine = make_engine(db_url)
    try:
        assert schema_revision(engine) == head_revision()
    finally:
        engine.dispose()
    empty = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert schema_revision(empty) is None
    with empty.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('0001')"))
    assert schema_revision(empty) == "0001"
    stale = run(f"sqlite:///{tmp_path / 'empty.db'}", "who")
    assert (stale.returncode, stale.stderr.strip()) == (
        1,
        f"error: the database schema is at 0001, not {head_revision()}: run `onduty db upgrade`",
    )


@pytest.mark.parametrize("name", ["ONDUTY_DATABASE_URL", "onduty_database_url", None])
def test_database_url_is_read_as_settings_read_it(
    monkeypatch: pytest.MonkeyPatch, name: str | None
) -> None:
    for key in [k for k in os.environ if k.upper() == "ONDUTY_DATABASE_URL"]:
        monkeypatch.delenv(key)
    if name is not None:
        monkeypatch.setenv(name, "sqlite:////elsewhere.db")
    settings = Settings(demo=True)
    assert (environment("DATABASE_URL") or DEFAULT_DATABASE_URL) == settings.database_url


def test_durations_for_people() -> None:
    assert span(timedelta(hours=128.488)) == "5d 8h 29m"
    assert span(timedelta(hours=39.5116)) == "1d 15h 31m"
    assert span(timedelta(days=7)) == "7d"
    assert span(timedelta(hours=169)) == "7d 1h"
    assert span(timedelta(minutes=45, seconds=20)) == "45m"
    assert span(timedelta(seconds=20)) == "0m"


def test_completion_and_exit_codes_in_help() -> None:
    helped = subprocess.run([ONDUTY, "--help"], capture_output=True, text=True, check=False)
    assert "--install-completion" in helped.stdout
    assert "Exit status: 0 done; 1 refused or failed" in " ".join(helped.stdout.split())
    env = os.environ | {
        "_ONDUTY_COMPLETE": "complete_bash",
        "COMP_WORDS": "onduty incident a",
        "COMP_CWORD": "2",
    }
    completed = subprocess.run([ONDUTY], env=env, capture_output=True, text=True, check=False)
    assert completed.stdout.split() == ["ack"]


def test_json_shapes_and_local_times(db_url: str, tmp_path: Path) -> None:
    assert run(db_url, "policy", "apply", str(EXAMPLE)).returncode == 0
    added = run(
        db_url,
        *("override", "add", "--team", "checkout", "--slot", "backend", "--person", "ravi"),
        *("--start", "2030-01-07T09:00", "--end", "2030-01-07T13:30", "--reason", "dentist"),
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(run(db_url, "override", "list", "--json").stdout) == [
        {
            "id": 1,
            "team": "checkout",
            "slot": "backend",
            "person": "ravi",
            "start": "2030-01-07T03:30:00+00:00",
            "end": "2030-01-07T08:00:00+00:00",
            "reason": "dentist",
            "created_by": "cli",
            "managed": False,
        }
    ]
    shown = json.loads(run(db_url, "schedule", "show", "--team", "checkout", "--json").stdout)
    assert set(shown) == {"team", "timezone", "shifts"}
    assert (shown["team"], shown["timezone"]) == ("checkout", "Asia/Kolkata")
    first = shown["shifts"][0]
    assert set(first) == {"slot", "person", "start", "end", "seconds", "source"}
    assert {s["slot"] for s in shown["shifts"]} == {"frontend", "backend"}
    # Four weeks of both slots, end to end (whole seconds: "now" has a fraction).
    for slot in ("frontend", "backend"):
        total = sum(s["seconds"] for s in shown["shifts"] if s["slot"] == slot)
        assert abs(total - 4 * 7 * 86400) <= 1
    table = run(db_url, "schedule", "show", "--team", "checkout").stdout
    assert "7d " in table and "length" in table and "IST" in table
    bad = tmp_path / "bad.yaml"
    shutil.copytree(EXAMPLE.parent / "runbooks", tmp_path / "runbooks")
    bad.write_text(EXAMPLE.read_text().replace("start: 2026-11-02", "start: 2030-03-04", 1))
    linted = run(db_url, "policy", "lint", "--json", str(bad))
    assert linted.returncode == 0, linted.stderr
    assert [(p["severity"], p["message"][:40]) for p in json.loads(linted.stdout)] == [
        ("notice", "team 'checkout' slot 'frontend' has nobo"),
        ("notice", "team 'checkout' slot 'backend' has nobod"),
    ]
