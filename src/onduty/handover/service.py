"""The weekly handover: at each of a team's handoffs (the rota arithmetic's instants, exact
across DST) a report is generated once (unique per team and instant), open incidents pass to
the incoming person of their discipline, and the outgoing, incoming and L1 people are told
(NOTICE); the incoming acknowledge it; unacknowledged after 2 h they are reminded, after 4 h
L1 is told. The meeting record (attendees, notes, outcomes) and agenda items go with it.

The report is a list of sections, one function each (`SECTIONS`): a feature that has more to
hand over adds its function there. Services take a session and `now`; the caller commits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.audit import service as audit
from onduty.checks.models import Check, CheckRun
from onduty.db import dialect
from onduty.errors import Conflict, Forbidden, InvalidInput, NotFound
from onduty.handover.models import AgendaItem, Handover, HandoverMeeting
from onduty.incidents import service as incidents_service
from onduty.incidents.models import Incident
from onduty.notify.notices import notice
from onduty.people.models import SupportLevel
from onduty.postmortems import service as postmortems_service
from onduty.reports import service as reports_service
from onduty.runbooks.models import RunbookTask
from onduty.schedules import service as schedules_service
from onduty.slack import threads as slack_threads
from onduty.statuspage import service as statuspage_service

REMIND_AFTER = timedelta(hours=2)
TELL_L1_AFTER = timedelta(hours=4)
# A handoff this recent with no report yet gets one (once), also after an engine restart;
# longer outages skip that week's report, as shift notices skip theirs after 5 minutes.
LOOKBACK = timedelta(minutes=30)
ACTOR = "handover"


@dataclass
class Context:
    """What every section sees: the team, the week [start, at), who hands over to whom."""

    session: Session
    team_id: str
    start: datetime
    at: datetime
    now: datetime
    outgoing: dict[str, str | None]  # slot -> person
    incoming: dict[str, str | None]
    notes: list[str] = field(default_factory=list)


# --- sections ---------------------------------------------------------------------------------


def _slots(ctx: Context) -> list[dict[str, Any]]:
    return [
        {"slot": slot, "outgoing": ctx.outgoing.get(slot), "incoming": person}
        for slot, person in ctx.incoming.items()
    ]


def _why(incident: Incident) -> str:
    """Why an incident is still open, in the words of its state and journey."""
    if incident.stage == "handed_over":
        return "handed over to a developer; waiting for the fix"
    if incident.status == "triggered" and incident.backlog:
        return f"{incident.priority} in the backlog, waiting for working hours"
    if incident.status == "triggered":
        return "not acknowledged"
    return f"acknowledged by {incident.acknowledged_by}, not resolved yet (stage {incident.stage})"


def _open_incidents(ctx: Context) -> list[dict[str, Any]]:
    """Open incidents, each passed to the incoming person of its discipline (the slot of that
    name). One assigned to an outgoing person is reassigned (timeline and audit as `handover`);
    an unassigned one already belongs to whoever is on call, so only the report names the
    incoming person; one assigned to anyone else (a developer, a lead) stays theirs."""
    out = []
    rows = ctx.session.scalars(
        select(Incident)
        .where(Incident.team_id == ctx.team_id, Incident.status != "resolved")
        .order_by(Incident.priority, Incident.created_at)
    )
    for incident in rows:
        before = incident.assignee_id
        to = ctx.incoming.get(incident.discipline or "")
        outgoing = set(ctx.outgoing.values()) - set(ctx.incoming.values())
        if not to or (before is not None and before not in outgoing):
            to = before
        elif before is not None and to != before:
            incidents_service.update_incident(
                ctx.session,
                incident_id=incident.id,
                actor=ACTOR,
                channel="handover",
                now=ctx.now,
                assignee=to,
            )
        out.append(
            {
                "id": incident.id,
                "number": incident.number,
                "title": incident.title,
                "priority": incident.priority,
                "status": incident.status,
                "stage": incident.stage,
                "discipline": incident.discipline,
                "created_at": incident.created_at.isoformat(),
                "assigned_from": before,
                "assigned_to": to or before,
            }
        )
    return out


def _unresolved(ctx: Context) -> list[dict[str, Any]]:
    """What the week left unresolved, and why."""
    rows = ctx.session.scalars(
        select(Incident)
        .where(Incident.team_id == ctx.team_id, Incident.status != "resolved")
        .order_by(Incident.created_at)
    )
    return [
        {
            "number": i.number,
            "title": i.title,
            "priority": i.priority,
            "open_for_s": int((ctx.at - i.created_at).total_seconds()),
            "why": _why(i),
        }
        for i in rows
    ]


def _metrics(ctx: Context) -> dict[str, Any]:
    """The week's figures (the on-call report for the team over the week)."""
    doc = reports_service.oncall_report(
        ctx.session, team=ctx.team_id, since=ctx.start, until=ctx.at
    )
    return {
        "totals": doc["totals"],
        "by_person": doc["by_person"],
        "escalations": doc["escalations"],
        "noisy_keys": doc["noisy_keys"],
    }


