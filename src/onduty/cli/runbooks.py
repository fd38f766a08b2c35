"""`onduty runbook`: write a new runbook from the template, and list the stored runbooks with
how well each has worked (weakest first)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from onduty.cli.common import (
    AsJson,
    CliError,
    DatabaseUrl,
    clock,
    database,
    friendly,
    out,
    print_json,
    settings_for,
    table,
)

runbook_app = typer.Typer(no_args_is_help=True, help="Runbooks: new from the template, list.")


@runbook_app.command("new")
@friendly
def runbook_new(
    service: str,
    folder: Annotated[Path, typer.Option("--folder", help="The policy's runbooks folder.")] = Path(
        "runbooks"
    ),
    name: Annotated[
        str | None, typer.Option("--name", help="The runbook's id (default: the service).")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="A person id.")] = None,
) -> None:
    """Write FOLDER/NAME.md with front matter for SERVICE and the sections Scope, FAQs,
    Diagnostics, Steps and Infrastructure; an existing file is never overwritten."""
    from onduty.policy.schema import _slug
    from onduty.runbooks.parse import template

    ident = name or service
    try:
        _slug(ident)
        _slug(service)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if owner is not None:
        try:
            _slug(owner)
        except ValueError as exc:
            raise CliError(f"owner: {exc}") from None
    file = folder / f"{ident}.md"
    if file.exists():
        raise CliError(f"{file} exists already; choose another --name")
    folder.mkdir(parents=True, exist_ok=True)
    file.write_text(template(service, owner=owner, name=ident), encoding="utf-8")
    out.print(f"wrote {file}")


@runbook_app.command("list")
@friendly
def runbook_list(as_json: AsJson = False, database_url: DatabaseUrl = None) -> None:
    """Runbooks, weakest first: verdicts, incidents matched, open tasks, last change."""
    from onduty.runbooks import schemas
    from onduty.runbooks import service as runbooks_service

    with database(settings_for(database_url, demo=True).database_url) as session:
        docs = [
            schemas.effectiveness_out(e)
            for e in runbooks_service.effectiveness(session, now=clock().now())
        ]
    if as_json:
        print_json([d.model_dump(mode="json") for d in docs])
        return
    grid = table("id", "version", "services", "match", "owner", "incidents", "verdicts", "tasks")
    for d in docs:
        v = d.verdicts
        grid.add_row(
            d.id + (" (error)" if d.error else ""),
            str(d.version),
            ", ".join(d.services),
            ", ".join(f"{k}={val}" for k, val in d.match.items()),
            d.owner or "",
            str(d.incidents),
            f"{v['enough']} enough, {v['partly']} partly, {v['not_enough']} not",
            f"{d.open_tasks} open" + (f" ({d.overdue_tasks} overdue)" if d.overdue_tasks else ""),
        )
    out.print(grid)
