"""`onduty incident`: list, show, acknowledge, resolve and reopen incidents."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from onduty.cli.common import (
    As,
    CliError,
    DatabaseUrl,
    clock,
    database,
    friendly,
    out,
    settings_for,
)
from onduty.incidents import service as incidents_service
from onduty.incidents.models import Incident
from onduty.people.models import Person

incident_app = typer.Typer(no_args_is_help=True, help="Incidents: list, show, ack, resolve.")


def _incident_doc(row: Incident) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number,
        "title": row.title,
        "status": row.status,
        "priority": row.priority,
        "service": row.service_id,
        "team": row.team_id,
        "discipline": row.discipline,
        "backlog": row.backlog,
        "created_at": row.created_at.isoformat(),
        "acknowledged_by": row.acknowledged_by,
        "resolved_by": row.resolved_by,
    }


@incident_app.command("list")
@friendly
def incident_list(
    status: Annotated[str | None, typer.Option(help="triggered, acknowledged or resolved.")] = None,
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Incidents, newest first."""
    with database(settings_for(database_url, demo=True)) as session:
        rows = incidents_service.list_incidents(session, status=status, team=team, service=service)
        docs = [_incident_doc(r) for r in rows]
    if as_json:
        sys.stdout.write(json.dumps(docs, indent=2) + "\n")
        return
    table = Table("id", "#", "status", "priority", "service", "title", "created (UTC)")
    for d in docs:
        table.add_row(
            str(d["id"]),
            str(d["number"]),
            d["status"],
            d["priority"] + (" backlog" if d["backlog"] else ""),
            d["service"],
            d["title"],
            d["created_at"][:16].replace("T", " "),
        )
    out.print(table)


@incident_app.command("show")
@friendly
def incident_show(
    incident_id: int,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """One incident with its alerts and timeline."""
    with database(settings_for(database_url, demo=True)) as session:
        row = incidents_service.get_incident(session, incident_id=incident_id)
        doc = _incident_doc(row)
        doc["alerts"] = [
            {"dedup_key": a.dedup_key, "status": a.status, "count": a.count, "summary": a.summary}
            for a in incidents_service.incident_alerts(session, incident_id=incident_id)
        ]
        doc["timeline"] = [
            {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "channel": e.channel}
            for e in incidents_service.incident_timeline(session, incident_id=incident_id)
        ]
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    out.print(f"#{doc['number']} {doc['title']}")
    out.print(f"{doc['status']}, {doc['priority']}, service {doc['service']} (team {doc['team']})")
    for a in doc["alerts"]:
        out.print(f"  alert {a['dedup_key']} {a['status']} x{a['count']}: {a['summary']}")
    for e in doc["timeline"]:
        out.print(
            f"  {e['at'][:19].replace('T', ' ')}  {e['kind']} by {e['actor']} ({e['channel']})"
        )


DONE = {"acknowledge": "acknowledged", "resolve": "resolved", "reopen": "reopened"}


def _incident_action(
    name: str, incident_id: int, person: str | None, database_url: str | None
) -> None:
    operation = incidents_service.ACTIONS[name]
    with database(settings_for(database_url, demo=True)) as session:
        if person is not None and session.get(Person, person) is None:
            raise CliError(f"--as: no person with id {person!r}")
        row = operation(
            session,
            incident_id=incident_id,
            actor=person or "cli",
            channel="cli",
            now=clock().now(),
        )
        number = row.number
    out.print(f"incident #{number} {DONE[name]}")


@incident_app.command("ack")
@friendly
def incident_ack(incident_id: int, person: As = None, database_url: DatabaseUrl = None) -> None:
    """Acknowledge: take charge and stop the escalation."""
    _incident_action("acknowledge", incident_id, person, database_url)


@incident_app.command("resolve")
@friendly
def incident_resolve(incident_id: int, person: As = None, database_url: DatabaseUrl = None) -> None:
    """Resolve the incident and its open alerts."""
    _incident_action("resolve", incident_id, person, database_url)


@incident_app.command("reopen")
@friendly
def incident_reopen(incident_id: int, person: As = None, database_url: DatabaseUrl = None) -> None:
    """Reopen a resolved incident; escalation starts again."""
    _incident_action("reopen", incident_id, person, database_url)
