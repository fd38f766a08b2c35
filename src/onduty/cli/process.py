"""`onduty checks`, `onduty report` and `onduty handover`: the on-call process from the command
line, on the database or a server (cli/backend.py), printing the API's documents."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from onduty.cli.backend import Server, connect
from onduty.cli.common import As, AsJson, DatabaseUrl, friendly, out, print_json, table

checks_app = typer.Typer(no_args_is_help=True, help="Daily checks: list and tick.")
handover_app = typer.Typer(no_args_is_help=True, help="The weekly on-call handover.")


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


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    minutes, seconds = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def report(
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="A date (inclusive) or ISO 8601 instant; default 30 days ago."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="A date (inclusive) or ISO 8601 instant; default now.")
    ] = None,
    as_json: AsJson = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Print CSV (section,group,metric,value).")
    ] = False,
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """On-call metrics: MTTA/MTTR, SLA %, pages and night pages per person, hours on call."""
    import csv
    import sys

    from onduty.cli.common import CliError

    if as_json and as_csv:
        raise CliError("--json and --csv: give one of them")
    with connect(server, database_url) as backend:
        doc = backend.report(team=team, since=since, until=until)
    if as_json:
        print_json(doc)
        return
    if as_csv:
        from onduty.reports.service import csv_rows

        csv.writer(sys.stdout).writerows(csv_rows(doc))
        return
    t = doc["totals"]
    out.print(f"{doc['team'] or 'All teams'}, {doc['since']} to {doc['until']}")
    out.print(
        f"{t['incidents']} incidents; MTTA median {_secs(t['mtta_median_s'])}, p90 "
        f"{_secs(t['mtta_p90_s'])}; MTTR median {_secs(t['mttr_median_s'])}, p90 "
        f"{_secs(t['mttr_p90_s'])}; acknowledged in time "
        f"{_pct(t['acknowledged_within_ack_timeout_pct'])}, resolved in time "
        f"{_pct(t['resolved_within_target_pct'])}"
    )
    for section, key in (("by_team", "team"), ("by_priority", "priority")):
        grid = table(
            key, "incidents", "MTTA p50", "MTTA p90", "MTTR p50", "ack in time", "resolved in time"
        )
        for r in doc[section]:
            grid.add_row(
                str(r[key]),
                str(r["incidents"]),
                _secs(r["mtta_median_s"]),
                _secs(r["mtta_p90_s"]),
                _secs(r["mttr_median_s"]),
                _pct(r["acknowledged_within_ack_timeout_pct"]),
                _pct(r["resolved_within_target_pct"]),
            )
        out.print(grid)
    grid = table(
        "person", "acked", "MTTA p50", "pages", "off hours", "at night", "shifts", "hours on call"
    )
    for p in doc["by_person"]:
        grid.add_row(
            p["person"],
            str(p["acknowledged"]),
            _secs(p["mtta_median_s"]),
            str(p["pages"]),
            str(p["pages_off_hours"]),
            str(p["pages_night"]),
            str(p["shifts"]),
            f"{p['hours_on_call']:.0f}",
        )
    out.print(grid)
    if doc["noisy_keys"]:
        out.print("Noisiest alerts at night:")
        for n in doc["noisy_keys"]:
            out.print(f"  {n['night_pages']:>4}  {n['service']}: {n['summary']}")


@handover_app.command("show")
@friendly
def handover_show(
    team: Annotated[str, typer.Option(help="The team.")],
    as_json: AsJson = False,
    server: Server = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The team's latest weekly handover report."""
    from onduty.cli.common import CliError

    with connect(server, database_url) as backend:
        docs = backend.handovers(team=team)
    if not docs:
        raise CliError(f"no handover for team {team!r} yet")
    h = docs[0]
    if as_json:
        print_json(h)
        return
    acked = (
        f"acknowledged by {h['acknowledged_by']}" if h["acknowledged_at"] else "NOT acknowledged"
    )
    out.print(f"Handover {team} at {h['at']} ({acked})")
    for s in h["slots"]:
        out.print(f"  {s['slot']}: {s['outgoing'] or 'nobody'} -> {s['incoming'] or 'nobody'}")
    out.print(f"Open incidents passed on: {len(h['open_incidents'])}")
    for i in h["open_incidents"]:
        out.print(f"  #{i['number']} {i['priority']} {i['title']} -> {i['assigned_to'] or '-'}")
    for u in h["unresolved"]:
        out.print(f"  not resolved: #{u['number']} {u['title']}: {u['why']}")
    for s in h.get("status_incidents", []):
        out.print(f"  status page: {s['name']} ({s['status']}) -> {s['owner_to'] or '-'}")
    for d in h.get("with_developers", []):
        out.print(f"  with a developer: #{d['number']} {d['title']} -> {d['developer']}")
    for task in h.get("runbook_tasks", []):
        late = ", overdue" if task["overdue"] else ""
        out.print(f"  runbook gap: {task['runbook']}: {task['missing'] or '-'}{late}")
    for p in h.get("overdue_postmortems", []):
        out.print(f"  postmortem overdue: #{p['incident']} {p['title']} ({p['owner'] or '-'})")
    t = h["metrics"]["totals"]
    out.print(
        f"The week: {t['incidents']} incidents, MTTA median {_secs(t['mtta_median_s'])}, "
        f"acknowledged in time {_pct(t['acknowledged_within_ack_timeout_pct'])}"
    )
    for a in h["agenda"]:
        out.print(f"  agenda: {a['text']} ({a['by']})")
