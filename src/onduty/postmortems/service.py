"""Postmortems: a draft opened when an incident whose priority requires one is resolved (owner:
the primary responder, else the resolver; due in working days), its timeline filled from the
incident's events and alerts, saves that name the version they edited (a stale one is a
conflict and writes nothing), draft -> in_review -> published (read-only, stage
`postmortem`), the Markdown export, and which are overdue. Services take a session and `now`,
flush, and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.audit import service as audit
from onduty.db import dialect
from onduty.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from onduty.incidents.models import Alert, Incident, PriorityPolicy, TimelineEvent
from onduty.incidents.service import record_stage
from onduty.incidents.timeline import timeline
from onduty.people.models import Organization, Person
from onduty.postmortems import questions
from onduty.postmortems.models import Postmortem, PostmortemAction
from onduty.schedules import service as schedules_service

DEFAULT_DUE_DAYS = 5
STATUSES = ("draft", "in_review", "published")
# Timeline events that say nothing a postmortem reader needs (each delivery attempt).
_QUIET = {"notification.sent", "notification.failed", "notification.retry"}


def requires_postmortem(session: Session, priority: str) -> bool:
    row = session.get(PriorityPolicy, priority)
    return bool(row and row.postmortem)


def _zone_and_days(session: Session) -> tuple[str, list[str]]:
    org = session.scalars(select(Organization)).first()
    if org is None:
        return "UTC", ["mon", "tue", "wed", "thu", "fri"]
    return org.timezone, list(org.working_days)


def open_draft(
    session: Session, *, incident: Incident, now: datetime, due_days: int = DEFAULT_DUE_DAYS
) -> Postmortem | None:
    """Open the incident's postmortem draft if its priority requires one and it has none;
    return it (or None when not required). Safe to call twice, and from two transactions at
    once: the row is inserted only if new (a unique incident id)."""
    if incident.status != "resolved" or not requires_postmortem(session, incident.priority):
        return None
    existing = get_postmortem(session, incident_id=incident.id, missing_ok=True)
    if existing is not None:
        return existing
    resolved = incident.resolved_at or now
    zone, days = _zone_and_days(session)
    owner = _owner(session, incident)
    table = cast(Table, Postmortem.__table__)
    made = session.scalars(
        dialect.insert_new(session, table).returning(table.c.id),
        [
            {
                "incident_id": incident.id,
                "status": "draft",
                "owner_id": owner,
                "due_at": localtime.add_working_days(resolved, due_days, zone, days),
                "version": 1,
                "answers": questions.blank_answers(),
                "timeline": draft_timeline(session, incident),
                "created_at": now,
                "updated_at": now,
                "updated_by": "onduty",
            }
        ],
    ).first()
    if made is not None:
        timeline(
            session,
            incident,
            now=now,
            kind="postmortem.opened",
            actor="onduty",
            channel="engine",
            owner=owner,
        )
    return get_postmortem(session, incident_id=incident.id)


def _owner(session: Session, incident: Incident) -> str | None:
    """The primary responder when the incident opened, else the person who resolved it."""
    primary = schedules_service.responders(
        session,
        team_id=incident.team_id,
        discipline=incident.discipline,
        target="primary",
        at=incident.created_at,
    )
    if primary:
        return primary[0]
    if incident.resolved_by and session.get(Person, incident.resolved_by) is not None:
        return incident.resolved_by
    return None


def draft_timeline(session: Session, incident: Incident) -> list[dict[str, str]]:
    """The incident's story so far, in order: its alerts firing and resolving and its timeline
    events (acknowledgements, escalations, status updates, handovers, verdicts), in UTC."""
    entries: list[tuple[datetime, str]] = []
    for a in session.scalars(select(Alert).where(Alert.incident_id == incident.id)):
        entries.append((a.first_seen, f"alert fired: {a.summary}"))
        if a.resolved_at is not None:
            entries.append((a.resolved_at, f"alert resolved: {a.summary}"))
    for e in session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.id)
    ):
        if e.kind in _QUIET or e.kind.startswith("alert."):
            continue
        detail = ", ".join(
            f"{k}: {v}" for k, v in (e.data or {}).items() if v not in (None, "", [], {})
        )
        text = f"{e.kind.replace('_', ' ')} by {e.actor} ({e.channel})"
        entries.append((e.at, f"{text}{': ' + detail if detail else ''}"[:500]))
    entries.sort(key=lambda x: x[0])
    return [{"at": at.strftime("%Y-%m-%d %H:%M:%S"), "text": text} for at, text in entries]


def get_postmortem(
    session: Session, *, incident_id: int, missing_ok: bool = False
) -> Postmortem | None:
    row = session.scalars(select(Postmortem).where(Postmortem.incident_id == incident_id)).first()
    if row is None and not missing_ok:
        if session.get(Incident, incident_id) is None:
            raise NotFound(f"no incident with id {incident_id}", "id")
        raise NotFound(f"incident {incident_id} has no postmortem", "postmortem")
    return row


def _locked(session: Session, incident_id: int) -> Postmortem:
    row = session.scalars(
        dialect.lock(
            session, select(Postmortem).where(Postmortem.incident_id == incident_id)
        ).execution_options(populate_existing=True)
    ).first()
    if row is None:
        get_postmortem(session, incident_id=incident_id)  # raises the right NotFound
        raise AssertionError("unreachable")
    return row


@dataclass(frozen=True)
class ActionItem:
    title: str
    owner: str | None = None
    due_date: date | None = None
    status: str = "open"
    id: int | None = None


def save(
    session: Session,
    *,
    incident_id: int,
    version: int,
    actor: str,
    now: datetime,
    answers: dict[str, Any] | None = None,
    timeline_entries: list[dict[str, str]] | None = None,
    actions: list[ActionItem] | None = None,
    owner: str | None = None,
    due_at: datetime | None = None,
    status: str | None = None,
) -> Postmortem:
    """Save an edit of the postmortem made from `version`; what is None stays as it is.

    Raises:
        Conflict: `version` is not the current one: someone saved since (nothing is written).
        InvalidTransition: it is published (read-only), or `status` is not draft/in_review.
        NotFound / InvalidInput: unknown owners, or bad answers.
    """
    row = _locked(session, incident_id)
    if row.status == "published":
        raise InvalidTransition("the postmortem is published: it is read-only", "status")
    if version != row.version:
        raise Conflict(
            f"the postmortem was saved by {row.updated_by} (version {row.version}) since you "
            f"opened version {version}: reload it and make your changes again",
            "version",
        )
    changed: list[str] = []
    if answers is not None:
        merged = {**questions.blank_answers(), **row.answers}
        for key, value in answers.items():
            if key not in (*questions.TEXT_KEYS, "five_whys"):
                raise InvalidInput(f"unknown question {key!r}", f"answers.{key}")
            merged[key] = value
        whys = [str(w) for w in merged["five_whys"]][: questions.WHYS]
        merged["five_whys"] = whys + [""] * (questions.WHYS - len(whys))
        if merged != row.answers:
            row.answers = merged
            changed.append("answers")
    if timeline_entries is not None and timeline_entries != row.timeline:
        row.timeline = timeline_entries
        changed.append("timeline")
    if owner is not None and owner != row.owner_id:
        _person(session, owner, "owner")
        row.owner_id = owner
        changed.append("owner")
    if due_at is not None and due_at != row.due_at:
        row.due_at = due_at
        changed.append("due_at")
    if status is not None and status != row.status:
        if status not in ("draft", "in_review"):
            raise InvalidTransition("status is draft or in_review; publish to publish", "status")
        row.status = status
        changed.append("status")
    if actions is not None and _write_actions(session, row, actions):
        changed.append("actions")
    row.version += 1
    row.updated_at, row.updated_by = now, actor
    audit.record(
        session,
        actor=actor,
        action="postmortem.update",
        object_type="postmortem",
        object_id=str(row.id),
        at=now,
        before={"version": version},
        after={"version": row.version, "fields": changed},
    )
    session.flush()
    return row


def _person(session: Session, ident: str, field: str) -> None:
    if session.get(Person, ident) is None:
        raise NotFound(f"no person with id {ident!r}", field)


def _write_actions(session: Session, row: Postmortem, items: list[ActionItem]) -> bool:
    """Replace the action items, keeping the rows (and their Jira keys) of those that name
    their id."""
    by_id = {a.id: a for a in row.actions}
    before = [(a.id, a.title, a.owner_id, a.due_date, a.status) for a in row.actions]
    keep = []
    for position, item in enumerate(items):
        if not item.title.strip():
            raise InvalidInput("an action item needs a title", f"actions[{position}].title")
        if item.owner is not None:
            _person(session, item.owner, f"actions[{position}].owner")
        if item.status not in ("open", "done"):
            raise InvalidInput("an action item is open or done", f"actions[{position}].status")
        action = by_id.get(item.id) if item.id is not None else None
        if item.id is not None and action is None:
            raise NotFound(f"no action item {item.id} in this postmortem", f"actions[{position}]")
        action = action or PostmortemAction()
        action.position, action.title = position, item.title.strip()
        action.owner_id, action.due_date, action.status = item.owner, item.due_date, item.status
        keep.append(action)
    row.actions[:] = keep
    session.flush()
    after = [(a.id, a.title, a.owner_id, a.due_date, a.status) for a in row.actions]
    return before != after


def publish(session: Session, *, incident_id: int, actor: str, now: datetime) -> Postmortem:
    """Publish a postmortem in review: read-only from now on; records stage `postmortem`.

    Raises:
        InvalidTransition: it is a draft (submit it for review first) or published already.
        InvalidInput: no summary or root cause, or an action item without owner or due date.
    """
    row = _locked(session, incident_id)
    if row.status != "in_review":
        what = "published already" if row.status == "published" else "a draft: submit it for review"
        raise InvalidTransition(f"the postmortem is {what}", "status")
    for key in ("summary", "root_cause"):
        if not str(row.answers.get(key) or "").strip():
            raise InvalidInput(
                f"answer {key.replace('_', ' ')} before publishing", f"answers.{key}"
            )
    for i, action in enumerate(row.actions):
        if action.owner_id is None or action.due_date is None:
            raise InvalidInput(
                f"action item {action.title!r} needs an owner and a due date", f"actions[{i}]"
            )
    row.status, row.published_at, row.published_by = "published", now, actor
    row.version += 1
    row.updated_at, row.updated_by = now, actor
    incident = session.get(Incident, incident_id)
    assert incident is not None
    record_stage(incident, "postmortem", now)
    timeline(session, incident, now=now, kind="postmortem.published", actor=actor, channel="api")
    audit.record(
        session,
        actor=actor,
        action="postmortem.publish",
        object_type="postmortem",
        object_id=str(row.id),
        at=now,
        after={"version": row.version},
    )
    session.flush()
    return row


def markdown(session: Session, *, incident_id: int) -> str:
    row = get_postmortem(session, incident_id=incident_id)
    assert row is not None
    incident = session.get(Incident, incident_id)
    assert incident is not None
    return questions.to_markdown(
        title=f"#{incident.number} {incident.title}",
        status=row.status,
        owner=row.owner_id,
        due=row.due_at.strftime("%Y-%m-%d %H:%M UTC"),
        answers=row.answers,
        timeline=row.timeline,
        actions=[action_doc(a) for a in row.actions],
    )


def action_doc(a: PostmortemAction) -> dict[str, Any]:
    return {
        "id": a.id,
        "title": a.title,
        "owner": a.owner_id,
        "due_date": a.due_date,
        "status": a.status,
        "jira_key": a.jira_key,
        "jira_status": a.jira_status,
    }


def list_postmortems(session: Session, *, status: str | None = None) -> list[Postmortem]:
    query = select(Postmortem).order_by(Postmortem.due_at, Postmortem.id)
    if status:
        query = query.where(Postmortem.status == status)
    return list(session.scalars(query))


def overdue(session: Session, *, now: datetime) -> list[Postmortem]:
    """Postmortems not published past their due date (for reminders and the weekly handover)."""
    return list(
        session.scalars(
            select(Postmortem)
            .where(Postmortem.status != "published", Postmortem.due_at < now)
            .order_by(Postmortem.due_at)
        )
    )


def missing_drafts(session: Session, *, since: datetime) -> list[Incident]:
    """Incidents resolved since `since` whose priority requires a postmortem and that have none
    (resolved by a monitor, Slack, SMS or the command line: the engine opens their drafts).
    `since` keeps incidents resolved before postmortems existed out of it."""
    required = select(PriorityPolicy.priority).where(PriorityPolicy.postmortem.is_(True))
    has = select(Postmortem.incident_id)
    return list(
        session.scalars(
            select(Incident)
            .where(
                Incident.status == "resolved",
                Incident.resolved_at >= since,
                Incident.priority.in_(required),
                Incident.id.not_in(has),
            )
            .order_by(Incident.id)
            .limit(100)
        )
    )
