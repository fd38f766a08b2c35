"""What the responder's commands ask of onduty, in one interface with two implementations: the
database next to you (cli/local.py) or a server over its HTTP API (cli/remote.py). A command
is written once against `Backend`; `connect` picks the implementation from the options.

Light on purpose: the implementation chosen is imported inside `connect`, so a local command
never loads httpx and a remote one never loads SQLAlchemy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol, TypedDict

import typer

from onduty.cli.common import CliError

Server = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Ask this onduty server (its API, with ONDUTY_TOKEN or the token saved by "
        "`onduty login`) instead of the database. Default: ONDUTY_URL.",
        show_default=False,
    ),
]
DEFAULT_DATABASE_URL = "sqlite:///onduty.db"


@dataclass(frozen=True)
class Shift:
    team: str
    slot: str
    person: str | None
    start: datetime
    end: datetime
    source: str


@dataclass(frozen=True)
class OverrideRow:
    id: int
    team: str
    slot: str
    person: str
    start: datetime
    end: datetime
    reason: str | None
    created_by: str | None
    managed: bool


@dataclass(frozen=True)
class Zones:
    """The organisation's time zone and each team's (its rota's, else the organisation's)."""

    organization: str
    teams: dict[str, str]

    def of(self, team: str | None) -> str:
        return self.teams.get(team, self.organization) if team else self.organization


class IncidentDoc(TypedDict):
    """An incident as `incident list --json` prints it (a stable shape: instants in UTC)."""

    id: int
    number: int
    title: str
    status: str
    priority: str
    service: str
    team: str
    discipline: str | None
    backlog: bool
    created_at: str
    acknowledged_by: str | None
    resolved_by: str | None


class AlertDoc(TypedDict):
    dedup_key: str
    status: str
    count: int
    summary: str


class EventDoc(TypedDict):
    at: str
    kind: str
    actor: str
    channel: str


class IncidentDetailDoc(IncidentDoc):
    """`incident show --json`: the incident, its alerts and its timeline."""

    alerts: list[AlertDoc]
    timeline: list[EventDoc]


class Backend(Protocol):
    def zones(self) -> Zones: ...

    def on_call(self, *, team: str | None, at: datetime | None) -> list[Shift]: ...

    def shifts(self, *, team: str, weeks: int) -> dict[str, list[Shift]]: ...

    def overrides(self, *, team: str | None) -> list[OverrideRow]: ...

    def add_override(
        self,
        *,
        team: str,
        slot: str,
        person: str,
        start: datetime,
        end: datetime,
        reason: str | None,
    ) -> OverrideRow: ...

    def remove_override(self, override_id: int) -> None: ...

    def swap(
        self, *, team: str, slot: str, first: datetime, second: datetime
    ) -> list[OverrideRow]: ...

    def incidents(
        self,
        *,
        status: str | None,
        team: str | None,
        service: str | None,
        stage: str | None = None,
    ) -> list[IncidentDoc]: ...

    def incident(self, incident_id: int) -> IncidentDetailDoc: ...

    def act(self, action: str, incident_id: int, *, person: str | None) -> int:
        """Acknowledge, resolve or reopen; the incident's number."""
        ...

    def dry_run(self, *, service: str, priority: str, at: datetime | None) -> list[dict[str, Any]]:
        """`GET /api/v1/dryrun`'s entries (escalation/dryrun.py: `documents`)."""
        ...

    def handover(self, incident_id: int, handover: Handover, *, person: str | None) -> int:
        """Hand the incident over to a developer; the incident's number."""
        ...

    # The on-call process: the API's JSON documents as they are (GET /api/v1/checks, ...).
    def checks(self) -> list[dict[str, Any]]: ...

    def tick(self, check_id: str, item: str, *, person: str | None) -> dict[str, Any]: ...

    def report(
        self, *, team: str | None, since: str | None, until: str | None
    ) -> dict[str, Any]: ...

    def handovers(self, *, team: str) -> list[dict[str, Any]]: ...


class Handover(TypedDict):
    developer: str
    actual: str
    ideal: str
    tried: str
    runbook: str | None
    links: list[str]


def environment(name: str) -> str | None:
    """ONDUTY_<name>, matched without regard to case as pydantic-settings matches it (Settings
    is not built here: importing pydantic would cost more than a short command takes)."""
    wanted = f"ONDUTY_{name}".upper()
    return next((v for k, v in os.environ.items() if k.upper() == wanted), None)


@contextmanager
def connect(server: str | None, database_url: str | None) -> Iterator[Backend]:
    """A server named by --server (or ONDUTY_URL unless --database-url is given), else the
    database of --database-url (or ONDUTY_DATABASE_URL)."""
    if server and database_url:
        raise CliError("--server and --database-url: give one of them")
    url = server or (None if database_url else environment("URL"))
    if url:
        from onduty.cli.remote import HttpBackend

        with HttpBackend.open(url) as remote:
            yield remote
    else:
        from onduty.cli.local import LocalBackend

        target = database_url or environment("DATABASE_URL") or DEFAULT_DATABASE_URL
        with LocalBackend.open(target) as local:
            yield local
