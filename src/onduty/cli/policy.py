"""`onduty db` and `onduty policy`: the schema, and the policy file (lint, apply, export)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from onduty.cli.common import (
    DatabaseUrl,
    clock,
    database,
    err,
    friendly,
    out,
    settings_for,
)
from onduty.db import migrate
from onduty.policy import PolicyError, apply_policy, export_yaml, lint, load_file

policy_app = typer.Typer(no_args_is_help=True, help="Lint, apply and export the policy file.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")


@db_app.command("upgrade")
@friendly
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Create or upgrade the database schema to the newest migration."""
    settings = settings_for(database_url, demo=True)
    migrate(settings.database_url)
    out.print("database schema is up to date")


# --- policy ---------------------------------------------------------------------------------


def load_and_lint(file: Path) -> tuple[Any, list[str], bool]:
    try:
        policy, lines = load_file(file)
    except PolicyError as exc:
        return None, [p.format(str(file)) for p in exc.problems], True
    problems = lint(policy, lines, now=clock().now())
    return (
        policy,
        [p.format(str(file)) for p in problems],
        any(p.severity == "error" for p in problems),
    )


@policy_app.command("lint")
def policy_lint(file: Path) -> None:
    """Check a policy file; errors exit 1, warnings are printed and exit 0."""
    _policy, messages, failed = load_and_lint(file)
    for line in messages:
        (err if failed else out).print(line)
    if failed:
        raise typer.Exit(1)
    if not messages:
        out.print(f"{file}: ok")


@policy_app.command("apply")
@friendly
def policy_apply(file: Path, database_url: DatabaseUrl = None) -> None:
    """Make the database match the policy file, in one transaction."""
    policy, messages, failed = load_and_lint(file)
    for line in messages:
        err.print(line)
    if failed:
        raise typer.Exit(1)
    with database(settings_for(database_url, demo=True)) as session:
        changes = apply_policy(session, policy, actor="cli", now=clock().now())
    for change in changes:
        out.print(change)
    if not changes:
        out.print("no changes")


@policy_app.command("export")
@friendly
def policy_export(
    database_url: DatabaseUrl = None,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    with_keys: Annotated[
        bool,
        typer.Option(
            "--with-keys",
            help="Include the integration keys (secrets): for a backup, not for version control.",
        ),
    ] = False,
) -> None:
    """Write the stored configuration as a policy file (to stdout unless --output). Integration
    keys are left out unless --with-keys; applying the file keeps the stored ones."""
    with database(settings_for(database_url, demo=True)) as session:
        text = export_yaml(session, with_keys=with_keys)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
