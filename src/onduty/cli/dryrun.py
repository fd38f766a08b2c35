"""`onduty dryrun`: who would be notified, when and how, on the database or a server."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer

from onduty import localtime
from onduty.cli.app import app
from onduty.cli.backend import Server, connect
from onduty.cli.common import (
    AsJson,
    CliError,
    DatabaseUrl,
    friendly,
    instant,
    out,
    print_json,
    span,
    table,
)

PRIORITIES = ("P1", "P2", "P3", "P4")


@app.command("dryrun")
@friendly
def dryrun(
    service: Annotated[str, typer.Option(help="The service the incident is for.")],
    priority: Annotated[str, typer.Option(help="P1 to P4.")] = "P1",
    at: Annotated[
        str | None,
        typer.Option(
            help="ISO 8601 instant (default: now); without an offset, in the organisation's "
            "time zone."
        ),
    ] = None,
    as_json: AsJson = False,
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Who would be notified, when and how, if an incident arrived (at --at) and nobody
    acknowledged it: every message, steps that name nobody, the backlog's wait for working
    hours, overrides and time off."""
    if priority.upper() not in PRIORITIES:
        raise CliError(f"--priority: {priority!r} is not one of P1, P2, P3, P4")
    with connect(server, database_url) as backend:
        moment = instant(at, backend.zones().organization, "at") if at else None
        entries = backend.dry_run(service=service, priority=priority.upper(), at=moment)
    if as_json:
        print_json(entries)
        return
    grid = table("when (team)", "after", "step", "repeat", "person", "via", "their time", "note")
    for e in entries:
        at_ = datetime.fromisoformat(str(e["at"]))
        grid.add_row(
            localtime.stamp(at_, str(e["team_zone"])),
            "+" + span(timedelta(seconds=int(e["offset_seconds"]))),
            "" if e["step"] is None else str(e["step"]),
            "" if e["repeat"] is None else str(e["repeat"]),
            e["person"] or ("(nobody)" if e["kind"] == "nobody" else ""),
            e["via"] or ("(no contact method)" if e["kind"] == "unreachable" else ""),
            localtime.stamp(at_, str(e["person_zone"])) if e["person_zone"] else "",
            str(e["note"]),
        )
    out.print(grid)
