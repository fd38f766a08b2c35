"""Incidents come in: alert signals (dedup by a unique index, grouping, auto-resolve), stored
set-based and recorded on the timeline, and bug reports by people, also audited. Services take
a session and `now`, flush, and never commit: the caller owns the transaction."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, null, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onduty.audit import service as audit
from onduty.db.group_commit import BATCHED
from onduty.db.memo import remembered
from onduty.errors import Conflict, NotFound
from onduty.incidents import priority as rules
from onduty.incidents.models import (
    Alert,
    Incident,
    ReportAttachment,
)
from onduty.incidents.service import acknowledge, get_incident, locked, resolve
from onduty.incidents.timeline import event, timeline, write_events
from onduty.incidents.triage import incident_row, insert_incidents
from onduty.intake.signal import Signal
from onduty.services.models import Integration, Service


@dataclass
class IngestResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    dedup_keys: list[str] = field(default_factory=list)


# The hot path of intake in Core statements, built once (their compiled forms are cached).
_ALERT = cast(Table, Alert.__table__)
_INSERT_ALERTS = insert(_ALERT).returning(_ALERT.c.id, sort_by_parameter_order=True)
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
            row = incident_row(
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
        ids = insert_incidents(session, [row for row, _ in new_incidents], events)
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
    incident = locked(session, incident_id)
    if signal.action == "acknowledge":
        if incident.status == "triggered":
            acknowledge(
                session,
                incident_id=incident.id,
                actor=integration.name,
                channel=channel,
                now=now,
                audited=False,
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
        resolve(
            session,
            incident_id=incident.id,
            actor=integration.name,
            channel=channel,
            now=now,
            audited=False,
        )
        result.resolved.append(incident.id)


REPORT_FIELDS = ("steps", "actual", "expected", "environment", "reporter", "client", "links")
# Receipt references: no 0/O or 1/I/L, so a reference read over the phone stays right.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference() -> str:
    """A reference a reporter can quote, e.g. `R-7KX2-9QF4` (40 random bits)."""
    chars = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"R-{chars[:4]}-{chars[4:]}"


@dataclass(frozen=True)
class Attachment:
    """A screenshot uploaded with a report, its type already checked by its bytes."""

    filename: str
    content_type: str
    data: bytes


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
    attachments: Sequence[Attachment] = (),
    ticketed: bool = True,
) -> Incident:
    """A bug report by a person (team member, QA, client, anonymous) or a support tool, with
    the bug template: triaged by the criticality rules like an alert (its channel, client tier
    and title are facts they match), paged like one, given a reference its reporter can
    quote, and a Jira issue when the policy wants one (`ticketed=False`: it came from Jira)."""
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
    row = incident_row(
        session,
        service=service,
        title=title,
        facts=facts,
        source=channel,
        now=now,
        description=fields.get("actual"),
        report={k: fields.get(k) for k in REPORT_FIELDS},
        discipline=discipline,
        reference=new_reference(),
    )
    if not ticketed:
        row["jira_state"] = None
    [incident_id] = insert_incidents(session, [row], events)
    events.append(event(incident_id, now, "reported", actor, channel, reference=row["reference"]))
    write_events(session, events)
    for a in attachments:
        session.add(
            ReportAttachment(
                incident_id=incident_id,
                filename=a.filename[:200],
                content_type=a.content_type,
                size=len(a.data),
                data=a.data,
                created_at=now,
            )
        )
    # `channel` is where the report came from (team, qa, client, ...), not how it reached us.
    audit.record(
        session,
        actor=actor,
        action="incident.report",
        object_type="incident",
        object_id=str(incident_id),
        at=now,
        after={
            "service": service.id,
            "title": title,
            "priority": row["priority"],
            "source": channel,
        },
    )
    session.flush()
    return get_incident(session, incident_id=incident_id)
