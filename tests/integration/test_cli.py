"""The CLI through its real entry point (the installed `onduty` script), on the test database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.policy_cases import EXAMPLE

ONDUTY = str(Path(sys.executable).parent / "onduty")


def run(db_url: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
    env["ONDUTY_DATABASE_URL"] = db_url
    env["ONDUTY_BASE_URL"] = "http://alerts.acme.test"
    return subprocess.run(
        [ONDUTY, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60, check=False
    )


@pytest.fixture
def applied(db_url: str) -> str:
    assert run(db_url, "policy", "apply", str(EXAMPLE)).returncode == 0
    return db_url


def test_python_dash_m_runs_the_same_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "onduty", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    for command in ("serve", "policy", "token", "integrations", "db"):
        assert command in result.stdout


def test_lint_clean_file(db_url: str) -> None:
    result = run(db_url, "policy", "lint", str(EXAMPLE))
    assert (result.returncode, result.stdout.strip()) == (0, f"{EXAMPLE}: ok")


def test_lint_errors_exit_1_one_line_each(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE.read_text().replace("members: [asha, neha, ravi, arjun]", "members: [asha, bob]")
    )
    result = run(db_url, "policy", "lint", str(bad))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith(f"{bad}:") and "unknown person 'bob'" in line for line in lines), (
        lines
    )
    assert "Traceback" not in result.stderr


def test_lint_warnings_exit_0(db_url: str, tmp_path: Path) -> None:
    warn = tmp_path / "warn.yaml"
    warn.write_text(
        EXAMPLE.read_text().replace("{after: 3m, via: voice}", "{after: 5m, via: voice}")
    )
    shutil.copytree(EXAMPLE.parent / "runbooks", tmp_path / "runbooks")
    result = run(db_url, "policy", "lint", str(warn))
    assert result.returncode == 0
    assert "warning: 'asha' is notified via voice after 5m" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the file"),
        ("version: 1\norganization: {name: [\n", "invalid YAML"),
        (
            "version: 1\norganization: {name: A, timezone: 5}\n",
            "organization.timezone: must be a string",
        ),
    ],
)
def test_bad_file_is_refused_and_database_untouched(
    applied: str, tmp_path: Path, content: str | None, expected: str
) -> None:
    before = run(applied, "policy", "export").stdout
    path = tmp_path / "p.yaml"
    if content is not None:
        path.write_text(content)
    result = run(applied, "policy", "apply", str(path))
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert run(applied, "policy", "export").stdout == before


def test_apply_twice_then_export_round_trip(db_url: str, tmp_path: Path) -> None:
    first = run(db_url, "policy", "apply", str(EXAMPLE))
    assert first.returncode == 0 and "created team checkout" in first.stdout
    second = run(db_url, "policy", "apply", str(EXAMPLE))
    assert second.stdout.strip() == "no changes"
    exported = tmp_path / "exported.yaml"
    assert run(db_url, "policy", "export", "-o", str(exported)).returncode == 0
    assert run(db_url, "policy", "lint", str(exported)).returncode == 0
    again = run(db_url, "policy", "apply", str(exported))
    assert (again.returncode, again.stdout.strip()) == (0, "no changes")


def test_integrations_list_json(applied: str) -> None:
    result = run(applied, "integrations", "list", "--json")
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    events = next(r for r in rows if r["integration"] == "events")
    assert events == {
        "service": "payments",
        "integration": "events",
        "type": "pagerduty",
        "key": "0123456789abcdef0123456789abcdef",
        "url": "http://alerts.acme.test/v2/enqueue",
    }
    am = next(r for r in rows if r["service"] == "search")
    assert am["url"] == f"http://alerts.acme.test/integrations/{am['key']}"
    table = run(applied, "integrations", "list")
    assert am["url"] in table.stdout


def test_token_create_prints_a_working_token_once(applied: str) -> None:
    result = run(applied, "token", "create", "--person", "asha", "--role", "responder")
    assert result.returncode == 0
    token = result.stdout.strip()
    assert token.startswith("odt_") and len(token) > 40
    bad = run(applied, "token", "create", "--person", "nobody", "--role", "admin")
    assert bad.returncode == 1 and bad.stderr.strip() == "error: no person with id 'nobody'"


def test_commands_on_an_unmigrated_database_say_what_to_do(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = run(url, "integrations", "list")
    assert result.returncode == 1
    assert "run `onduty db upgrade`" in result.stderr
    assert run(url, "db", "upgrade").returncode == 0
    assert run(url, "integrations", "list", "--json").stdout.strip() == "[]"


def test_placeholder_secret_is_refused_outside_demo(db_url: str) -> None:
    result = run(db_url, "serve", "--port", "1")
    assert result.returncode == 1
    assert "ONDUTY_SECRET_KEY is still the demo placeholder" in result.stderr


def test_export_omits_integration_keys_unless_with_keys(applied: str) -> None:
    plain = run(applied, "policy", "export")
    assert plain.returncode == 0 and "acmestorefrontalertmanager0001" not in plain.stdout
    full = run(applied, "policy", "export", "--with-keys")
    assert full.returncode == 0 and "key: acmestorefrontalertmanager0001" in full.stdout
