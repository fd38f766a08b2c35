"""The `onduty` command: thin commands that parse, call a service, print, and exit non-zero with
one clear line on bad input (never a traceback)."""

from __future__ import annotations

import gc
import json
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from onduty.auth import service as auth_service
from onduty.clock import Clock, SystemClock
from onduty.config import Settings, load_settings
from onduty.db import make_engine, make_session_factory, migrate
from onduty.db.session import alembic_config
from onduty.errors import OndutyError
from onduty.incidents import service as incidents_service
from onduty.incidents.models import Incident
from onduty.people.models import Organization, Person
from onduty.policy import PolicyError, apply_policy, export_yaml, lint, load_file
from onduty.policy.derive import to_utc
from onduty.schedules import service as schedules_service
from onduty.schedules.models import Override, Rota
from onduty.services import service as services_service

app = typer.Typer(no_args_is_help=True, add_completion=False, help="On-call and incidents.")
policy_app = typer.Typer(no_args_is_help=True, help="Lint, apply and export the policy file.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens.")
integrations_app = typer.Typer(no_args_is_help=True, help="Inbound integrations.")
app.add_typer(policy_app, name="policy")
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(integrations_app, name="integrations")
schedule_app = typer.Typer(no_args_is_help=True, help="Rota shifts and fairness.")
override_app = typer.Typer(no_args_is_help=True, help="Overrides: a person covers a slot.")
user_app = typer.Typer(no_args_is_help=True, help="Web UI logins.")
app.add_typer(user_app, name="user")
app.add_typer(schedule_app, name="schedule")
app.add_typer(override_app, name="override")
incident_app = typer.Typer(no_args_is_help=True, help="Incidents: list, show, ack, resolve.")
app.add_typer(incident_app, name="incident")

# Wide when piped, so tables of keys and URLs are never cut.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Overrides ONDUTY_DATABASE_URL.")
]
EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "examples" / "acme" / "policy.yaml"


class CliError(Exception):
    """A problem to report as one line and exit 1."""


def friendly(func: F) -> F:
    """Turn expected failures into one line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (CliError, OndutyError) as exc:
            err.print(f"error: {exc}")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            err.print(f"error: settings: {where + ': ' if where else ''}{first['msg']}")
        except OperationalError as exc:
            err.print(f"error: database: {str(exc.orig).strip().splitlines()[0]}")
        raise typer.Exit(1)

    return wrapper  # type: ignore[return-value]


def settings_for(database_url: str | None, **extra: Any) -> Settings:
    overrides: dict[str, Any] = dict(extra)
    if database_url:
        overrides["database_url"] = database_url
    return load_settings(**overrides)


def check_schema(engine: Engine, url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        raise CliError(
            f"the database schema is at {current or 'nothing'}, not {head}: run `onduty db upgrade`"
        )


@contextmanager
def database(settings: Settings) -> Iterator[Session]:
    """A session on a migrated database; commits on success, rolls back on any error."""
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine, settings.database_url)
        with make_session_factory(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


def clock() -> Clock:
    return SystemClock()


# --- db -------------------------------------------------------------------------------------


@db_app.command("upgrade")
@friendly
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Create or upgrade the database schema to the newest migration."""
    settings = settings_for(database_url, demo=True)
    migrate(settings.database_url)
    out.print("database schema is up to date")


# --- policy ---------------------------------------------------------------------------------


def _load_and_lint(file: Path) -> tuple[Any, list[str], bool]:
    try:
        policy, lines = load_file(file)
    except PolicyError as exc:
        return None, [p.format(str(file)) for p in exc.problems], True
    problems = lint(policy, lines, now=clock().now())
    return (
        policy,
        [p.format(str(file)) for p in problems],
        any(p.severity == "error" for p in problems),
    )


@policy_app.command("lint")
def policy_lint(file: Path) -> None:
    """Check a policy file; errors exit 1, warnings are printed and exit 0."""
    _policy, messages, failed = _load_and_lint(file)
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
    policy, messages, failed = _load_and_lint(file)
    for line in messages:
        err.print(line)
    if failed:
        raise typer.Exit(1)
    with database(settings_for(database_url, demo=True)) as session:
        changes = apply_policy(session, policy)
    for change in changes:
        out.print(change)
    if not changes:
        out.print("no changes")


