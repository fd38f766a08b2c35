"""Triage and creation of new incidents: the criticality rules and the priority policy's paging
decision (read once per transaction), and numbering and inserting incidents in one statement
each, for alerts and reports alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.db import wake
from onduty.db.config_version import configured
from onduty.incidents import jira
from onduty.incidents import priority as rules
from onduty.incidents.models import (
    Counter,
    CriticalityRule,
    Incident,
    PriorityPolicy,
)
from onduty.incidents.timeline import event
from onduty.people.models import Organization
from onduty.services.models import Service
from onduty.slack import threads as slack_threads


def _take_numbers(session: Session, count: int) -> list[int]:
    """Reserve `count` incident numbers, ascending.

    PostgreSQL: from the `incident_number` sequence (migration 0003), so API processes writing
    at once never wait for each other; a rolled-back transaction leaves a gap, as PagerDuty's
    numbers may. SQLite has one writer: the counter row, whose numbers go with a rollback; the
    first incident ever creates the row."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return [int(n) for n in conn.execute(_NEXT_FROM_SEQUENCE, {"count": count}).scalars()]
    last = conn.execute(_NEXT_NUMBERS, {"count": count}).scalar()
    if last is None:
        try:
            with session.begin_nested():
                session.add(Counter(name="incident", value=count))
            last = count
        except IntegrityError:
            return _take_numbers(session, count)
    return list(range(int(last) - count + 1, int(last) + 1))


# The statements of the hot path, built once (their compiled forms are cached).
_INCIDENT, _COUNTER = (cast(Table, model.__table__) for model in (Incident, Counter))
_INSERT_INCIDENTS = insert(_INCIDENT).returning(_INCIDENT.c.id, sort_by_parameter_order=True)
_NEXT_NUMBERS = (
    update(_COUNTER)
    .where(_COUNTER.c.name == "incident")
    .values(value=_COUNTER.c.value + bindparam("count"))
    .returning(_COUNTER.c.value)
)
_NEXT_FROM_SEQUENCE = text(
    "SELECT nextval('incident_number') FROM generate_series(1, :count) ORDER BY 1"
)


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
        return configured(session, "incidents.triage", None, lambda: cls._load(session))

    @classmethod
    def _load(cls, session: Session) -> Triage:
        rows = session.scalars(select(CriticalityRule).order_by(CriticalityRule.position)).all()
        policies = session.scalars(select(PriorityPolicy)).all()
        org = session.scalars(select(Organization)).first()
        hours = None
        if org is not None:
            days = frozenset(localtime.WEEKDAYS[d] for d in org.working_days)
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


def incident_row(
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
    reference: str | None = None,
) -> dict[str, Any]:
    """A triggered incident, triaged, ready for `insert_incidents`; its Jira issue is asked
    for when the policy's `jira` wants one for its team and priority."""
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
        "reference": reference,
        "jira_state": "queued" if jira.wanted(session, service.team_id, priority) else None,
    }


def insert_incidents(
    session: Session, rows: list[dict[str, Any]], events: list[dict[str, Any]]
) -> list[int]:
    """Number and insert incidents, in one statement; their ids, in order. Their first timeline
    events are appended to `events` for the caller to write; their Jira issues are queued."""
    for number, row in zip(_take_numbers(session, len(rows)), rows, strict=True):
        row["number"] = number
    ids = [int(i) for i in session.connection().execute(_INSERT_INCIDENTS, rows).scalars()]
    wake.announce(session)  # every engine starts paging at commit, not at its next tick
    if rows and slack_threads.channels(session):  # else one memoised query, nothing more
        slack_threads.announce(
            session,
            [{**row, "id": i} for i, row in zip(ids, rows, strict=True)],
            now=rows[0]["created_at"],
        )
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
    if rows:
        jira.queue_creates(session, list(zip(ids, rows, strict=True)), rows[0]["created_at"])
    return ids