def _missed_checks(ctx: Context) -> list[dict[str, Any]]:
    """Daily checks missed or failing during the week."""
    rows = ctx.session.execute(
        select(CheckRun.check_id, CheckRun.kind, CheckRun.at, CheckRun.day)
        .join(Check, Check.id == CheckRun.check_id)
        .where(
            CheckRun.at >= ctx.start,
            CheckRun.at < ctx.at,
            CheckRun.kind.in_(("missed", "late", "failed")),
        )
        .order_by(CheckRun.at)
    )
    return [
        {"check": c, "kind": k, "at": at.isoformat(), "day": d.isoformat() if d else None}
        for c, k, at, d in rows
    ][:50]


def _agenda(ctx: Context) -> list[dict[str, Any]]:
    """Agenda items added since the last handover (attached to this one when it is made)."""
    return []  # filled in by `generate` once the handover row exists (items point at it)


def _status_incidents(ctx: Context) -> list[dict[str, Any]]:
    """Open status-page incidents of the team: their ownership passes from an outgoing person
    to the incoming one of the same slot (who must post the hourly updates from now on)."""
    handed = {gone: ctx.incoming.get(slot) for slot, gone in ctx.outgoing.items() if gone}
    out = []
    for row in statuspage_service.list_status_incidents(ctx.session, unresolved=True, limit=500):
        incident = ctx.session.get(Incident, row.incident_id) if row.incident_id else None
        team = incident.team_id if incident else statuspage_service.team_of(ctx.session, row)
        if team != ctx.team_id:
            continue
        before = row.owner_id
        successor = handed.get(before) if before else None
        if successor:
            row.owner_id = successor
        out.append(
            {
                "id": row.id,
                "name": row.name,
                "status": row.status,
                "incident": incident.number if incident else None,
                "owner_from": before,
                "owner_to": row.owner_id,
                "last_update_at": row.last_update_at.isoformat(),
            }
        )
    return out


def _with_developers(ctx: Context) -> list[dict[str, Any]]:
    """Bugs handed over to developers and still open: who has them, since when."""
    rows = ctx.session.scalars(
        select(Incident)
        .where(
            Incident.team_id == ctx.team_id,
            Incident.status != "resolved",
            Incident.stage == "handed_over",
        )
        .order_by(Incident.created_at)
    )
    return [
        {
            "number": i.number,
            "title": i.title,
            "developer": (i.handover or {}).get("developer"),
            "since": (i.stages or {}).get("handed_over"),
            "jira": i.jira_key,
        }
        for i in rows
    ]


def _runbook_tasks(ctx: Context) -> list[dict[str, Any]]:
    """Runbook gaps still open, reported on the team's incidents."""
    team_incidents = select(Incident.id).where(Incident.team_id == ctx.team_id)
    rows = ctx.session.scalars(
        select(RunbookTask)
        .where(RunbookTask.status == "open", RunbookTask.incident_id.in_(team_incidents))
        .order_by(RunbookTask.due_at)
    )
    return [
        {
            "id": t.id,
            "runbook": t.runbook_id,
            "owner": t.owner_id,
            "missing": t.missing,
            "due_at": t.due_at.isoformat(),
            "overdue": t.due_at < ctx.at,
        }
        for t in rows
    ]


