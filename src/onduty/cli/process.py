"""`onduty checks`, `onduty report` and `onduty handover`: the on-call process from the command
line, on the database or a server (cli/backend.py), printing the API's documents."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from onduty.cli.backend import Server, connect
from onduty.cli.common import As, AsJson, DatabaseUrl, friendly, out, print_json, table

checks_app = typer.Typer(no_args_is_help=True, help="Daily checks: list and tick.")


def _check_line(doc: dict[str, Any]) -> str:
    if doc["type"] == "heartbeat":
        return f"ping {doc['ping_url']}; last {doc['last_ping_at'] or 'never'}"
    if doc["type"] == "http":
        return f"{doc['url']}; {doc['failures_in_a_row']} failures in a row"
    done = sum(1 for i in doc["items"] if i["done"])
    return f"{doc['day']}: {done}/{len(doc['items'])} done, deadline {doc['deadline']}"


@checks_app.command("list")
@friendly
def checks_list(
    as_json: AsJson = False, server: Server = None, database_url: DatabaseUrl = None
) -> None:
    """Every check with its state (checklists: today's items)."""
    with connect(server, database_url) as backend:
        docs = backend.checks()
    if as_json:
        print_json(docs)
        return
    grid = table("id", "type", "team", "service", "state", "")
    for d in docs:
        grid.add_row(
            d["id"], d["type"], d["team"] or "", d["service"] or "", d["state"], _check_line(d)
        )
    out.print(grid)
    for d in docs:
        if d["type"] == "checklist":
            for n, i in enumerate(d["items"], 1):
                mark = f"done by {i['by']}" if i["done"] else "open"
                out.print(f"  {d['id']} {n}. {i['item']} ({mark})")


@checks_app.command("tick")
@friendly
def checks_tick(
    check_id: Annotated[str, typer.Argument(help="The checklist's id.")],
    item: Annotated[str, typer.Argument(help="The item's number (from 1) or its text.")],
    person: As = None,
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Tick an item of a checklist's current day."""
    with connect(server, database_url) as backend:
        doc = backend.tick(check_id, item, person=person)
    done = sum(1 for i in doc["items"] if i["done"])
    out.print(f"{check_id} {doc['day']}: {done}/{len(doc['items'])} done ({doc['state']})")
