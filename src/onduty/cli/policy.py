"""`onduty db` and `onduty policy`: the schema, and the policy file (lint, apply, export)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from onduty.cli.common import (
    AsJson,
    DatabaseUrl,
    clock,
    database,
    err,
    friendly,
    out,
    print_json,
    settings_for,
)

if TYPE_CHECKING:
    from onduty.policy import Problem

policy_app = typer.Typer(no_args_is_help=True, help="Lint, apply and export the policy file.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")


@db_app.command("upgrade")
@friendly
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Create or upgrade the database schema to the newest migration."""
    from onduty.db import migrate

    settings = settings_for(database_url, demo=True)
    migrate(settings.database_url)
    out.print("database schema is up to date")


# --- policy ---------------------------------------------------------------------------------


def _problems(file: Path) -> tuple[Any, list[Problem]]:
    from onduty.policy import PolicyError, lint, load_file

    try:
        policy, lines = load_file(file)
    except PolicyError as exc:
        return None, exc.problems
    return policy, lint(policy, lines, now=clock().now())


def load_and_lint(file: Path) -> tuple[Any, list[str], bool]:
    policy, problems = _problems(file)
    return (
        policy,
        [p.format(str(file)) for p in problems],
        any(p.severity == "error" for p in problems),
    )


Paging = Annotated[
    bool,
    typer.Option(
        "--paging",
        help="Also dry-run a P1 for every service at every hour of the coming week (on a "
        "scratch database holding this file) and report, as errors, where it would reach "
        "nobody within ack_timeout or only through channels this server has not configured "
        "(ONDUTY_SLACK_BOT_TOKEN, ONDUTY_TWILIO_*).",
    ),
]


def paging_problems(file: Path, policy: Any) -> list[str]:
    """`FILE: paging: ...` lines from escalation/dryrun.py's `paging_gaps`, run on a scratch
    SQLite database that holds the file (so the check runs before the file is applied)."""
    import tempfile

    from sqlalchemy.exc import SQLAlchemyError

    from onduty import localtime
    from onduty.db import make_engine, make_session_factory, migrate
    from onduty.durations import format_duration
    from onduty.errors import OndutyError
    from onduty.escalation import dryrun
    from onduty.notify.channels.registry import configured_types
    from onduty.policy import apply_policy

    now = clock().now()
    # Whole UTC hours from the next one: the lines read "every hour from 10:00 to 14:00".
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    channels = configured_types(settings_for(None, demo=True))
    with tempfile.TemporaryDirectory(prefix="onduty-paging-") as folder:
        url = f"sqlite:///{folder}/paging.db"
        migrate(url)
        engine = make_engine(url)
        try:
            with make_session_factory(engine)() as session:
                try:
                    apply_policy(session, policy, actor="lint", now=now)
                except (OndutyError, SQLAlchemyError, ValueError, KeyError) as exc:
                    return [f"{file}: paging: not checked, the file does not apply: {exc}"]
                ack, gaps = dryrun.paging_gaps(session, start=start, channels=channels)
                session.rollback()
        finally:
            engine.dispose()
    lines = []
    for gap in gaps:
        first, last = localtime.stamp(gap.start, gap.zone), localtime.stamp(gap.end, gap.zone)
        when = f"at {first}" if gap.start == gap.end else f"every hour from {first} to {last}"
        lines.append(
            f"{file}: paging: {gap.service}: {when}, a P1 {gap.problem} within "
            f"{format_duration(ack)}"
        )
    return lines


@policy_app.command("lint")
@friendly
def policy_lint(file: Path, as_json: AsJson = False, paging: Paging = False) -> None:
    """Check a policy file; errors exit 1, warnings and notices are printed and exit 0."""
    policy, problems = _problems(file)
    failed = any(p.severity == "error" for p in problems)
    # Also when lint found errors (a roster gap is one): whether a later step still reaches
    # someone in time is what the paging check adds. Only a file that did not load is skipped.
    gaps = paging_problems(file, policy) if paging and policy is not None else []
    if as_json:
        docs: list[dict[str, Any]] = [
            {"line": p.line, "severity": p.severity, "message": p.message} for p in problems
        ]
        docs += [{"line": None, "severity": "error", "message": g} for g in gaps]
        print_json(docs)
        if failed or gaps:
            raise typer.Exit(1)
        return
    messages = [p.format(str(file)) for p in problems] + gaps
    failed = failed or bool(gaps)
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
    from onduty.policy import apply_policy

    with database(settings_for(database_url, demo=True).database_url) as session:
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
    from onduty.policy import export_yaml

    with database(settings_for(database_url, demo=True).database_url) as session:
        text = export_yaml(session, with_keys=with_keys)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
