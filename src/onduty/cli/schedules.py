"""`onduty who`, `onduty schedule`, `onduty override` and `onduty swap`: who is on call and
changes to the rota, on the database or a server (cli/backend.py)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

import typer

from onduty import localtime
from onduty.cli.app import app
from onduty.cli.backend import OverrideRow, Server, Shift, connect
from onduty.cli.common import (
    AsJson,
    DatabaseUrl,
    clock,
    database,
    friendly,
    instant,
    out,
    print_json,
    settings_for,
    span,
    table,
)

schedule_app = typer.Typer(no_args_is_help=True, help="Rota shifts and fairness.")
override_app = typer.Typer(no_args_is_help=True, help="Overrides: a person covers a slot.")


def _shift_doc(s: Shift) -> dict[str, Any]:
    return {
        "team": s.team,
        "slot": s.slot,
        "person": s.person,
        "start": s.start.isoformat(),
        "end": s.end.isoformat(),
    }


def _override_doc(row: OverrideRow) -> dict[str, Any]:
    doc = asdict(row)
    doc["start"], doc["end"] = row.start.isoformat(), row.end.isoformat()
    return doc


@app.command()
@friendly
def who(
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    at: Annotated[str | None, typer.Option(help="ISO 8601 instant (default: now).")] = None,
    as_json: AsJson = False,
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Who is on call now (or at --at), per team and slot."""
    with connect(server, database_url) as backend:
        zones = backend.zones()
        moment = instant(at, zones.of(team), "at") if at else None
        rows = backend.on_call(team=team, at=moment)
    if as_json:
        print_json([_shift_doc(r) for r in rows])
        return
    grid = table("team", "slot", "person", "since", "until")
    for r in rows:
        zone = zones.of(r.team)
        grid.add_row(
            r.team,
            r.slot,
            r.person or "(nobody)",
            localtime.stamp(r.start, zone),
            localtime.stamp(r.end, zone),
        )
    out.print(grid)


@schedule_app.command("show")
@friendly
def schedule_show(
    team: Annotated[str, typer.Option(help="The team.")],
    weeks: Annotated[int, typer.Option(min=1, max=104)] = 4,
    as_json: AsJson = False,
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The coming shifts of each slot, in the team's time zone."""
    with connect(server, database_url) as backend:
        per_slot = backend.shifts(team=team, weeks=weeks)
        zone = backend.zones().of(team)
    shifts = [s for rows in per_slot.values() for s in rows]
    if as_json:
        print_json(
            {
                "team": team,
                "timezone": zone,
                "shifts": [
                    {
                        "slot": s.slot,
                        "person": s.person,
                        "start": s.start.isoformat(),
                        "end": s.end.isoformat(),
                        "seconds": round((s.end - s.start).total_seconds()),
                        "source": s.source,
                    }
                    for s in shifts
                ],
            }
        )
        return
    grid = table("slot", "person", "from", "until", "length", "source", title=f"{team} ({zone})")
    for s in shifts:
        grid.add_row(
            s.slot,
            s.person or "(nobody)",
            localtime.stamp(s.start, zone),
            localtime.stamp(s.end, zone),
            span(s.end - s.start),
            s.source,
        )
    out.print(grid)


@schedule_app.command("fairness")
@friendly
def schedule_fairness(
    team: Annotated[str, typer.Option(help="The team.")],
    weeks: Annotated[int, typer.Option(min=1, max=104)] = 12,
    ahead: Annotated[bool, typer.Option(help="The coming weeks instead of the past ones.")] = False,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Per person: time on call, outside working hours, at weekends; shifts; overrides."""
    from onduty.schedules import service as schedules_service

    now = clock().now()
    start, end = (
        (now, now + timedelta(weeks=weeks)) if ahead else (now - timedelta(weeks=weeks), now)
    )
    with database(settings_for(database_url, demo=True).database_url) as session:
        rows = schedules_service.fairness(session, team_id=team, start=start, end=end)
        organization, teams = schedules_service.time_zones(session)
    zone = teams.get(team, organization)
    if as_json:
        print_json({p: asdict(r) for p, r in rows.items()})
        return
    grid = table(
        "person",
        "on call",
        "outside working hours",
        "at weekends",
        "shifts",
        "overrides given",
        "overrides taken",
        title=f"{team}: {localtime.stamp(start, zone)} to {localtime.stamp(end, zone)}",
    )
    for person, r in rows.items():
        grid.add_row(
            person,
            span(timedelta(hours=r.hours)),
            span(timedelta(hours=r.off_hours)),
            span(timedelta(hours=r.weekend_hours)),
            str(r.shifts),
            str(r.overrides_given),
            str(r.overrides_taken),
        )
    out.print(grid)


def _describe_override(row: OverrideRow, zone: str) -> str:
    return (
        f"override {row.id}: {row.person} covers {row.team}/{row.slot} "
        f"from {localtime.stamp(row.start, zone)} to {localtime.stamp(row.end, zone)}"
    )


@override_app.command("add")
@friendly
def override_add(
    team: Annotated[str, typer.Option()],
    slot: Annotated[str, typer.Option()],
    person: Annotated[str, typer.Option()],
    start: Annotated[str, typer.Option(help="ISO 8601; without offset, in the team's zone.")],
    end: Annotated[str, typer.Option(help="ISO 8601; without offset, in the team's zone.")],
    reason: Annotated[str | None, typer.Option()] = None,
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Give a team's slot to a person from --start to --end."""
    with connect(server, database_url) as backend:
        zone = backend.zones().of(team)
        row = backend.add_override(
            team=team,
            slot=slot,
            person=person,
            start=instant(start, zone, "start"),
            end=instant(end, zone, "end"),
            reason=reason,
        )
    out.print(_describe_override(row, zone))


@override_app.command("list")
@friendly
def override_list(
    team: Annotated[str | None, typer.Option()] = None,
    as_json: AsJson = False,
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Every override (of one team), oldest first."""
    with connect(server, database_url) as backend:
        rows = backend.overrides(team=team)
        zones = backend.zones()
    if as_json:
        print_json([_override_doc(r) for r in rows])
        return
    grid = table("id", "team", "slot", "person", "from", "until", "reason", "by")
    for r in rows:
        zone = zones.of(r.team)
        grid.add_row(
            str(r.id),
            r.team,
            r.slot,
            r.person,
            localtime.stamp(r.start, zone),
            localtime.stamp(r.end, zone),
            r.reason or "",
            "policy file" if r.managed else (r.created_by or ""),
        )
    out.print(grid)


@override_app.command("remove")
@friendly
def override_remove(
    override_id: int, server: Server = None, database_url: DatabaseUrl = None
) -> None:
    """Remove an override."""
    with connect(server, database_url) as backend:
        backend.remove_override(override_id)
    out.print(f"removed override {override_id}")


@app.command()
@friendly
def swap(
    team: Annotated[str, typer.Option()],
    slot: Annotated[str, typer.Option()],
    first: Annotated[str, typer.Option(help="An instant inside the first shift.")],
    second: Annotated[str, typer.Option(help="An instant inside the other shift.")],
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Exchange two people's shifts of one slot, atomically."""
    with connect(server, database_url) as backend:
        zone = backend.zones().of(team)
        pair = backend.swap(
            team=team,
            slot=slot,
            first=instant(first, zone, "first"),
            second=instant(second, zone, "second"),
        )
    for row in pair:
        out.print(_describe_override(row, zone))
