"""The responder's commands on the database next to you: one session (one transaction) per
command, through the same services the API uses. Each method imports the service it needs,
so `onduty who` loads the rota code but not the incident lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from onduty.cli.backend import (
    Handover,
    IncidentDetailDoc,
    IncidentDoc,
    OverrideRow,
    Shift,
    Zones,
    environment,
)
from onduty.cli.common import CliError, clock, database

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from onduty.incidents.models import Incident
    from onduty.schedules.models import Override

CREATED_BY = "cli"


def _override(row: Override) -> OverrideRow:
    return OverrideRow(
        id=row.id,
        team=row.team_id,
        slot=row.slot,
        person=row.person_id,
        start=row.start,
        end=row.end,
        reason=row.reason,
        created_by=row.created_by,
        managed=row.managed,
    )


def _incident(row: Incident) -> IncidentDoc:
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


class LocalBackend:
    def __init__(self, session: Session) -> None:
        self.session = session

    @classmethod
    @contextmanager
    def open(cls, database_url: str) -> Iterator[LocalBackend]:
        with database(database_url) as session:
            yield cls(session)

    def zones(self) -> Zones:
        from onduty.schedules.service import time_zones

        organization, teams = time_zones(self.session)
        return Zones(organization, teams)

    def on_call(self, *, team: str | None, at: datetime | None) -> list[Shift]:
        from onduty.schedules.service import on_call_at

        rows = on_call_at(self.session, at=at or clock().now(), team_id=team)
        return [Shift(r.team, r.slot, r.person, r.start, r.end, r.source) for r in rows]

    def shifts(self, *, team: str, weeks: int) -> dict[str, list[Shift]]:
        from onduty.schedules.service import upcoming_shifts

        now = clock().now()
        per_slot = upcoming_shifts(
            self.session, team_id=team, start=now, end=now + timedelta(weeks=weeks)
        )
        return {
            slot: [Shift(team, slot, s.person, s.start, s.end, s.source) for s in shifts]
            for slot, shifts in per_slot.items()
        }

    def overrides(self, *, team: str | None) -> list[OverrideRow]:
        from onduty.schedules.service import list_overrides

        return [_override(r) for r in list_overrides(self.session, team_id=team)]

    def add_override(
        self,
        *,
        team: str,
        slot: str,
        person: str,
        start: datetime,
        end: datetime,
        reason: str | None,
    ) -> OverrideRow:
        from onduty.schedules.service import create_override

        row = create_override(
            self.session,
            team_id=team,
            slot=slot,
            person_id=person,
            start=start,
            end=end,
            reason=reason,
            now=clock().now(),
            created_by=CREATED_BY,
        )
        return _override(row)

    def remove_override(self, override_id: int) -> None:
        from onduty.schedules.service import delete_override

        delete_override(self.session, override_id=override_id, actor=CREATED_BY, now=clock().now())

    def swap(self, *, team: str, slot: str, first: datetime, second: datetime) -> list[OverrideRow]:
        from onduty.schedules.service import swap

        pair = swap(
            self.session,
            team_id=team,
            slot=slot,
            first=first,
            second=second,
            now=clock().now(),
            created_by=CREATED_BY,
        )
        return [_override(r) for r in pair]

    def incidents(
        self,
        *,
        status: str | None,
        team: str | None,
        service: str | None,
        stage: str | None = None,
    ) -> list[IncidentDoc]:
        from onduty.incidents.service import list_incidents

        rows = list_incidents(self.session, status=status, team=team, service=service, stage=stage)
        return [_incident(r) for r in rows]

    def incident(self, incident_id: int) -> IncidentDetailDoc:
        from onduty.incidents import service

        row = service.get_incident(self.session, incident_id=incident_id)
        return {
            **_incident(row),
            "alerts": [
                {
                    "dedup_key": a.dedup_key,
                    "status": a.status,
                    "count": a.count,
                    "summary": a.summary,
                }
                for a in service.incident_alerts(self.session, incident_id=incident_id)
            ],
            "timeline": [
                {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "channel": e.channel}
                for e in service.incident_timeline(self.session, incident_id=incident_id)
            ],
        }

    def act(self, action: str, incident_id: int, *, person: str | None) -> int:
        from onduty.incidents.service import ACTIONS
        from onduty.people.models import Person

        if person is not None and self.session.get(Person, person) is None:
            raise CliError(f"--as: no person with id {person!r}")
        row = ACTIONS[action](
            self.session,
            incident_id=incident_id,
            actor=person or CREATED_BY,
            channel="cli",
            now=clock().now(),
        )
        return row.number

    def handover(self, incident_id: int, handover: Handover, *, person: str | None) -> int:
        from onduty.incidents.service import handover as hand_over
        from onduty.people.models import Person

        if person is not None and self.session.get(Person, person) is None:
            raise CliError(f"--as: no person with id {person!r}")
        row = hand_over(
            self.session,
            incident_id=incident_id,
            **handover,
            actor=person or CREATED_BY,
            channel="cli",
            now=clock().now(),
            base_url=environment("ONDUTY_BASE_URL") or "",
        )
        return row.number

    def checks(self) -> list[dict[str, Any]]:
        from onduty.checks.service import list_checks
        from onduty.cli.backend import environment

        base = environment("BASE_URL") or "http://127.0.0.1:8000"
        return list_checks(self.session, now=clock().now(), base_url=base)

    def tick(self, check_id: str, item: str, *, person: str | None) -> dict[str, Any]:
        from onduty.checks.service import tick
        from onduty.people.models import Person

        if person is not None and self.session.get(Person, person) is None:
            raise CliError(f"--as: no person with id {person!r}")
        return tick(
            self.session,
            check_id=check_id,
            item=item,
            actor=person or CREATED_BY,
            now=clock().now(),
        )

    def report(self, *, team: str | None, since: str | None, until: str | None) -> dict[str, Any]:
        from onduty.db import dialect
        from onduty.reports.service import report

        self.session.connection(execution_options={dialect.READ_ONLY: True})
        return report(self.session, team=team, since=since, until=until, now=clock().now())

    def handovers(self, *, team: str) -> list[dict[str, Any]]:
        from onduty.handover.service import list_handovers

        return list_handovers(self.session, team=team)

    def dry_run(self, *, service: str, priority: str, at: datetime | None) -> list[dict[str, Any]]:
        from onduty.escalation import dryrun

        run = dryrun.dry_run(
            self.session, service_id=service, at=at or clock().now(), priority=priority
        )
        return dryrun.documents(run)
