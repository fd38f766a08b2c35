"""Runbooks on the database: applied from the policy's folder with a version per change, a
broken file keeping the stored version, export back to a folder, and the runbook commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.policy_cases import EXAMPLE, NOW
from typer.testing import CliRunner

from onduty import cli
from onduty import models as m
from onduty.policy import apply_policy, load_file
from onduty.runbooks import service as runbooks_service
from onduty.runbooks.lint import folder_of


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE.parent, tmp_path / "acme")
    return tmp_path / "acme"


def apply_dir(factory: sessionmaker[Session], folder: Path) -> tuple[list[str], list[str]]:
    policy, _ = load_file(folder / "policy.yaml")
    errors: list[str] = []
    with factory() as s, s.begin():
        lines = apply_policy(
            s, policy, now=NOW, runbooks=folder_of(policy, folder / "policy.yaml"), errors=errors
        )
    return [x for x in lines if "runbook" in x], errors


def versions(factory: sessionmaker[Session], ident: str) -> list[int]:
    with factory() as s:
        return list(
            s.scalars(
                select(m.RunbookVersion.version)
                .where(m.RunbookVersion.runbook_id == ident)
                .order_by(m.RunbookVersion.version)
            )
        )


def test_each_change_is_a_version_and_a_broken_file_keeps_the_last(
    session_factory: sessionmaker[Session], policy_dir: Path
) -> None:
    lines, errors = apply_dir(session_factory, policy_dir)
    assert "created runbook storefront (version 1)" in lines and len(lines) == 5
    assert errors == []
    assert apply_dir(session_factory, policy_dir) == ([], [])  # same hashes: nothing new

    file = policy_dir / "runbooks" / "storefront.md"
    good = file.read_text()
    file.write_text(good.replace("## Steps\n", "## Steps\n\n0. Breathe.\n"))
    assert apply_dir(session_factory, policy_dir) == (
        ["changed runbook storefront (version 2)"],
        [],
    )
    file.write_text(good.replace("services: [storefront]", "services: [storefront"))
    lines, errors = apply_dir(session_factory, policy_dir)
    assert lines == []
    assert len(errors) == 1 and errors[0].startswith("runbook storefront kept at version 2: ")
    assert "storefront.md:3: invalid YAML" in errors[0]
    with session_factory() as s:
        row = s.get(m.Runbook, "storefront")
        assert row is not None and row.version == 2 and "Breathe" in row.text
        assert row.error is not None and "invalid YAML" in row.error
    assert versions(session_factory, "storefront") == [1, 2]

    file.write_text(good.replace("owner: asha", "owner: ghost"))  # parses; unknown owner
    lines, errors = apply_dir(session_factory, policy_dir)
    assert lines == [] and "unknown owner ghost" in errors[0]
    file.unlink()
    lines, _ = apply_dir(session_factory, policy_dir)
    assert lines == ["removed runbook storefront"]
    with session_factory() as s:
        assert [r.id for r in runbooks_service.list_runbooks(s)] == [
            "catalog-web",
            "checkout-down",
            "payments",
            "search",
        ]
        audit = s.scalars(
            select(m.AuditEvent.action).where(m.AuditEvent.object_type == "runbook")
        ).all()
    assert audit.count("policy.create") == 5 and audit.count("policy.change") == 1
    assert audit.count("policy.remove") == 1


def test_cli_apply_export_new_and_list(db_url: str, policy_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli.app, [*args, "--database-url", db_url])
        assert result.exit_code == code, (args, result.output)
        return result.output

    file = policy_dir / "runbooks" / "search.md"
    file.write_text(file.read_text().replace("owner: sana", "owner: [sana"))
    linted = runner.invoke(cli.app, ["policy", "lint", str(policy_dir / "policy.yaml")])
    assert linted.exit_code == 1 and "search.md:4: invalid YAML" in linted.output
    applied = run("policy", "apply", str(policy_dir / "policy.yaml"))
    assert "created runbook payments (version 1)" in applied
    assert "runbook search not applied: " in applied  # the rest of the policy still applies
    assert "created service search" in applied

    out = tmp_path / "export" / "policy.yaml"
    assert "wrote 4 runbooks" in run("policy", "export", "-o", str(out))
    assert "runbooks: runbooks/" in out.read_text()
    assert (out.parent / "runbooks" / "payments.md").read_text() == (
        policy_dir / "runbooks" / "payments.md"
    ).read_text()
    # The exported folder applies back with no changes.
    assert run("policy", "apply", str(out)).splitlines()[-1] == "no changes"

    folder = tmp_path / "new"
    made = runner.invoke(cli.app, ["runbook", "new", "search", "--folder", str(folder)])
    assert made.exit_code == 0 and (folder / "search.md").exists(), made.output
    again = runner.invoke(cli.app, ["runbook", "new", "search", "--folder", str(folder)])
    assert again.exit_code == 1 and "exists already" in again.output
    bad = runner.invoke(cli.app, ["runbook", "new", "Bad Name", "--folder", str(folder)])
    assert bad.exit_code == 1 and "not a valid id" in bad.output

    listed = run("runbook", "list", "--json")
    assert '"id": "catalog-web"' in listed and '"verdicts"' in listed
