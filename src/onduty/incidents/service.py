"""Incidents: ingest of alert signals (dedup by a unique index, grouping, auto-resolve), reports
by people, the lifecycle (acknowledge, resolve, reopen, escalate, update) with its timeline,
triage by the criticality rules and the priority policy's paging decision. Services take a
session and `now`, flush, and never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, null, select, union_all, update
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


def _take_numbers(session: Session, count: int) -> int:
    """Reserve `count` incident numbers; the first. The counter row's lock serialises numbering
    (held to the commit); the first incident ever creates the row."""
    last = session.connection().execute(_NEXT_NUMBERS, {"count": count}).scalar()
    if last is not None:
        return int(last) - count + 1
    try:
        with session.begin_nested():
            session.add(Counter(name="incident", value=count))
        return 1
    except IntegrityError:
        return _take_numbers(session, count)


# The hot path of intake in Core statements, built once (their compiled forms are cached).
_INCIDENT, _ALERT, _COUNTER = (cast(Table, model.__table__) for model in (Incident, Alert, Counter))
_INSERT_INCIDENTS = insert(_INCIDENT).returning(_INCIDENT.c.id, sort_by_parameter_order=True)
_INSERT_ALERTS = insert(_ALERT).returning(_ALERT.c.id, sort_by_parameter_order=True)
_NEXT_NUMBERS = (
    update(_COUNTER)
    .where(_COUNTER.c.name == "incident")
    .values(value=_COUNTER.c.value + bindparam("count"))
    .returning(_COUNTER.c.value)
)
# Columns: id, incident_id, service_id, open_key, group_key.
_OPEN_ALERTS = select(
    _ALERT.c.id, _ALERT.c.incident_id, _ALERT.c.service_id, _ALERT.c.open_key, null()
).where(
    _ALERT.c.service_id == bindparam("service"),
    _ALERT.c.open_key.in_(bindparam("keys", expanding=True)),
)
# The open alerts with the keys, and the open alerts of the groups (a new alert of a group that
# has an open incident joins it: Alertmanager), in one round trip. No service_id in the second
# WHERE: with it SQLite's planner preferred the unique index over the group index and scanned
# every open alert of the service; the caller keeps the rows of its service.
_OPEN_OR_GROUP = union_all(
    _OPEN_ALERTS,
    select(
        _ALERT.c.id, _ALERT.c.incident_id, _ALERT.c.service_id, null(), _ALERT.c.group_key
    ).where(
        _ALERT.c.group_key.in_(bindparam("groups", expanding=True)),
        _ALERT.c.open_key.is_not(None),
    ),
)
_REPEAT = (
    update(_ALERT)
    .where(_ALERT.c.id.in_(bindparam("ids", expanding=True)), _ALERT.c.open_key.is_not(None))
    .values(count=_ALERT.c.count + bindparam("step"), last_seen=bindparam("now"))
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


def _incident_row(
    session: Session,
    *,
    service: Service,
    title: str,
    facts: rules.Facts,
    source: str,
    now: datetime,
    description: str | None = None,
    report: dict[str, Any] | None = None,
    discipline: str | None = None,
) -> dict[str, Any]:
    """A triggered incident, triaged, ready for `_insert_incidents`."""
    triage = Triage.of(session)
    priority, matched = triage.priority(facts)
    backlog, due = triage.paging(priority, now)
    return {
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
    }


def _insert_incidents(
    session: Session, rows: list[dict[str, Any]], events: list[dict[str, Any]]
) -> list[int]:
    """Number and insert incidents, in one statement; their ids, in order. Their first timeline
    events are appended to `events` for the caller to write."""
    first = _take_numbers(session, len(rows))
    for number, row in enumerate(rows, start=first):
        row["number"] = number
    ids = [int(i) for i in session.connection().execute(_INSERT_INCIDENTS, rows).scalars()]
    for incident_id, row in zip(ids, rows, strict=True):
        events.append(
            event(
                incident_id,
                row["created_at"],
                "triggered",
                row["source"],
                row["source"],
                priority=row["priority"],
                rule=row["matched_rule"],
                backlog=row["backlog"],
                page_due_at=row["page_due_at"].isoformat(),
            )
        )
    return ids


# --- ingest ---------------------------------------------------------------------------------


def ingest(
    session: Session, *, integration: Integration, signals: Sequence[Signal], now: datetime
) -> IngestResult:
    """Store one request's signals (see `ingest_many`)."""
    return ingest_many(session, [(integration, signals)], now=now)[0]