@policy_app.command("export")
@friendly
def policy_export(
    database_url: DatabaseUrl = None,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Write the stored configuration as a policy file (to stdout unless --output)."""
    with database(settings_for(database_url, demo=True)) as session:
        text = export_yaml(session)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")


# --- tokens and integrations ----------------------------------------------------------------


@token_app.command("create")
@friendly
def token_create(
    role: Annotated[str, typer.Option(help="admin, manager, responder or viewer")],
    person: Annotated[str | None, typer.Option(help="The person the token acts as.")] = None,
    name: Annotated[str | None, typer.Option(help="A label to recognise it by.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token and print it (this once)."""
    with database(settings_for(database_url, demo=True)) as session:
        token = auth_service.create_token(
            session, person_id=person, role=role, now=clock().now(), name=name
        )
    out.print(token)


@user_app.command("create")
@friendly
def user_create(
    username: str,
    role: Annotated[str, typer.Option(help="admin, manager, responder or viewer")],
    person: Annotated[str | None, typer.Option(help="The person this login is.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a web UI login (or reset its password and role)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with database(settings_for(database_url, demo=True)) as session:
        auth_service.create_login(
            session,
            username=username,
            password=password,
            role=role,
            now=clock().now(),
            person_id=person,
        )
    out.print(f"login {username} ({role}) saved")


@integrations_app.command("list")
@friendly
def integrations_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Every integration: service, id, type, key and the URL to send alerts to."""
    settings = settings_for(database_url, demo=True)
    with database(settings) as session:
        rows = services_service.list_integrations(session, base_url=settings.base_url)
    if as_json:
        sys.stdout.write(
            json.dumps(
                [
                    {
                        "service": r.service,
                        "integration": r.integration,
                        "type": r.type,
                        "key": r.key,
                        "url": r.url,
                    }
                    for r in rows
                ],
                indent=2,
            )
            + "\n"
        )
        return
    table = Table("service", "integration", "type", "key", "inbound URL")
    for r in rows:
        table.add_row(r.service, r.integration, r.type, r.key, r.url)
    out.print(table)


# --- incidents --------------------------------------------------------------------------------

As = Annotated[
    str | None, typer.Option("--as", help="The person acting (default: `cli`).", show_default=False)
]


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


def _incident_action(
    name: str, incident_id: int, person: str | None, database_url: str | None
) -> None:
    operation = {
        "acknowledged": incidents_service.acknowledge,
        "resolved": incidents_service.resolve,
        "reopened": incidents_service.reopen,
    }[name]
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
    out.print(f"incident #{number} {name}")


@incident_app.command("ack")
@friendly
def incident_ack(incident_id: int, person: As = None, database_url: DatabaseUrl = None) -> None:
    """Acknowledge: take charge and stop the escalation."""
    _incident_action("acknowledged", incident_id, person, database_url)


@incident_app.command("resolve")
@friendly
def incident_resolve(incident_id: int, person: As = None, database_url: DatabaseUrl = None) -> None:
    """Resolve the incident and its open alerts."""
    _incident_action("resolved", incident_id, person, database_url)


@incident_app.command("reopen")
@friendly
def incident_reopen(incident_id: int, person: As = None, database_url: DatabaseUrl = None) -> None:
    """Reopen a resolved incident; escalation starts again."""
    _incident_action("reopened", incident_id, person, database_url)


# --- schedules --------------------------------------------------------------------------------


def _zone_of(session: Session, team_id: str | None) -> str:
    rota = session.get(Rota, team_id) if team_id else None
    if rota is not None:
        return rota.timezone
    org = session.scalars(select(Organization)).first()
    return org.timezone if org else "UTC"


def _instant(text: str, zone: str, what: str) -> datetime:
    """ISO 8601; a time without an offset is read in `zone` (the team's)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--{what}: {text!r} is not an ISO 8601 date and time") from None
    return to_utc(value, zone)


def _local(value: datetime, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


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
        instant = _instant(at, _zone_of(session, team), "at") if at else clock().now()
        rows = schedules_service.on_call_at(session, at=instant, team_id=team)
        zones = {r.team: _zone_of(session, r.team) for r in rows}
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
            r.team, r.slot, r.person or "(nobody)", _local(r.start, zone), _local(r.end, zone)
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
        zone = _zone_of(session, team)
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
                _local(shift.start, zone),
                _local(shift.end, zone),
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
        f"from {_local(row.start, zone)} to {_local(row.end, zone)}"
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
        zone = _zone_of(session, team)
        row = schedules_service.create_override(
            session,
            team_id=team,
            slot=slot,
            person_id=person,
            start=_instant(start, zone, "start"),
            end=_instant(end, zone, "end"),
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
            zone = _zone_of(session, r.team_id)
            table.add_row(
                str(r.id),
                r.team_id,
                r.slot,
                r.person_id,
                _local(r.start, zone),
                _local(r.end, zone),
                r.reason or "",
                "policy file" if r.managed else (r.created_by or ""),
            )
    out.print(table)


@override_app.command("remove")
@friendly
def override_remove(override_id: int, database_url: DatabaseUrl = None) -> None:
    """Remove an override."""
    with database(settings_for(database_url, demo=True)) as session:
        row = schedules_service.delete_override(session, override_id=override_id)
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
        zone = _zone_of(session, team)
        one, two = schedules_service.swap(
            session,
            team_id=team,
            slot=slot,
            first=_instant(first, zone, "first"),
            second=_instant(second, zone, "second"),
            now=clock().now(),
            created_by="cli",
        )
        for row in (one, two):
            out.print(_describe_override(row, zone))


# --- serve ----------------------------------------------------------------------------------


@app.command()
@friendly
def serve(
    demo: Annotated[
        bool, typer.Option(help="Migrate, load the Acme demo and make a login.")
    ] = False,
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: DatabaseUrl = None,
    no_engine: Annotated[
        bool, typer.Option("--no-engine", help="Serve only; run `onduty engine` elsewhere.")
    ] = False,
) -> None:
    """Serve the API and the web UI, with the engine in the same process unless --no-engine."""
    import uvicorn

    from onduty.web.app import create_app

    extra: dict[str, Any] = {"demo": True} if demo else {}
    if demo:
        extra.setdefault("base_url", f"http://{host}:{port}")
    settings = settings_for(database_url, **extra)
    if demo:
        _prepare_demo(settings)
    application = create_app(settings)
    worker = None
    if not no_engine:
        worker = _engine(settings, application.state.session_factory)
        application.state.wake_engine = worker.wake
        threading.Thread(target=worker.run, name="onduty-engine", daemon=True).start()
    if demo:
        out.print(f"onduty demo: open {settings.base_url}/")
    _freeze_startup_objects()
    try:
        uvicorn.run(application, host=host, port=port, log_level="info")
    finally:
        if worker is not None:
            worker.stop()


def _freeze_startup_objects() -> None:
    """Exclude what startup made (modules, the app, its compiled statements) from the garbage
    collector's full collections: they live as long as the process, and scanning them paused
    every thread for 100-140 ms at a time under load (the intake benchmark's p99)."""
    gc.collect()
    gc.freeze()


def _engine(settings: Settings, session_factory: Any) -> Any:
    from onduty.engine import Engine
    from onduty.notify import build_channels

    return Engine(settings, session_factory, clock(), build_channels(settings, clock=clock()))


@app.command()
@friendly
def engine(database_url: DatabaseUrl = None) -> None:
    """Run the engine alone (escalations, deliveries, periodic jobs); several may share one
    PostgreSQL database."""
    settings = settings_for(database_url)
    db = make_engine(settings.database_url)
    check_schema(db, settings.database_url)
    worker = _engine(settings, make_session_factory(db))
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    out.print(
        f"onduty engine {worker.holder} running (tick {settings.engine_tick.total_seconds():g} s)"
    )
    _freeze_startup_objects()
    try:
        worker.run()
    except KeyboardInterrupt:
        worker.stop()


def _prepare_demo(settings: Settings) -> None:
    migrate(settings.database_url)
    policy, messages, failed = _load_and_lint(EXAMPLE_POLICY)
    if failed:
        raise CliError("the demo policy does not lint: " + "; ".join(messages))
    password = secrets.token_urlsafe(9)
    with database(settings) as session:
        for change in apply_policy(session, policy):
            out.print(f"demo: {change}")
        auth_service.create_login(
            session, username="admin", password=password, role="admin", now=clock().now()
        )
        token = auth_service.create_token(
            session, person_id=None, role="admin", now=clock().now(), name="demo"
        )
    out.print(f"login: admin / {password}")
    out.print(f"API token (admin): {token}")


def main() -> None:
    app(prog_name="onduty")


if __name__ == "__main__":
    main()
