"""Incidents: the lifecycle (acknowledge, resolve, reopen, escalate, update) with its timeline
and audit record, and reads. Services take a session and `now`, flush, and never commit: the
caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from onduty.audit import service as audit
from onduty.db import dialect, wake
from onduty.errors import InvalidInput, InvalidTransition, NotFound
from onduty.escalation import service as escalation_service
from onduty.incidents import jira
from onduty.incidents.models import (
    Alert,
    Incident,
    TimelineEvent,
)
from onduty.incidents.timeline import timeline
from onduty.incidents.triage import Triage
from onduty.notify import outbox
from onduty.people.models import Person
from onduty.services.models import Service
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
    """The incident, locked for a change; every engine wakes when that change commits."""
    # populate_existing: the row just locked may be newer than this session's copy.
    incident = session.scalars(
        dialect.lock(session, select(Incident).where(Incident.id == incident_id)).execution_options(
            populate_existing=True
        )
    ).first()
    if incident is None:
        raise NotFound(f"no incident with id {incident_id}", "id")
    wake.announce(session)
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
    """Record that `incident` reached journey `stage` (the first time counts). Its current
    stage is the furthest one reached in the journey's order: a Jira issue made after the
    acknowledgement (the outbox is asynchronous) does not move it back to `ticketed`."""
    stages = dict(incident.stages or {})
    stages.setdefault(stage, now.isoformat())
    incident.stages = stages
    incident.stage = max(stages, key=lambda s: STAGES.index(s) if s in STAGES else -1)


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
    jira.queue_update(
        session,
        incident,
        stage="acknowledged",
        comment=f"Incident #{incident.number} acknowledged by {actor} at {now:%Y-%m-%d %H:%M} UTC.",
        now=now,
        channel=channel,
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
    # After a handover the fix is the developer's; before it, on-call's.
    developer = "handed_over" in (incident.stages or {})
    record_stage(incident, "resolved_by_developer" if developer else "resolved_on_call", now)
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
    jira.queue_update(
        session,
        incident,
        stage="resolved",
        comment=f"Incident #{incident.number} resolved by {actor} at {now:%Y-%m-%d %H:%M} UTC.",
        now=now,
        channel=channel,
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
    jira.queue_update(
        session,
        incident,
        stage="reopened",
        comment=f"Incident #{incident.number} reopened by {actor} at {now:%Y-%m-%d %H:%M} UTC.",
        now=now,
        channel=channel,
    )
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


def with_developer(incident: Incident) -> bool:
    """Handed over to a developer and not escalated since: out of the on-call queue."""
    return incident.stage == "handed_over" and incident.status == "acknowledged"


def handover(
    session: Session,
    *,
    incident_id: int,
    developer: str,
    actual: str,
    ideal: str,
    tried: str,
    actor: str,
    channel: str,
    now: datetime,
    runbook: str | None = None,
    links: Sequence[str] = (),
    base_url: str = "",
) -> Incident:
    """Hand the incident to a developer (any person, on call or not) with the handover
    template: actual vs ideal behaviour, what was tried, the runbook used, links. It leaves the
    on-call queue (acknowledged, assigned to the developer, stage `handed_over`) but stays
    open and visible; escalating it still reaches L1–L3. The developer is told through their
    notification rules (a notice; a page only when its priority pages at any hour) and the
    Jira issue gets the text and the `handed_over` transition.

    Raises:
        InvalidTransition: the incident is resolved.
        NotFound: no such developer.
        InvalidInput: actual, ideal or tried is empty.
    """
    incident = locked(session, incident_id)
    if incident.status == "resolved":
        raise InvalidTransition(
            f"incident #{incident.number} is resolved: reopen it to hand it over", "status"
        )
    person = session.get(Person, developer)
    if person is None:
        raise NotFound(f"no person with id {developer!r}", "developer")
    for name, value in (("actual", actual), ("ideal", ideal), ("tried", tried)):
        if not value.strip():
            raise InvalidInput(f"{name} must not be empty", name)
    bad = [link for link in links if not link.startswith(("https://", "http://"))]
    if bad:
        raise InvalidInput(f"links must be http(s) URLs: {bad[0][:80]}", "links")
    if incident.status == "triggered":
        acknowledge(
            session, incident_id=incident.id, actor=actor, channel=channel, now=now, audited=False
        )
    was = incident.assignee_id
    incident.assignee_id = person.id
    incident.handover = {
        "developer": person.id,
        "actual": actual,
        "ideal": ideal,
        "tried": tried,
        "runbook": runbook or None,
        "links": list(links),
        "by": actor,
        "at": now.isoformat(),
    }
    record_stage(incident, "handed_over", now)
    text = handover_text(session, incident, person, actor, base_url)
    timeline(
        session,
        incident,
        now=now,
        kind="handed_over",
        actor=actor,
        channel=channel,
        developer=person.id,
        runbook=runbook or None,
    )
    jira.queue_update(session, incident, stage="handed_over", comment=text, now=now)
    _say(session, incident, f":technologist: Handed over to developer {person.name}", actor, now)
    reached = _tell_developer(session, incident, person, text, now)
    if not reached:
        timeline(
            session,
            incident,
            now=now,
            kind="notify.unreachable",
            actor="engine",
            channel="notify",
            person=person.id,
        )
    changes = {"assignee": [was, person.id], "stage": ["", "handed_over"]}
    _audit(session, incident, "handover", changes, actor=actor, now=now)
    session.flush()
    return incident


def handover_text(
    session: Session, incident: Incident, developer: Person, actor: str, base_url: str
) -> str:
    """The `developer_handover` template (the policy's, else the default) for the incident's
    handover. A policy template that fails at run time falls back to the default: lint
    catches such templates, and a handover must not fail for its wording."""
    given = incident.handover or {}
    by = session.get(Person, actor)
    service = session.get(Service, incident.service_id)
    context = {
        "incident": {
            "number": incident.number,
            "title": incident.title,
            "priority": incident.priority,
            "service": service.name if service else incident.service_id,
            "url": f"{base_url.rstrip('/')}/incidents/{incident.id}",
            "jira_key": incident.jira_key or "",
            "jira_url": incident.jira_url or "",
        },
        "developer": developer.name,
        "handed_by": by.name if by is not None else actor,
        "actual": given.get("actual", ""),
        "ideal": given.get("ideal", ""),
        "tried": given.get("tried", ""),
        "runbook": given.get("runbook") or "",
        "links": given.get("links") or [],
    }
    from onduty.notify import templates  # Jinja2: not for the command line's short commands

    overrides = jira.section(session, "templates") or {}
    try:
        return templates.render("developer_handover", overrides, **context)
    except templates.TemplateProblem:
        return templates.render("developer_handover", {}, **context)


NOTICE_TYPES = ("email", "slack", "webhook")


def _tell_developer(
    session: Session, incident: Incident, person: Person, text: str, now: datetime
) -> bool:
    """Queue the handover to the developer: like a page, by all their rules with their delays,
    when the incident's priority pages at any hour; otherwise a notice by their first rule
    that is e-mail, Slack or a webhook (never a call or an SMS at night for a P3). Whether
    anything was queued."""
    pages = incident.priority not in Triage.of(session).working_hours_only
    rules = [(r.after_s, r.contact_method) for r in person.notification_rules]
    if not rules:
        rules = [(0, c) for c in person.contact_methods]
    if not pages:
        notice = [(0, c) for _after, c in rules if c.type in NOTICE_TYPES][:1]
        if not notice:
            notice = [(0, c) for c in person.contact_methods if c.type in NOTICE_TYPES][:1]
        rules = notice
    items = [
        outbox.OutboxItem(
            key=f"handover:{incident.id}:{person.id}:cm{method.id}:{now.isoformat()}",
            event="incident.handed_over",
            due_at=now + timedelta(seconds=after),
            person_id=person.id,
            contact_method_id=method.id,
            channel=method.type,
            priority=outbox.PAGE if pages else outbox.NOTICE,
            incident_id=incident.id,
            text=text,
        )
        for after, method in rules
    ]
    outbox.enqueue_many(session, items, now=now)
    return bool(items)


def list_incidents(
    session: Session,
    *,
    status: str | None = None,
    team: str | None = None,
    service: str | None = None,
    backlog: bool | None = None,
    stage: str | None = None,
    limit: int = 200,
) -> list[Incident]:
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if stage:
        query = query.where(Incident.stage == stage)
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
