"""`onduty who`, `onduty schedule`, `onduty override` and `onduty swap`: who is on call and
changes to the rota."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from onduty import localtime
from onduty.cli.app import app
from onduty.cli.common import (
    DatabaseUrl,
    clock,
    database,
    friendly,
    instant,
    out,
    settings_for,
    zone_of,
)
from onduty.schedules import service as schedules_service
from onduty.schedules.models import Override

schedule_app = typer.Typer(no_args_is_help=True, help="Rota shifts and fairness.")
override_app = typer.Typer(no_args_is_help=True, help="Overrides: a person covers a slot.")


@app.command()
@friendly
def who(
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    at: Annotated[str | None, typer.Option(help="ISO 8601 instant (default: now).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Who is on call now (or at --at), per team and slot."""
    with database(settings_for(database_url, demo=True)) as session:
        moment = instant(at, zone_of(session, team), "at") if at else clock().now()
        rows = schedules_service.on_call_at(session, at=moment, team_id=team)
        zones = {r.team: zone_of(session, r.team) for r in rows}
    if as_json:
        doc = [
            {
                "team": r.team,
                "slot": r.slot,
                "person": r.person,
                "start": r.start.isoformat(),
                "end": r.end.isoformat(),
            }
            for r in rows
        ]
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    table = Table("team", "slot", "person", "since", "until")
    for r in rows:
        zone = zones[r.team]
        table.add_row(
            r.team,
            r.slot,
            r.person or "(nobody)",
            localtime.stamp(r.start, zone),
            localtime.stamp(r.end, zone),
        )
    out.print(table)


@schedule_app.command("show")
@friendly
def schedule_show(
    team: Annotated[str, typer.Option(help="The team.")],
    weeks: Annotated[int, typer.Option(min=1, max=104)] = 4,
    database_url: DatabaseUrl = None,
) -> None:
    """The coming shifts of each slot, in the team's time zone."""
    now = clock().now()
    with database(settings_for(database_url, demo=True)) as session:
        zone = zone_of(session, team)
        per_slot = schedules_service.upcoming_shifts(
            session, team_id=team, start=now, end=now + timedelta(weeks=weeks)
        )
    table = Table("slot", "person", "from", "until", "hours", "source", title=f"{team} ({zone})")
    for slot, shifts in per_slot.items():
        for shift in shifts:
            hours = (shift.end - shift.start).total_seconds() / 3600
            table.add_row(
                slot,
                shift.person or "(nobody)",
                localtime.stamp(shift.start, zone),
                localtime.stamp(shift.end, zone),
                f"{hours:g}",
                shift.source,
            )
    out.print(table)


@schedule_app.command("fairness")
@friendly
def schedule_fairness(
    team: Annotated[str, typer.Option(help="The team.")],
    weeks: Annotated[int, typer.Option(min=1, max=104)] = 12,
    ahead: Annotated[bool, typer.Option(help="The coming weeks instead of the past ones.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Per person: hours on call, outside working hours, at weekends; shifts; overrides."""
    now = clock().now()
    start, end = (
        (now, now + timedelta(weeks=weeks)) if ahead else (now - timedelta(weeks=weeks), now)
    )
    with database(settings_for(database_url, demo=True)) as session:
        rows = schedules_service.fairness(session, team_id=team, start=start, end=end)
    if as_json:
        sys.stdout.write(
            json.dumps({p: r.__dict__ for p, r in rows.items()}, indent=2, default=str) + "\n"
        )
        return
    table = Table(
        "person",
        "hours on call",
        "outside working hours",
        "weekend hours",
        "shifts",
        "overrides given",
        "overrides taken",
        title=f"{team}: {start:%Y-%m-%d} to {end:%Y-%m-%d}",
    )
    for person, r in rows.items():
        table.add_row(
            person,
            f"{r.hours:.1f}",
            f"{r.off_hours:.1f}",
            f"{r.weekend_hours:.1f}",
            str(r.shifts),
            str(r.overrides_given),
            str(r.overrides_taken),
        )
    out.print(table)


def _describe_override(row: Override, zone: str) -> str:
    return (
        f"override {row.id}: {row.person_id} covers {row.team_id}/{row.slot} "
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
    database_url: DatabaseUrl = None,
) -> None:
    """Give a team's slot to a person from --start to --end."""
    with database(settings_for(database_url, demo=True)) as session:
        zone = zone_of(session, team)
        row = schedules_service.create_override(
            session,
            team_id=team,
            slot=slot,
            person_id=person,
            start=instant(start, zone, "start"),
            end=instant(end, zone, "end"),
            reason=reason,
            now=clock().now(),
            created_by="cli",
        )
        out.print(_describe_override(row, zone))


@override_app.command("list")
@friendly
def override_list(
    team: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Every override (of one team), oldest first."""
    with database(settings_for(database_url, demo=True)) as session:
        rows = schedules_service.list_overrides(session, team_id=team)
        table = Table("id", "team", "slot", "person", "from", "until", "reason", "by")
        for r in rows:
            zone = zone_of(session, r.team_id)
            table.add_row(
                str(r.id),
                r.team_id,
                r.slot,
                r.person_id,
                localtime.stamp(r.start, zone),
                localtime.stamp(r.end, zone),
                r.reason or "",
                "policy file" if r.managed else (r.created_by or ""),
            )
    out.print(table)


@override_app.command("remove")
@friendly
def override_remove(override_id: int, database_url: DatabaseUrl = None) -> None:
    """Remove an override."""
    with database(settings_for(database_url, demo=True)) as session:
        row = schedules_service.delete_override(
            session, override_id=override_id, actor="cli", now=clock().now()
        )
    out.print(f"removed override {row.id}")


@app.command()
@friendly
def swap(
    team: Annotated[str, typer.Option()],
    slot: Annotated[str, typer.Option()],
    first: Annotated[str, typer.Option(help="An instant inside the first shift.")],
    second: Annotated[str, typer.Option(help="An instant inside the other shift.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Exchange two people's shifts of one slot, atomically."""
    with database(settings_for(database_url, demo=True)) as session:
        zone = zone_of(session, team)
        one, two = schedules_service.swap(
            session,
            team_id=team,
            slot=slot,
            first=instant(first, zone, "first"),
            second=instant(second, zone, "second"),
            now=clock().now(),
            created_by="cli",
        )
        for row in (one, two):
            out.print(_describe_override(row, zone))