def _overdue_postmortems(ctx: Context) -> list[dict[str, Any]]:
    """Postmortems of the team's incidents past their due date and not published."""
    out = []
    for pm in postmortems_service.overdue(ctx.session, now=ctx.at):
        incident = ctx.session.get(Incident, pm.incident_id)
        if incident is None or incident.team_id != ctx.team_id:
            continue
        out.append(
            {
                "incident": incident.number,
                "title": incident.title,
                "status": pm.status,
                "owner": pm.owner_id,
                "due_at": pm.due_at.isoformat(),
            }
        )
    return out


SECTIONS: list[tuple[str, Callable[[Context], Any]]] = [
    ("slots", _slots),
    ("open_incidents", _open_incidents),
    ("unresolved", _unresolved),
    ("missed_checks", _missed_checks),
    ("status_incidents", _status_incidents),
    ("with_developers", _with_developers),
    ("runbook_tasks", _runbook_tasks),
    ("overdue_postmortems", _overdue_postmortems),
    ("metrics", _metrics),
    ("agenda", _agenda),
]


# --- generation -------------------------------------------------------------------------------


def _meeting_at(session: Session, at: datetime, zone: str) -> datetime | None:
    """The policy's weekly meeting (`handover: {day, time}`) in the team's zone, at or after
    the handoff and within the week."""
    meeting = session.get(HandoverMeeting, 1)
    if meeting is None:
        return None
    tz = localtime.zone(zone)
    hour, minute = (int(x) for x in meeting.time.split(":"))
    first = localtime.to_local(at, zone).date()
    for offset in range(8):
        day = first + timedelta(days=offset)
        if day.weekday() == localtime.WEEKDAYS[meeting.day]:
            when = localtime.local_to_utc(day, time(hour, minute), tz)
            if when >= at:
                return when
    return None


def _l1(session: Session, team_id: str) -> list[str]:
    return list(
        session.scalars(
            select(SupportLevel.person_id)
            .where(SupportLevel.team_id == team_id, SupportLevel.level == "L1")
            .order_by(SupportLevel.position)
        )
    )


def generate_due(session: Session, *, now: datetime, base_url: str) -> int:
    """Make the handover of every team whose handoff passed in the last LOOKBACK and has none
    yet; returns how many were made."""
    made = 0
    for team_id in schedules_service.team_ids(session):
        index = schedules_service.load_schedule(
            session, team_id=team_id, start=now - LOOKBACK, end=now
        ).index
        for at in index.handoff_instants(now - LOOKBACK, now + timedelta(microseconds=1)):
            if session.scalars(
                select(Handover.id).where(Handover.team_id == team_id, Handover.at == at)
            ).first():
                continue
            if generate(session, team_id=team_id, at=at, now=now, base_url=base_url):
                made += 1
    return made