def ingest_many(
    session: Session,
    requests: Sequence[tuple[Integration, Sequence[Signal]]],
    *,
    now: datetime,
) -> list[IngestResult]:
    """Store several requests' signals as if one after another, in the caller's transaction
    (the HTTP 202 is sent only after it commits): dedup against open alerts, group, resolve.

    Runs of triggers, across requests, are stored together in a few statements whatever their
    length (group commit hands over a batch of requests, see `db.group_commit`); acknowledge
    and resolve signals are applied one by one, in order."""
    session.flush()  # the hot path below writes through the connection, past the ORM
    results = [IngestResult() for _ in requests]
    run: list[_Trigger] = []
    for n, (integration, signals) in enumerate(requests):
        service = _service(session, integration.service_id)
        for signal in signals:
            if signal.is_test or signal.dedup_key is None:
                continue
            results[n].dedup_keys.append(signal.dedup_key)
            if signal.action == "trigger":
                run.append(_Trigger(n, integration, service, signal))
                continue
            _triggers(session, run, results, now)
            _settle(session, service, integration, signal, results[n], now)
    _triggers(session, run, results, now)
    return results


def _service(session: Session, service_id: str) -> Service:
    service = remembered(
        session, "incidents.services", service_id, lambda: session.get(Service, service_id)
    )
    assert service is not None  # integration.service_id is a foreign key
    return service


@dataclass(frozen=True)
class _Trigger:
    request: int  # its index in `ingest_many`'s requests
    integration: Integration
    service: Service
    signal: Signal


@dataclass(eq=False)
class _Ref:
    """An incident's id, known once its row is inserted (a run inserts its incidents last)."""

    id: int = 0


class _Raced(Exception):
    """An open alert this run counted on was resolved by another transaction meanwhile."""


def _savepoints(session: Session) -> bool:
    """Whether another transaction can open or resolve the same alert between our read and
    our write, so a run of triggers needs a SAVEPOINT to retry in. Not on SQLite, where every
    transaction holds the one write lock from BEGIN IMMEDIATE (db/session.py), nor in a
    group-committed batch, whose requests are rerun one by one (with savepoints) if it fails:
    there the rare race costs a rerun instead of two statements per run."""
    return session.get_bind().dialect.name != "sqlite" and not session.info.get(BATCHED)


def _triggers(
    session: Session, run: list[_Trigger], results: list[IngestResult], now: datetime
) -> None:
    """Store a run of trigger signals (then emptied), retrying it when it loses a race: a repeat
    whose alert was resolved meanwhile opens a new one, and an alert another transaction opened
    first (the unique index on (open_key, service_id) says so) becomes a repeat of it. The
    incidents made by a lost attempt, and their numbers, go with its rollback."""
    if not run:
        return
    retry = _savepoints(session)
    for _attempt in range(3):
        try:
            with session.begin_nested() if retry else nullcontext():
                outcomes = _store_run(session, run, now)
        except (IntegrityError, _Raced):
            if not retry:
                raise  # the batch is rerun request by request, with savepoints
            continue
        for n, created, incident in outcomes:
            (results[n].created if created else results[n].updated).append(incident.id)
        run.clear()
        return
    raise Conflict("alerts changed too often while being stored; retry", "dedup_key")


