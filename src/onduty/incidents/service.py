"""Incidents: ingest of alert signals (dedup by a unique index, grouping, auto-resolve), reports
by people, the lifecycle (acknowledge, resolve, reopen, escalate, update) with its timeline,
triage by the criticality rules and the priority policy's paging decision. Services take a
session and `now`, flush, and never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, literal, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onduty.db import dialect
from onduty.db.group_commit import BATCHED
from onduty.db.memo import remembered
from onduty.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from onduty.escalation import service as escalation_service
from onduty.incidents import priority as rules
from onduty.incidents.models import (
    Alert,
    Counter,
    CriticalityRule,
    Incident,
    PriorityPolicy,
    TimelineEvent,
)
from onduty.incidents.timeline import event, timeline, write_events
from onduty.intake.signal import Signal
from onduty.people.models import Organization, Person
from onduty.services.models import Integration, Service

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
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


@dataclass
class IngestResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    dedup_keys: list[str] = field(default_factory=list)


def _next_number(session: Session) -> int:
    # The counter row's lock serialises numbering; the first incident creates the row.
    result = session.connection().execute(_NEXT_NUMBER).scalar()
    if result is not None:
        return int(result)
    try:
        with session.begin_nested():
            session.add(Counter(name="incident", value=1))
        return 1
    except IntegrityError:
        return _next_number(session)


# The hot path of intake in Core statements, built once (their compiled forms are cached).
_INCIDENT, _ALERT, _COUNTER = (cast(Table, model.__table__) for model in (Incident, Alert, Counter))
_INSERT_INCIDENT = insert(_INCIDENT).returning(_INCIDENT.c.id)
_INSERT_ALERT = insert(_ALERT).returning(_ALERT.c.id)
_NEXT_NUMBER = (
    update(_COUNTER)
    .where(_COUNTER.c.name == "incident")
    .values(value=_COUNTER.c.value + 1)
    .returning(_COUNTER.c.value)
)
_OPEN_ALERT = select(_ALERT.c.id, _ALERT.c.incident_id).where(
    _ALERT.c.service_id == bindparam("service"), _ALERT.c.open_key == bindparam("key")
)
# The open alert with the key, and the open alerts of the same group (a new alert of a group
# that has an open incident joins it: Alertmanager), in one round trip. No service_id in the
# second WHERE: with it SQLite's planner picks the unique index on (service_id, open_key) and
# scans every open alert of the service.
_OPEN_OR_GROUP = union_all(
    _OPEN_ALERT.add_columns(_ALERT.c.service_id, literal(1).label("own")),
    select(_ALERT.c.id, _ALERT.c.incident_id, _ALERT.c.service_id, literal(0)).where(
        _ALERT.c.group_key == bindparam("group"), _ALERT.c.open_key.is_not(None)
    ),
)
_REPEAT = (
    update(_ALERT)
    .where(_ALERT.c.id == bindparam("alert"), _ALERT.c.open_key == bindparam("key"))
    .values(count=_ALERT.c.count + 1, last_seen=bindparam("now"))
)
_CLOSE_ALERT = (
    update(_ALERT)
    .where(_ALERT.c.id == bindparam("alert"), _ALERT.c.open_key == bindparam("key"))
    .values(
        status="resolved", open_key=None, resolved_at=bindparam("now"), last_seen=bindparam("now")
    )
)


# --- triage ---------------------------------------------------------------------------------


def _rule(row: CriticalityRule) -> rules.Rule:
    w = row.when or {}

    def fs(key: str) -> frozenset[str] | None:
        return frozenset(w[key]) if key in w and w[key] is not None else None

    return rules.Rule(
        priority=row.priority,
        service=fs("service"),
        severity=fs("severity"),
        labels=w.get("labels"),
        channel=fs("channel"),
        client_tier=fs("client_tier"),
        words=frozenset(x.lower() for x in w["words"]) if w.get("words") else None,
        min_affected_clients=w.get("min_affected_clients"),
    )


@dataclass(frozen=True)
class Triage:
    """The criticality rules, the priority policy and the working hours, read once per
    transaction (a group-committed batch of alerts shares them, see `db.group_commit`)."""

    criticality: list[rules.Rule]
    working_hours_only: frozenset[str]  # priorities paged only in working hours
    hours: tuple[str, frozenset[int], time, time] | None  # timezone, days, start, end

    @classmethod
    def of(cls, session: Session) -> Triage:
        return remembered(session, "incidents.triage", None, lambda: cls._load(session))

    @classmethod
    def _load(cls, session: Session) -> Triage:
        rows = session.scalars(select(CriticalityRule).order_by(CriticalityRule.position)).all()
        policies = session.scalars(select(PriorityPolicy)).all()
        org = session.scalars(select(Organization)).first()
        hours = None
        if org is not None:
            days = frozenset(WEEKDAYS.index(d) for d in org.working_days)
            start, end = time.fromisoformat(org.working_start), time.fromisoformat(org.working_end)
            hours = (org.timezone, days, start, end)
        return cls(
            criticality=[_rule(r) for r in rows],
            working_hours_only=frozenset(p.priority for p in policies if p.page != "always"),
            hours=hours,
        )

    def priority(self, facts: rules.Facts) -> tuple[str, int | None]:
        """Priority from the criticality rules, first match wins, and the index of the rule."""
        return rules.match(self.criticality, facts)

    def paging(self, priority: str, now: datetime) -> tuple[bool, datetime]:
        """(backlog, page_due_at): P3/P4 outside working hours wait for them (SPEC §1 rule 5).
        A priority with no policy pages at any hour."""
        if priority not in self.working_hours_only or self.hours is None:
            return False, now
        zone, days, start, end = self.hours
        if rules.in_working_hours(now, zone, days, start, end):
            return False, now
        return True, rules.next_working_start(now, zone, days, start, end)


def _new_incident(
    session: Session,
    events: list[dict[str, Any]],
    *,
    service: Service,
    title: str,
    facts: rules.Facts,
    source: str,
    now: datetime,
    description: str | None = None,
    report: dict[str, Any] | None = None,
    discipline: str | None = None,
) -> int:
    """Insert a triggered incident, triaged; its id. Its first timeline event is appended to
    `events` for the caller to write."""
    triage = Triage.of(session)
    priority, matched = triage.priority(facts)
    backlog, due = triage.paging(priority, now)
    incident_id = (
        session.connection()
        .execute(
            _INSERT_INCIDENT,
            {
                "number": _next_number(session),
                "title": title[:1024],
                "description": description,
                "status": "triggered",
                "service_id": service.id,
                "team_id": service.team_id,
                "discipline": discipline or service.discipline,
                "priority": priority,
                "rule_priority": priority,
                "matched_rule": matched,
                "source": source,
                "report": report,
                "stages": {"reported": now.isoformat()},
                "stage": "reported",
                "backlog": backlog,
                "page_due_at": due,
                "generation": 1,
                "created_at": now,
            },
        )
        .scalar_one()
    )
    events.append(
        event(
            incident_id,
            now,
            "triggered",
            source,
            source,
            priority=priority,
            rule=matched,
            backlog=backlog,
            page_due_at=due.isoformat(),
        )
    )
    return int(incident_id)


# --- ingest ---------------------------------------------------------------------------------


def ingest(
    session: Session, *, integration: Integration, signals: Sequence[Signal], now: datetime
) -> IngestResult:
    """Store one request's signals: dedup against open alerts, group, resolve, in the caller's
    transaction (the HTTP 202 is sent only after it commits)."""
    service = session.get(Service, integration.service_id)
    assert service is not None
    session.flush()  # the hot path below writes through the connection, past the ORM
    result = IngestResult()
    groups: dict[str, int] = {}
    events: list[dict[str, Any]] = []  # of new alerts, written together
    channel = f"integration:{integration.type}"
    for signal in signals:
        if signal.is_test or signal.dedup_key is None:
            continue
        result.dedup_keys.append(signal.dedup_key)
        if signal.action == "trigger":
            _trigger(session, service, integration, signal, groups, result, events, channel, now)
        else:
            write_events(session, events)  # keep the timeline in order
            _settle(session, service, integration, signal, result, channel, now)
    write_events(session, events)
    session.flush()
    return result


def _lookup(
    conn: Connection, service_id: str, key: str, group: str | None
) -> tuple[tuple[int, int] | None, int | None]:
    """(the open alert with this key as (id, incident id), the incident of an open alert of
    `group` on this service)."""
    if group is None:
        row = conn.execute(_OPEN_ALERT, {"service": service_id, "key": key}).first()
        return (None if row is None else (row[0], row[1])), None
    rows = conn.execute(_OPEN_OR_GROUP, {"service": service_id, "key": key, "group": group})
    existing, sibling = None, None
    for alert_id, incident_id, service, own in rows:
        if own:
            existing = (alert_id, incident_id)
        elif service == service_id and sibling is None:
            sibling = incident_id
    return existing, sibling


def _settle(
    session: Session,
    service: Service,
    integration: Integration,
    signal: Signal,
    result: IngestResult,
    channel: str,
    now: datetime,
) -> None:
    """An acknowledge or resolve signal for an open alert; one for nothing open is a no-op, as
    on PagerDuty."""
    assert signal.dedup_key is not None
    open_alert, _ = _lookup(session.connection(), service.id, signal.dedup_key, None)
    if open_alert is None:
        return
    alert_id, incident_id = open_alert
    # Lock the incident first (the lifecycle functions do too), and decide on fresh state: a
    # concurrent request may have acknowledged or resolved it since the alert was read.
    incident = _locked(session, incident_id)
    if signal.action == "acknowledge":
        if incident.status == "triggered":
            acknowledge(
                session, incident_id=incident.id, actor=integration.name, channel=channel, now=now
            )
        return
    closed = session.connection().execute(
        _CLOSE_ALERT, {"alert": alert_id, "key": signal.dedup_key, "now": now}
    )
    if not closed.rowcount:
        return  # resolved by a concurrent request
    timeline(
        session,
        incident,
        now=now,
        kind="alert.resolved",
        actor=integration.name,
        channel=channel,
        alert=alert_id,
        dedup_key=signal.dedup_key,
    )
    still_open = session.scalars(
        select(Alert.id).where(Alert.incident_id == incident.id, Alert.open_key.is_not(None))
    ).first()
    if still_open is None and integration.auto_resolve and incident.status != "resolved":
        resolve(session, incident_id=incident.id, actor=integration.name, channel=channel, now=now)
        result.resolved.append(incident.id)


def _race_guard(session: Session) -> AbstractContextManager[Any]:
    """A SAVEPOINT where another transaction can open the same alert between our read and our
    insert. Not needed on SQLite, where every transaction holds the one write lock from BEGIN
    IMMEDIATE (db/session.py), nor in a group-committed batch, whose jobs are rerun one by one
    (with savepoints) if the batch fails: there the rare race costs a rerun instead of two
    statements on every alert."""
    if session.get_bind().dialect.name == "sqlite" or session.info.get(BATCHED):
        return nullcontext()
    return session.begin_nested()


def _trigger(
    session: Session,
    service: Service,
    integration: Integration,
    signal: Signal,
    groups: dict[str, int],
    result: IngestResult,
    events: list[dict[str, Any]],
    channel: str,
    now: datetime,
) -> None:
    key = signal.dedup_key
    assert key is not None
    conn = session.connection()
    # Two passes at most: a repeat can lose a race with a resolve (then it opens a new alert),
    # and an insert can lose one with another request's insert (then it is a repeat).
    for _attempt in range(3):
        group = signal.group_key if signal.group_key not in groups else None
        existing, incident_id = _lookup(conn, service.id, key, group)
        if existing is not None:
            if conn.execute(_REPEAT, {"alert": existing[0], "key": key, "now": now}).rowcount:
                result.updated.append(existing[1])
                return
            continue
        if signal.group_key in groups:
            incident_id = groups[signal.group_key]
        created, written = incident_id is None, len(events)
        try:
            # The incident is made inside the SAVEPOINT too: if the unique index on
            # (service_id, open_key) says another transaction opened this alert first, the
            # incident (and its number) go with the rollback and the signal attaches to theirs.
            with _race_guard(session):
                if incident_id is None:
                    incident_id = _new_incident(
                        session,
                        events,
                        service=service,
                        title=signal.summary,
                        facts=rules.Facts(
                            service=service.id,
                            severity=signal.severity,
                            labels=dict(signal.labels),
                            channel=integration.type,
                            summary=signal.summary,
                        ),
                        source=integration.type,
                        now=now,
                    )
                alert_id = conn.execute(
                    _INSERT_ALERT,
                    {
                        "incident_id": incident_id,
                        "service_id": service.id,
                        "integration_id": integration.id,
                        "dedup_key": key,
                        "open_key": key,
                        "group_key": signal.group_key,
                        "status": "firing",
                        "summary": signal.summary[:1024],
                        "severity": signal.severity,
                        "labels": dict(signal.labels),
                        "details": dict(signal.details),
                        "count": 1,
                        "first_seen": now,
                        "last_seen": now,
                    },
                ).scalar_one()
        except IntegrityError:
            del events[written:]  # of the incident that was rolled back
            continue
        if signal.group_key:
            groups[signal.group_key] = incident_id
        events.append(
            event(
                incident_id,
                now,
                "alert.added",
                integration.name,
                channel,
                alert=alert_id,
                summary=signal.summary,
            )
        )
        (result.created if created else result.updated).append(incident_id)
        return
    raise Conflict(f"alert {key!r} changed too often while being stored", "dedup_key")


# --- lifecycle --------------------------------------------------------------------------------


def _locked(session: Session, incident_id: int) -> Incident:
    # populate_existing: the row just locked may be newer than this session's copy.
    incident = session.scalars(
        dialect.lock(session, select(Incident).where(Incident.id == incident_id)).execution_options(
            populate_existing=True
        )
    ).first()
    if incident is None:
        raise NotFound(f"no incident with id {incident_id}", "id")
    return incident


def _stage(incident: Incident, stage: str, now: datetime) -> None:
    stages = dict(incident.stages or {})
    stages.setdefault(stage, now.isoformat())
    incident.stages = stages
    incident.stage = stage


def acknowledge(
    session: Session, *, incident_id: int, actor: str, channel: str, now: datetime
) -> Incident:
    """Take charge: stops escalation and cancels unsent pages in this transaction.

    Raises:
        InvalidTransition: already acknowledged (says by whom) or resolved.
    """
    incident = _locked(session, incident_id)
    if incident.status == "acknowledged":
        raise InvalidTransition(
            f"incident #{incident.number} was already acknowledged by {incident.acknowledged_by}",
            "status",
        )
    if incident.status == "resolved":
        raise InvalidTransition(f"incident #{incident.number} is resolved", "status")
    incident.status, incident.acknowledged_at, incident.acknowledged_by = "acknowledged", now, actor
    incident.generation += 1
    _stage(incident, "acknowledged", now)
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
    session.flush()
    return incident


def resolve(
    session: Session, *, incident_id: int, actor: str, channel: str, now: datetime
) -> Incident:
    incident = _locked(session, incident_id)
    if incident.status == "resolved":
        raise InvalidTransition(f"incident #{incident.number} is already resolved", "status")
    incident.status, incident.resolved_at, incident.resolved_by = "resolved", now, actor
    incident.generation += 1
    _stage(incident, "resolved_on_call", now)
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
    session.flush()
    return incident


def reopen(
    session: Session, *, incident_id: int, actor: str, channel: str, now: datetime
) -> Incident:
    """A resolved incident fires again: escalation restarts from its first step."""
    incident = _locked(session, incident_id)
    if incident.status != "resolved":
        raise InvalidTransition(
            f"incident #{incident.number} is {incident.status}, not resolved", "status"
        )
    incident.status, incident.resolved_at, incident.resolved_by = "triggered", None, None
    incident.acknowledged_at = incident.acknowledged_by = None
    incident.generation += 1
    incident.page_due_at = now
    incident.backlog = False
    timeline(session, incident, now=now, kind="reopened", actor=actor, channel=channel)
    session.flush()
    return incident


def escalate(
    session: Session, *, incident_id: int, actor: str, channel: str, now: datetime
) -> Incident:
    """Run the next escalation step now; an acknowledged incident becomes unacknowledged."""
    incident = _locked(session, incident_id)
    if incident.status == "resolved":
        raise InvalidTransition(
            f"incident #{incident.number} is resolved: reopen it first", "status"
        )
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
    session.flush()
    return incident


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
    incident = _locked(session, incident_id)
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
    session.flush()
    return incident


REPORT_FIELDS = ("steps", "actual", "expected", "environment", "reporter", "client", "links")


def report(
    session: Session,
    *,
    service_id: str,
    title: str,
    channel: str,
    actor: str,
    now: datetime,
    fields: dict[str, Any],
    severity: str | None = None,
    client_tier: str | None = None,
    discipline: str | None = None,
) -> Incident:
    """A bug report by a person (team member, QA, client, support tool) with the bug template."""
    service = session.get(Service, service_id)
    if service is None:
        raise NotFound(f"no service with id {service_id!r}", "service")
    facts = rules.Facts(
        service=service.id,
        severity=severity,
        channel=channel,
        client_tier=client_tier,
        summary=title,
    )
    events: list[dict[str, Any]] = []
    incident_id = _new_incident(
        session,
        events,
        service=service,
        title=title,
        facts=facts,
        source=channel,
        now=now,
        description=fields.get("actual"),
        report={k: fields.get(k) for k in REPORT_FIELDS},
        discipline=discipline,
    )
    events.append(event(incident_id, now, "reported", actor, channel))
    write_events(session, events)
    return get_incident(session, incident_id=incident_id)


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