def generate(
    session: Session, *, team_id: str, at: datetime, now: datetime, base_url: str
) -> Handover | None:
    """The handover at the handoff `at`: report, reassignments, notices. None if another
    engine made it first (the unique (team, at) decides)."""
    index = schedules_service.load_schedule(session, team_id=team_id, start=at, end=at).index
    k = index.period(at)
    start = index.handoff(k - 1)
    before = index.on_call_at(at - timedelta(microseconds=1))
    after = index.on_call_at(at)
    ctx = Context(
        session,
        team_id,
        start,
        at,
        now,
        {slot: s.person for slot, s in before.items()},
        {slot: s.person for slot, s in after.items()},
    )
    inserted = session.execute(
        dialect.insert_new(session, Handover.__table__).returning(Handover.id),
        [
            {
                "team_id": team_id,
                "at": at,
                "period_start": start,
                "report": {},
                "created_at": now,
                "meeting_at": _meeting_at(session, at, _zone(session, team_id)),
            }
        ],
    ).first()
    if inserted is None:
        return None
    handover = session.get(Handover, inserted[0])
    assert handover is not None
    report = {name: section(ctx) for name, section in SECTIONS}
    for item in session.scalars(
        select(AgendaItem).where(AgendaItem.team_id == team_id, AgendaItem.handover_id.is_(None))
    ):
        item.handover_id = handover.id
    report["agenda"] = [
        {"text": i.text, "by": i.added_by, "at": i.added_at.isoformat()}
        for i in session.scalars(
            select(AgendaItem).where(AgendaItem.handover_id == handover.id).order_by(AgendaItem.id)
        )
    ]
    handover.report = report
    people = {p for p in ctx.outgoing.values() if p} | {p for p in ctx.incoming.values() if p}
    people |= set(_l1(session, team_id))
    text = _summary(handover, base_url)
    for person in sorted(people):
        notice(
            session,
            person_id=person,
            key=f"handover:{handover.id}:{person}",
            event="oncall.handover",
            text=text,
            now=now,
        )
    slack_threads.post_to_channel(
        session, team_id=team_id, text=f":handshake: {text}", key=f"handover:{handover.id}", now=now
    )
    session.flush()
    return handover


def _zone(session: Session, team_id: str) -> str:
    organization, teams = schedules_service.time_zones(session)
    return teams.get(team_id, organization)


def _summary(handover: Handover, base_url: str) -> str:
    r = handover.report
    slots = ", ".join(
        f"{s['slot']}: {s['outgoing'] or 'nobody'} -> {s['incoming'] or 'nobody'}"
        for s in r["slots"]
    )
    totals = r["metrics"]["totals"]
    return (
        f"Weekly handover for {handover.team_id}: {slots}. {len(r['open_incidents'])} open "
        f"incidents passed on; {totals['incidents']} incidents this week. Incoming, please "
        f"acknowledge: {base_url.rstrip('/')}/handovers/{handover.id}"
    )


# --- after generation -------------------------------------------------------------------------


def remind(session: Session, *, now: datetime, base_url: str) -> int:
    """Unacknowledged handovers: the incoming are reminded after 2 h, L1 is told after 4 h
    (each once: the row records it, and the outbox key dedups a second engine)."""
    count = 0
    open_ = select(Handover).where(
        Handover.acknowledged_at.is_(None),
        Handover.at <= now - REMIND_AFTER,
        Handover.at > now - timedelta(days=7),
    )
    for handover in session.scalars(dialect.lock(session, open_)):
        incoming = sorted({s["incoming"] for s in handover.report["slots"] if s["incoming"]})
        url = f"{base_url.rstrip('/')}/handovers/{handover.id}"
        if handover.reminded_at is None:
            for person in incoming:
                notice(
                    session,
                    person_id=person,
                    key=f"handover-remind:{handover.id}:{person}",
                    event="oncall.handover",
                    text=f"Reminder: the {handover.team_id} handover is not acknowledged: {url}",
                    now=now,
                )
            handover.reminded_at = now
            count += 1
        if handover.escalated_at is None and now >= handover.at + TELL_L1_AFTER:
            for person in _l1(session, handover.team_id):
                notice(
                    session,
                    person_id=person,
                    key=f"handover-l1:{handover.id}:{person}",
                    event="oncall.handover",
                    text=f"The {handover.team_id} handover is unacknowledged after 4 h "
                    f"(incoming: {', '.join(incoming) or 'nobody'}): {url}",
                    now=now,
                )
            handover.escalated_at = now
            count += 1
    session.flush()
    return count


def _get(session: Session, handover_id: int) -> Handover:
    handover = session.get(Handover, handover_id)
    if handover is None:
        raise NotFound(f"no handover with id {handover_id}", "id")
    return handover


