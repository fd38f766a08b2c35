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


def _problems(file: Path, *, runbook_errors: bool = True) -> tuple[Any, list[Problem]]:
    """The policy file's problems and its runbooks folder's. Without `runbook_errors` (for
    apply) a runbook file's own errors are left out: apply reports them itself, keeping that
    runbook's stored version, and they do not stop the rest of the policy."""
    from onduty.policy import PolicyError, lint, load_file
    from onduty.runbooks.lint import lint_runbooks

    try:
        policy, lines = load_file(file)
    except PolicyError as exc:
        return None, exc.problems
    problems = lint(policy, lines, now=clock().now())
    for problem in lint_runbooks(policy, file, lines):
        if runbook_errors or problem.file is None or problem.severity != "error":
            problems.append(problem)
    return policy, problems


def load_and_lint(file: Path, *, runbook_errors: bool = True) -> tuple[Any, list[str], bool]:
    policy, problems = _problems(file, runbook_errors=runbook_errors)
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
            {"file": p.file or str(file), "line": p.line, "severity": p.severity}
            | {"message": p.message}
            for p in problems
        ]
        docs += [{"file": str(file), "line": None, "severity": "error", "message": g} for g in gaps]
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
    """Make the database match the policy file, in one transaction. A runbook file with errors
    keeps its stored version (the error is printed and shown on its page); the rest applies."""
    policy, messages, failed = load_and_lint(file, runbook_errors=False)
    for line in messages:
        err.print(line)
    if failed:
        raise typer.Exit(1)
    from onduty.policy import apply_policy
    from onduty.runbooks.lint import folder_of

    errors: list[str] = []
    with database(settings_for(database_url, demo=True).database_url) as session:
        changes = apply_policy(
            session,
            policy,
            actor="cli",
            now=clock().now(),
            runbooks=folder_of(policy, file),
            errors=errors,
        )
    for line in errors:
        err.print(line)
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
    runbooks: Annotated[
        Path | None,
        typer.Option(
            "--runbooks",
            help="Write the runbooks into this folder (default with --output: runbooks/ beside "
            "the file).",
        ),
    ] = None,
) -> None:
    """Write the stored configuration as a policy file (to stdout unless --output), and the
    runbooks as Markdown files into a folder. Integration keys are left out unless
    --with-keys; applying the file keeps the stored ones."""
    import os

    from onduty.policy import export_policy, to_yaml
    from onduty.runbooks import service as runbooks_service

    if runbooks is None and output is not None:
        runbooks = output.parent / "runbooks"
    with database(settings_for(database_url, demo=True).database_url) as session:
        doc = export_policy(session, with_keys=with_keys)
        written = []
        if runbooks is not None and runbooks_service.list_runbooks(session):
            written = runbooks_service.export_folder(session, runbooks)
            base = output.parent if output is not None else Path.cwd()
            doc["runbooks"] = os.path.relpath(runbooks.resolve(), base.resolve()) + "/"
    text = to_yaml(doc)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
    if written:
        (out if output is not None else err).print(f"wrote {len(written)} runbooks to {runbooks}")
