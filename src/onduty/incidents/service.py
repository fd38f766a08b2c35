"""Incidents: the lifecycle (acknowledge, resolve, reopen, escalate, update) with its timeline
and audit record, and reads. Services take a session and `now`, flush, and never commit: the
caller owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from onduty.audit import service as audit
from onduty.db import dialect
from onduty.errors import InvalidInput, InvalidTransition, NotFound
from onduty.escalation import service as escalation_service
from onduty.incidents.models import (
    Alert,
    Incident,
    TimelineEvent,
)
from onduty.incidents.timeline import timeline
from onduty.incidents.triage import Triage
from onduty.people.models import Person
from onduty.slack import threads as slack_threads

STAGES = (
    "reported",
    "ticketed",
    "acknowledged",
    "resolved_on_call",
    "handed_over",
    "resolved_by_developer",
    "postmortem",
    "runbook_updated",
)


def locked(session: Session, incident_id: int) -> Incident:
    # populate_existing: the row just locked may be newer than this session's copy.
    incident = session.scalars(
        dialect.lock(session, select(Incident).where(Incident.id == incident_id)).execution_options(
            populate_existing=True
        )
    ).first()
    if incident is None:
        raise NotFound(f"no incident with id {incident_id}", "id")
    return incident


def _audit(
    session: Session,
    incident: Incident,
    action: str,
    changes: dict[str, Any],
    *,
    actor: str,
    now: datetime,
) -> None:
    """The audit record of a change a person made; `changes` maps each changed field to its
    [old, new] values, as the timeline's `updated` events do. (The channel is on the timeline
    event written beside it.)"""
    audit.record(
        session,
        actor=actor,
        action=f"incident.{action}",
        object_type="incident",
        object_id=str(incident.id),
        at=now,
        before={k: old for k, (old, _new) in changes.items()},
        after={k: new for k, (_old, new) in changes.items()},
    )


def _say(session: Session, incident: Incident, text: str, actor: str, now: datetime) -> None:
    """Post the change in the incident's Slack thread (if its team has a channel), naming the
    person who made it."""
    person = session.get(Person, actor)
    who = person.name if person else actor
    slack_threads.post_event(session, incident=incident, text=f"{text} by {who}.", now=now)


def record_stage(incident: Incident, stage: str, now: datetime) -> None:
    """Record that `incident` reached journey `stage` (the first time counts) and is now there."""
    stages = dict(incident.stages or {})
    stages.setdefault(stage, now.isoformat())
    incident.stages = stages
    incident.stage = stage


def acknowledge(
    session: Session,
    *,
    incident_id: int,
    actor: str,
    channel: str,
    now: datetime,
    audited: bool = True,
) -> Incident:
    """Take charge: stops escalation and cancels unsent pages in this transaction. Monitoring's
    own acknowledgements (intake) pass `audited=False`: the timeline records them.

    Raises:
        InvalidTransition: already acknowledged (says by whom) or resolved.
    """
    incident = locked(session, incident_id)
    if incident.status == "acknowledged":
        raise InvalidTransition(
            f"incident #{incident.number} was already acknowledged by {incident.acknowledged_by}",
            "status",
        )
    if incident.status == "resolved":
        raise InvalidTransition(f"incident #{incident.number} is resolved", "status")
    was = incident.status
    incident.status, incident.acknowledged_at, incident.acknowledged_by = "acknowledged", now, actor
    incident.generation += 1
    record_stage(incident, "acknowledged", now)
    cancelled = escalation_service.stop(session, incident_id=incident.id, now=now)
    timeline(
        session,
        incident,
        now=now,
        kind="acknowledged",
        actor=actor,
        channel=channel,
        seconds_to_acknowledge=int((now - incident.created_at).total_seconds()),
        cancelled=cancelled,
    )
    if audited:
        status = {"status": [was, incident.status]}
        _audit(session, incident, "acknowledge", status, actor=actor, now=now)
    _say(session, incident, f":eyes: Acknowledged via {channel}", actor, now)
    session.flush()
    return incident


def resolve(
    session: Session,
    *,
    incident_id: int,
    actor: str,
    channel: str,
    now: datetime,
    audited: bool = True,
) -> Incident:
    """Resolve the incident and its open alerts; `audited` as for `acknowledge`."""
    incident = locked(session, incident_id)
    if incident.status == "resolved":
        raise InvalidTransition(f"incident #{incident.number} is already resolved", "status")
    was = incident.status
    incident.status, incident.resolved_at, incident.resolved_by = "resolved", now, actor
    incident.generation += 1
    record_stage(incident, "resolved_on_call", now)
    session.execute(
        update(Alert)
        .where(Alert.incident_id == incident.id, Alert.open_key.is_not(None))
        .values(status="resolved", open_key=None, resolved_at=now)
    )
    cancelled = escalation_service.stop(session, incident_id=incident.id, now=now)
    timeline(
        session,
        incident,
        now=now,
        kind="resolved",
        actor=actor,
        channel=channel,
        cancelled=cancelled,
    )
    if audited:
        status = {"status": [was, incident.status]}
        _audit(session, incident, "resolve", status, actor=actor, now=now)
    _say(session, incident, f":white_check_mark: Resolved via {channel}", actor, now)
    session.flush()
    return incident


def reopen(
    session: Session, *, incident_id: int, actor: str, channel: str, now: datetime
) -> Incident:
    """A resolved incident fires again: escalation restarts from its first step."""
    incident = locked(session, incident_id)
    if incident.status != "resolved":
        raise InvalidTransition(
            f"incident #{incident.number} is {incident.status}, not resolved", "status"
        )
    was = incident.status
    incident.status, incident.resolved_at, incident.resolved_by = "triggered", None, None
    incident.acknowledged_at = incident.acknowledged_by = None
    incident.generation += 1
    incident.page_due_at = now
    incident.backlog = False
    timeline(session, incident, now=now, kind="reopened", actor=actor, channel=channel)
    status = {"status": [was, incident.status]}
    _audit(session, incident, "reopen", status, actor=actor, now=now)
    _say(session, incident, ":leftwards_arrow_with_hook: Reopened: paging starts again", actor, now)
    session.flush()
    return incident


def escalate(
    session: Session, *, incident_id: int, actor: str, channel: str, now: datetime
) -> Incident:
    """Run the next escalation step now; an acknowledged incident becomes unacknowledged."""
    incident = locked(session, incident_id)
    if incident.status == "resolved":
        raise InvalidTransition(
            f"incident #{incident.number} is resolved: reopen it first", "status"
        )
    was = incident.status
    if incident.status == "acknowledged":
        incident.status, incident.acknowledged_at, incident.acknowledged_by = (
            "triggered",
            None,
            None,
        )
        incident.generation += 1
    incident.backlog, incident.page_due_at = False, min(incident.page_due_at, now)
    escalation_service.escalate_now(session, incident=incident, now=now)
    timeline(session, incident, now=now, kind="escalated", actor=actor, channel=channel)
    status = {"status": [was, incident.status]}
    _audit(session, incident, "escalate", status, actor=actor, now=now)
    _say(session, incident, ":arrow_double_up: Escalated to the next step", actor, now)
    session.flush()
    return incident


class Action(Protocol):
    def __call__(
        self, session: Session, *, incident_id: int, actor: str, channel: str, now: datetime
    ) -> Incident: ...


# What a person can do to an incident, by name: one table for the API, the UI and the CLI.
ACTIONS: dict[str, Action] = {
    "acknowledge": acknowledge,
    "resolve": resolve,
    "escalate": escalate,
    "reopen": reopen,
}


_UPDATE_ACTIONS = {"priority": "priority", "discipline": "discipline", "assignee": "reassign"}


def update_incident(
    session: Session,
    *,
    incident_id: int,
    actor: str,
    channel: str,
    now: datetime,
    priority: str | None = None,
    discipline: str | None = None,
    assignee: str | None = None,
) -> Incident:
    incident = locked(session, incident_id)
    changes: dict[str, Any] = {}
    if priority is not None and priority != incident.priority:
        if priority not in ("P1", "P2", "P3", "P4"):
            raise InvalidInput("priority must be P1, P2, P3 or P4", "priority")
        changes["priority"] = [incident.priority, priority]
        incident.priority, incident.priority_set_by, incident.priority_set_at = priority, actor, now
        backlog, _due = Triage.of(session).paging(priority, now)
        if incident.status == "triggered" and not backlog and incident.backlog:
            incident.backlog, incident.page_due_at = False, now
    if discipline is not None and discipline != incident.discipline:
        changes["discipline"] = [incident.discipline, discipline]
        incident.discipline = discipline
    if assignee is not None and assignee != incident.assignee_id:
        if session.get(Person, assignee) is None:
            raise NotFound(f"no person with id {assignee!r}", "assignee")
        changes["assignee"] = [incident.assignee_id, assignee]
        incident.assignee_id = assignee
    if changes:
        timeline(
            session,
            incident,
            now=now,
            kind="updated",
            actor=actor,
            channel=channel,
            changes=changes,
        )
        # One field changed is named for what a person did (the page's priority and reassign
        # forms); several at once (the API's PATCH) is an update.
        action = _UPDATE_ACTIONS[next(iter(changes))] if len(changes) == 1 else "update"
        _audit(session, incident, action, changes, actor=actor, now=now)
        said = ", ".join(f"{k} {old or '-'} → {new}" for k, (old, new) in changes.items())
        _say(session, incident, f":pencil2: Changed {said}", actor, now)
    session.flush()
    return incident


def list_incidents(
    session: Session,
    *,
    status: str | None = None,
    team: str | None = None,
    service: str | None = None,
    backlog: bool | None = None,
    limit: int = 200,
) -> list[Incident]:
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if status:
        query = query.where(Incident.status == status)
    if team:
        query = query.where(Incident.team_id == team)
    if service:
        query = query.where(Incident.service_id == service)
    if backlog is not None:
        query = query.where(Incident.backlog.is_(backlog))
    return list(session.scalars(query))


def get_incident(session: Session, *, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident with id {incident_id}", "id")
    return incident


def incident_timeline(session: Session, *, incident_id: int) -> list[TimelineEvent]:
    return list(
        session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id)
            .order_by(TimelineEvent.id)
        )
    )


def incident_alerts(session: Session, *, incident_id: int) -> list[Alert]:
    return list(
        session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id))
    )