def acknowledge(
    session: Session,
    *,
    handover_id: int,
    person: str | None,
    actor: str,
    manager: bool,
    now: datetime,
) -> Handover:
    """The incoming take the week over. Only an incoming person (or a manager) may; twice is a
    Conflict naming who did."""
    handover = _get(session, handover_id)
    incoming = {s["incoming"] for s in handover.report["slots"] if s["incoming"]}
    if not manager and person not in incoming:
        raise Forbidden(
            f"only the incoming people ({', '.join(sorted(incoming))}) acknowledge this handover",
            "id",
        )
    if handover.acknowledged_at is not None:
        raise Conflict(f"already acknowledged by {handover.acknowledged_by}", "id")
    handover.acknowledged_at, handover.acknowledged_by = now, actor
    audit.record(
        session,
        actor=actor,
        action="handover.acknowledge",
        object_type="handover",
        object_id=str(handover.id),
        at=now,
    )
    session.flush()
    return handover


def record_meeting(
    session: Session,
    *,
    handover_id: int,
    attendees: list[str],
    notes: str | None,
    outcomes: str | None,
    actor: str,
    now: datetime,
) -> Handover:
    """The meeting's record: who attended, notes and outcomes (replacing what was there)."""
    handover = _get(session, handover_id)
    handover.attendees = attendees
    handover.notes, handover.outcomes = notes, outcomes
    audit.record(
        session,
        actor=actor,
        action="handover.meeting",
        object_type="handover",
        object_id=str(handover.id),
        at=now,
        after={"attendees": attendees},
    )
    session.flush()
    return handover


def add_agenda_item(
    session: Session, *, team_id: str, text: str, actor: str, now: datetime
) -> AgendaItem:
    """A topic for the team's next handover meeting."""
    if team_id not in schedules_service.team_ids(session):
        raise InvalidInput(f"no team with a rota called {team_id!r}", "team")
    if not text.strip():
        raise InvalidInput("an agenda item needs text", "text")
    item = AgendaItem(team_id=team_id, text=text.strip(), added_by=actor, added_at=now)
    session.add(item)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="handover.agenda",
        object_type="team",
        object_id=team_id,
        at=now,
        after={"text": item.text},
    )
    return item


def handover_doc(session: Session, handover: Handover) -> dict[str, Any]:
    pending = []
    if handover.id == _latest_id(session, handover.team_id):
        pending = [
            {"text": i.text, "by": i.added_by, "at": i.added_at.isoformat()}
            for i in session.scalars(
                select(AgendaItem)
                .where(AgendaItem.team_id == handover.team_id, AgendaItem.handover_id.is_(None))
                .order_by(AgendaItem.id)
            )
        ]
    return {
        "id": handover.id,
        "team": handover.team_id,
        "at": handover.at.isoformat(),
        "period_start": handover.period_start.isoformat(),
        "created_at": handover.created_at.isoformat(),
        "acknowledged_at": handover.acknowledged_at.isoformat()
        if handover.acknowledged_at
        else None,
        "acknowledged_by": handover.acknowledged_by,
        "reminded_at": handover.reminded_at.isoformat() if handover.reminded_at else None,
        "l1_told_at": handover.escalated_at.isoformat() if handover.escalated_at else None,
        "meeting": {
            "at": handover.meeting_at.isoformat() if handover.meeting_at else None,
            "attendees": handover.attendees or [],
            "notes": handover.notes,
            "outcomes": handover.outcomes,
            "agenda_for_next": pending,
        },
        **handover.report,
    }


def _latest_id(session: Session, team_id: str) -> int | None:
    return session.scalars(
        select(Handover.id).where(Handover.team_id == team_id).order_by(Handover.at.desc())
    ).first()


def list_handovers(session: Session, *, team: str | None, limit: int = 20) -> list[dict[str, Any]]:
    query = select(Handover).order_by(Handover.at.desc(), Handover.id.desc()).limit(limit)
    if team:
        query = query.where(Handover.team_id == team)
    return [handover_doc(session, h) for h in session.scalars(query)]


def get_handover(session: Session, *, handover_id: int) -> dict[str, Any]:
    return handover_doc(session, _get(session, handover_id))