def _store_run(
    session: Session, run: list[_Trigger], now: datetime
) -> list[tuple[int, bool, _Ref]]:
    """One attempt at a run of triggers: one read of the open alerts with its keys or groups
    per service, then the repeats counted, the new incidents and the new alerts inserted, each
    in one statement. (request, whether it created the incident, the incident) per signal."""
    conn = session.connection()
    open_alerts: dict[tuple[str, str], tuple[int, int]] = {}  # (service, key) -> alert, incident
    groups: dict[tuple[str, str], _Ref] = {}  # (service, group) -> incident with its open alerts
    wanted: dict[str, tuple[dict[str, None], dict[str, None]]] = {}  # service -> keys, groups
    for t in run:
        keys, group_keys = wanted.setdefault(t.service.id, ({}, {}))
        keys[cast(str, t.signal.dedup_key)] = None
        if t.signal.group_key:
            group_keys[t.signal.group_key] = None
    for service_id, (keys, group_keys) in wanted.items():
        params = {"service": service_id, "keys": list(keys), "groups": list(group_keys)}
        rows = conn.execute(_OPEN_OR_GROUP if group_keys else _OPEN_ALERTS, params)
        for alert_id, incident_id, row_service, key, group in rows:
            if key is not None:
                open_alerts[(service_id, key)] = (alert_id, incident_id)
            elif row_service == service_id:
                groups.setdefault((service_id, group), _Ref(incident_id))
    outcomes: list[tuple[int, bool, _Ref]] = []
    repeats: dict[int, int] = {}  # alert -> times seen again
    new_alerts: dict[tuple[str, str], tuple[dict[str, Any], _Ref, Integration]] = {}
    new_incidents: list[tuple[dict[str, Any], _Ref]] = []
    for t in run:
        signal = t.signal
        key = (t.service.id, cast(str, signal.dedup_key))
        if key in new_alerts:  # seen twice in this run: a repeat of the alert it opens
            row, incident, _ = new_alerts[key]
            row["count"] += 1
            outcomes.append((t.request, False, incident))
            continue
        if key in open_alerts:
            alert_id, incident_id = open_alerts[key]
            repeats[alert_id] = repeats.get(alert_id, 0) + 1
            outcomes.append((t.request, False, _Ref(incident_id)))
            continue
        group = (t.service.id, signal.group_key) if signal.group_key else None
        joined = groups.get(group) if group else None
        incident = joined or _Ref()
        outcomes.append((t.request, joined is None, incident))
        if joined is None:
            facts = rules.Facts(
                service=t.service.id,
                severity=signal.severity,
                labels=dict(signal.labels),
                channel=t.integration.type,
                summary=signal.summary,
            )
            row = _incident_row(
                session,
                service=t.service,
                title=signal.summary,
                facts=facts,
                source=t.integration.type,
                now=now,
            )
            new_incidents.append((row, incident))
            if group:
                groups[group] = incident
        new_alerts[key] = (_alert_row(t, now), incident, t.integration)
    _count_repeats(conn, repeats, now)
    events: list[dict[str, Any]] = []
    if new_incidents:
        ids = _insert_incidents(session, [row for row, _ in new_incidents], events)
        for (_, incident), incident_id in zip(new_incidents, ids, strict=True):
            incident.id = incident_id
    if new_alerts:
        for row, incident, _ in new_alerts.values():
            row["incident_id"] = incident.id
        alert_rows = [row for row, _, _ in new_alerts.values()]
        alert_ids = conn.execute(_INSERT_ALERTS, alert_rows).scalars().all()
        events += [
            event(
                row["incident_id"],
                now,
                "alert.added",
                integration.name,
                f"integration:{integration.type}",
                alert=alert_id,
                summary=row["summary"],
            )
            for (row, _, integration), alert_id in zip(new_alerts.values(), alert_ids, strict=True)
        ]
    write_events(session, events)
    return outcomes


def _alert_row(trigger: _Trigger, now: datetime) -> dict[str, Any]:
    signal = trigger.signal
    return {
        "service_id": trigger.service.id,
        "integration_id": trigger.integration.id,
        "dedup_key": signal.dedup_key,
        "open_key": signal.dedup_key,
        "group_key": signal.group_key,
        "status": "firing",
        "summary": signal.summary[:1024],
        "severity": signal.severity,
        "labels": dict(signal.labels),
        "details": dict(signal.details),
        "count": 1,
        "first_seen": now,
        "last_seen": now,
    }


def _count_repeats(conn: Connection, repeats: dict[int, int], now: datetime) -> None:
    """Count the repeats, one statement per distinct increment (almost always just 1). An alert
    resolved since it was read is not counted, and the run is retried (`_Raced`)."""
    by_step: dict[int, list[int]] = {}
    for alert_id, step in repeats.items():
        by_step.setdefault(step, []).append(alert_id)
    for step, ids in by_step.items():
        counted = conn.execute(_REPEAT, {"ids": ids, "step": step, "now": now}).rowcount
        if counted != len(ids):
            raise _Raced


def _settle(
    session: Session,
    service: Service,
    integration: Integration,
    signal: Signal,
    result: IngestResult,
    now: datetime,
) -> None:
    """An acknowledge or resolve signal for an open alert; one for nothing open is a no-op, as
    on PagerDuty."""
    assert signal.dedup_key is not None
    channel = f"integration:{integration.type}"
    open_alert = (
        session.connection()
        .execute(_OPEN_ALERTS, {"service": service.id, "keys": [signal.dedup_key]})
        .first()
    )
    if open_alert is None:
        return
    alert_id, incident_id = open_alert[0], open_alert[1]
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
    row = _incident_row(
        session,
        service=service,
        title=title,
        facts=facts,
        source=channel,
        now=now,
        description=fields.get("actual"),
        report={k: fields.get(k) for k in REPORT_FIELDS},
        discipline=discipline,
    )
    [incident_id] = _insert_incidents(session, [row], events)
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
