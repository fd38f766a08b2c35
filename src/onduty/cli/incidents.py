"""`onduty incident`: list, show, acknowledge, resolve and reopen incidents, on the database or
a server (cli/backend.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from onduty import localtime
from onduty.cli.backend import Server, connect
from onduty.cli.common import (
    As,
    AsJson,
    DatabaseUrl,
    friendly,
    out,
    print_json,
    table,
)

incident_app = typer.Typer(
    no_args_is_help=True, help="Incidents: list, show, ack, resolve, hand over."
)


@incident_app.command("list")
@friendly
def incident_list(
    status: Annotated[str | None, typer.Option(help="triggered, acknowledged or resolved.")] = None,
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    stage: Annotated[
        str | None, typer.Option(help="Only incidents at this journey stage, e.g. handed_over.")
    ] = None,
    as_json: AsJson = False,
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Incidents, newest first."""
    with connect(server, database_url) as backend:
        docs = backend.incidents(status=status, team=team, service=service, stage=stage)
        zones = None if as_json else backend.zones()
    if zones is None:
        print_json(docs)
        return
    grid = table("id", "#", "status", "priority", "service", "title", "created")
    for d in docs:
        grid.add_row(
            str(d["id"]),
            str(d["number"]),
            d["status"],
            d["priority"] + (" backlog" if d["backlog"] else ""),
            d["service"],
            d["title"],
            localtime.stamp(datetime.fromisoformat(d["created_at"]), zones.of(d["team"])),
        )
    out.print(grid)


@incident_app.command("show")
@friendly
def incident_show(
    incident_id: int,
    as_json: AsJson = False,
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """One incident with its alerts and timeline."""
    with connect(server, database_url) as backend:
        doc = backend.incident(incident_id)
        zone = backend.zones().of(doc["team"])
    if as_json:
        print_json(doc)
        return
    out.print(f"#{doc['number']} {doc['title']}")
    out.print(f"{doc['status']}, {doc['priority']}, service {doc['service']} (team {doc['team']})")
    for a in doc["alerts"]:
        out.print(f"  alert {a['dedup_key']} {a['status']} x{a['count']}: {a['summary']}")
    for e in doc["timeline"]:
        at = localtime.stamp(datetime.fromisoformat(e["at"]), zone)
        out.print(f"  {at}  {e['kind']} by {e['actor']} ({e['channel']})")


DONE = {"acknowledge": "acknowledged", "resolve": "resolved", "reopen": "reopened"}


def _act(
    action: str, incident_id: int, person: str | None, server: str | None, database_url: str | None
) -> None:
    with connect(server, database_url) as backend:
        number = backend.act(action, incident_id, person=person)
    out.print(f"incident #{number} {DONE[action]}")


@incident_app.command("ack")
@friendly
def incident_ack(
    incident_id: int, person: As = None, server: Server = None, database_url: DatabaseUrl = None
) -> None:
    """Acknowledge: take charge and stop the escalation."""
    _act("acknowledge", incident_id, person, server, database_url)


@incident_app.command("resolve")
@friendly
def incident_resolve(
    incident_id: int, person: As = None, server: Server = None, database_url: DatabaseUrl = None
) -> None:
    """Resolve the incident and its open alerts."""
    _act("resolve", incident_id, person, server, database_url)


@incident_app.command("reopen")
@friendly
def incident_reopen(
    incident_id: int, person: As = None, server: Server = None, database_url: DatabaseUrl = None
) -> None:
    """Reopen a resolved incident; escalation starts again."""
    _act("reopen", incident_id, person, server, database_url)


@incident_app.command("handover")
@friendly
def incident_handover(
    incident_id: int,
    developer: Annotated[str, typer.Option(help="The developer's person id (anyone).")],
    actual: Annotated[str, typer.Option(help="The actual behaviour.")],
    ideal: Annotated[str, typer.Option(help="The ideal (expected) behaviour.")],
    tried: Annotated[str, typer.Option(help="What was tried on call.")],
    runbook: Annotated[str | None, typer.Option(help="The runbook used, by its id.")] = None,
    link: Annotated[list[str] | None, typer.Option(help="A link; repeat for more.")] = None,
    person: As = None,
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Hand the incident over to a developer with the handover template: it leaves the
    on-call queue, the developer is told, and its Jira issue gets the text."""
    with connect(server, database_url) as backend:
        number = backend.handover(
            incident_id,
            {
                "developer": developer,
                "actual": actual,
                "ideal": ideal,
                "tried": tried,
                "runbook": runbook,
                "links": list(link or []),
            },
            person=person,
        )
    out.print(f"incident #{number} handed over to {developer}")
