"""Status page operations: status incidents and their updates, maintenances that start and
complete on their own, component statuses, the overall status (Statuspage's rule), update
enforcement, and the messages each update sends (subscriber mail, Intercom replies) through the
outbox. Services take a session and `now`, flush, record their audit rows, never commit."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.audit import service as audit
from onduty.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from onduty.incidents import jira
from onduty.incidents.models import Incident, PriorityPolicy
from onduty.incidents.timeline import timeline
from onduty.notify import outbox
from onduty.notify import templates as comm
from onduty.people.models import Organization, Person
from onduty.schedules import service as schedules_service
from onduty.services.models import Service
from onduty.slack import threads as slack_threads
from onduty.statuspage.models import (
    AffectedComponent,
    Component,
    IntercomConversation,
    StatusIncident,
    StatusPage,
    StatusUpdate,
    Subscriber,
)

COMPONENT_STATUSES = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)  # from the best to the worst: a component shows the worst any open item gives it
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
MAINTENANCE_STATUSES = ("scheduled", "in_progress", "verifying", "completed")
IMPACTS = ("none", "minor", "major", "critical")
# The impact a status incident posted from an onduty incident starts with, by priority.
IMPACT_OF_PRIORITY = {"P1": "critical", "P2": "major", "P3": "minor", "P4": "minor"}
STATUS_OF_IMPACT = {
    "critical": "major_outage",
    "major": "partial_outage",
    "minor": "degraded_performance",
    "none": "operational",
}
TEMPLATE_OF_STATUS = {
    "investigating": "status_investigating",
    "identified": "status_update",
    "monitoring": "status_update",
    "resolved": "status_resolved",
}


def _rank(status: str) -> int:
    return COMPONENT_STATUSES.index(status)


# --- the page ---------------------------------------------------------------------------------


def get_page(session: Session, now: datetime) -> StatusPage:
    """The page row, made on first use (a policy file without `status_page` still has one)."""
    page = session.get(StatusPage, 1)
    if page is None:
        page = StatusPage(id=1, name="Status", created_at=now, updated_at=now)
        session.add(page)
        session.flush()
    return page


TOUCHED = "statuspage.touched"  # a session mark: this transaction changed the public page


def touch(session: Session, now: datetime) -> None:
    """Something the public page shows changed: its ETag and caches move on."""
    session.info[TOUCHED] = True
    page = get_page(session, now)
    # The same instant twice (a FakeClock, or two changes in one request) is still a new version.
    page.updated_at = now if page.updated_at < now else page.updated_at + timedelta(microseconds=1)


def page_id(base_url: str) -> str:
    """A stable 12-character page id (Statuspage's ids are opaque strings)."""
    return hashlib.sha256(base_url.encode()).hexdigest()[:12]


def org_zone(session: Session) -> str:
    org = session.scalars(select(Organization)).first()
    return org.timezone if org is not None else "UTC"


def components(session: Session) -> list[Component]:
    return list(session.scalars(select(Component).order_by(Component.position, Component.id)))


def recompute(session: Session, component_ids: Iterable[str], now: datetime) -> None:
    """Set each component's status to the worst that an open status incident or an active
    maintenance gives it, else operational."""
    ids = sorted(set(component_ids))
    if not ids:
        return
    worst: dict[str, str] = dict.fromkeys(ids, "operational")
    rows = session.execute(
        select(AffectedComponent.component_id, AffectedComponent.status)
        .join(StatusIncident, StatusIncident.id == AffectedComponent.status_incident_id)
        .where(
            AffectedComponent.component_id.in_(ids),
            StatusIncident.resolved_at.is_(None),
            StatusIncident.status.not_in(("scheduled",)),
        )
    )
    for component_id, status in rows:
        if _rank(status) > _rank(worst[component_id]):
            worst[component_id] = status
    for component in session.scalars(select(Component).where(Component.id.in_(ids))):
        if component.status != worst[component.id]:
            component.status, component.updated_at = worst[component.id], now


@dataclass(frozen=True)
class Overall:
    indicator: str  # none | minor | major | critical | maintenance
    description: str


_COMPONENT_INDICATOR = {
    "operational": "none",
    "under_maintenance": "maintenance",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}
_SINGLE = {
    "operational": "All Systems Operational",
    "under_maintenance": "Service Under Maintenance",
    "degraded_performance": "Partially Degraded Service",
    "partial_outage": "Partial System Outage",
    "major_outage": "Major System Outage",
}
_IMPACT_TEXT = {
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
}
_INDICATORS = ("none", "maintenance", "minor", "major", "critical")


def overall(statuses: list[str], impacts: list[str]) -> Overall:
    """Statuspage's top-level status (FORMATS §9): one component's status maps directly; with
    several, the worst is blended (all of them down is a major outage, some a partial one); the
    worst impact of an unresolved incident raises the indicator when it is worse."""
    impact = max(impacts, key=IMPACTS.index, default="none")
    if statuses:
        worst = max(statuses, key=_rank)
        if len(statuses) == 1 or worst in ("operational", "under_maintenance"):
            description = _SINGLE[worst]
        elif worst == "major_outage":
            every = all(s == "major_outage" for s in statuses)
            description = "Major System Outage" if every else "Partial System Outage"
        else:
            description = _SINGLE[worst]
        indicator = _COMPONENT_INDICATOR[worst]
    else:
        description, indicator = "All Systems Operational", "none"
    if impact != "none" and _INDICATORS.index(impact) > _INDICATORS.index(indicator):
        indicator = impact
        if description in ("All Systems Operational", "Service Under Maintenance"):
            description = _IMPACT_TEXT[impact]
    return Overall(indicator, description)


def page_status(session: Session) -> Overall:
    statuses = [c.status for c in components(session)]
    impacts = list(
        session.scalars(
            select(StatusIncident.impact).where(
                StatusIncident.kind == "incident", StatusIncident.resolved_at.is_(None)
            )
        )
    )
    return overall(statuses, impacts)


# --- templates --------------------------------------------------------------------------------


def names(session: Session, component_ids: Iterable[str]) -> list[str]:
    ids = list(component_ids)
    found = {c.id: c.name for c in session.scalars(select(Component).where(Component.id.in_(ids)))}
    return [found.get(i, i) for i in ids]


def joined(items: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'; 'our services' for none."""
    if not items:
        return "our services"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def context(
    session: Session,
    *,
    base_url: str,
    name: str,
    status: str,
    impact: str,
    component_ids: Iterable[str],
    body: str = "",
    incident: Incident | None = None,
    started_at: datetime,
    updated_at: datetime,
) -> dict[str, Any]:
    """The variables of the status templates (notify/templates.py `VARIABLES`)."""
    from onduty import localtime

    zone = org_zone(session)
    page = session.get(StatusPage, 1)
    listed = names(session, component_ids)
    linked = None
    if incident is not None:
        service = session.get(Service, incident.service_id)
        linked = {
            "number": incident.number,
            "title": incident.title,
            "priority": incident.priority,
            "service": service.name if service else incident.service_id,
            "url": f"{base_url.rstrip('/')}/incidents/{incident.id}",
        }
    return {
        "page_name": page.name if page else "Status",
        "name": name,
        "status": status,
        "impact": impact,
        "components": joined(listed),
        "component_list": listed,
        "body": body,
        "url": f"{base_url.rstrip('/')}/status",
        "incident": linked,
        "started_at": localtime.stamp(started_at, zone),
        "updated_at": localtime.stamp(updated_at, zone),
    }


def render(session: Session, key: str, variables: Mapping[str, Any]) -> str:
    """Template `key` (the policy's, else the default) rendered in the sandbox.

    Raises:
        InvalidInput: the template failed (lint catches what it can; the sandbox refuses the
            rest), so the caller can say so instead of posting nothing.
    """
    overrides = jira.section(session, "templates") or {}
    try:
        return comm.render(key, overrides, **variables).strip()
    except comm.TemplateProblem as exc:
        raise InvalidInput(str(exc), "body") from exc


# --- status incidents ---------------------------------------------------------------------------


def _check_components(session: Session, wanted: Mapping[str, str], field: str) -> None:
    known = {c for c in session.scalars(select(Component.id))}
    for ident, status in wanted.items():
        if ident not in known:
            raise InvalidInput(f"unknown component {ident!r}", f"{field}.{ident}")
        if status not in COMPONENT_STATUSES:
            raise InvalidInput(
                f"component status must be one of {', '.join(COMPONENT_STATUSES)}",
                f"{field}.{ident}",
            )


def get_status_incident(session: Session, status_incident_id: int) -> StatusIncident:
    row = session.get(StatusIncident, status_incident_id)
    if row is None:
        raise NotFound(f"no status incident with id {status_incident_id}", "id")
    return row


def _owner(session: Session, incident: Incident | None, actor: str, now: datetime) -> str | None:
    """The incident's primary (who is on call for its discipline now), else the poster if a
    person, else nobody."""
    if incident is not None:
        if incident.assignee_id:
            return incident.assignee_id
        primary = schedules_service.responders(
            session,
            team_id=incident.team_id,
            discipline=incident.discipline,
            target="primary",
            at=now,
        )
        if primary:
            return primary[0]
    return actor if session.get(Person, actor) is not None else None


def _update_every(session: Session, incident: Incident | None) -> int | None:
    priority = incident.priority if incident is not None else "P1"
    policy = session.get(PriorityPolicy, priority)
    return policy.update_every_s if policy is not None else 3600


def _apply_components(
    session: Session, row: StatusIncident, wanted: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Give the incident's components their new statuses; the update's `affected_components`."""
    by_id = {a.component_id: a for a in row.components}
    current = {
        c.id: c
        for c in session.scalars(select(Component).where(Component.id.in_(list(wanted) or [""])))
    }
    affected = []
    for ident, status in wanted.items():
        link = by_id.get(ident)
        old = current[ident].status
        if link is None:
            link = AffectedComponent(component_id=ident, status=status, worst=status)
            row.components.append(link)
        else:
            link.status = status
            if _rank(status) > _rank(link.worst):
                link.worst = status
        affected.append(
            {"code": ident, "name": current[ident].name, "old_status": old, "new_status": status}
        )
    return affected


def create_status_incident(
    session: Session,
    *,
    name: str,
    status: str,
    impact: str,
    body: str | None,
    component_statuses: Mapping[str, str],
    incident_id: int | None,
    actor: str,
    now: datetime,
    base_url: str,
    notify: bool = True,
) -> StatusIncident:
    """Open a status incident (optionally linked to an onduty incident) with its first update.
    An empty `body` is rendered from the status's template."""
    if status not in INCIDENT_STATUSES[:-1]:
        raise InvalidInput("status must be investigating, identified or monitoring", "status")
    if impact not in IMPACTS:
        raise InvalidInput(f"impact must be one of {', '.join(IMPACTS)}", "impact")
    if not name.strip():
        raise InvalidInput("a status incident needs a name", "name")
    _check_components(session, component_statuses, "components")
    incident = None
    if incident_id is not None:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound(f"no incident with id {incident_id}", "incident")
        taken = session.scalar(
            select(StatusIncident.id).where(
                StatusIncident.incident_id == incident_id, StatusIncident.resolved_at.is_(None)
            )
        )
        if taken is not None:
            raise Conflict(
                f"incident #{incident.number} already has open status incident {taken}",
                "incident",
            )
    row = StatusIncident(
        kind="incident",
        name=name.strip(),
        status=status,
        impact=impact,
        incident_id=incident_id,
        owner_id=_owner(session, incident, actor, now),
        created_by=actor,
        update_every_s=_update_every(session, incident),
        last_update_at=now,
        created_at=now,
        updated_at=now,
        started_at=now,
        monitoring_at=now if status == "monitoring" else None,
        auto=False,
    )
    session.add(row)
    session.flush()
    text = body.strip() if body and body.strip() else ""
    if not text:
        text = render(
            session,
            TEMPLATE_OF_STATUS[status],
            context(
                session,
                base_url=base_url,
                name=row.name,
                status=status,
                impact=impact,
                component_ids=component_statuses,
                incident=incident,
                started_at=now,
                updated_at=now,
            ),
        )
    affected = _apply_components(session, row, component_statuses)
    update_row = StatusUpdate(
        status_incident_id=row.id,
        status=status,
        body=text,
        affected=affected or None,
        author=actor,
        notify=notify,
        created_at=now,
    )
    session.add(update_row)
    session.flush()
    recompute(session, component_statuses, now)
    touch(session, now)
    if incident is not None:
        timeline(
            session,
            incident,
            now=now,
            kind="status_page.posted",
            actor=actor,
            channel="status_page",
            status_incident=row.id,
            status=status,
            name=row.name,
        )
        slack_threads.post_event(
            session,
            incident=incident,
            text=f":loudspeaker: Posted to the status page ({status}): {row.name}",
            now=now,
            key=f"status:{update_row.id}",
        )
    audit.record(
        session,
        actor=actor,
        action="status_incident.create",
        object_type="status_incident",
        object_id=str(row.id),
        at=now,
        after={"name": row.name, "status": status, "impact": impact, "incident": incident_id},
    )
    if notify:
        fan_out(session, row, update_row, kind="new", now=now, base_url=base_url)
    session.refresh(row)
    return row


def add_update(
    session: Session,
    *,
    status_incident_id: int,
    status: str,
    body: str | None,
    component_statuses: Mapping[str, str] | None,
    actor: str,
    now: datetime,
    base_url: str,
    impact: str | None = None,
    notify: bool = True,
) -> StatusUpdate:
    """Post an update. Resolving without `components` gives every component of the incident
    back (operational unless another open item still affects it)."""
    row = get_status_incident(session, status_incident_id)
    if row.kind != "incident":
        raise InvalidInput("this is a maintenance; post its updates as a maintenance", "id")
    if row.resolved_at is not None:
        raise InvalidTransition(f"status incident {row.id} is resolved", "status")
    if status not in INCIDENT_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(INCIDENT_STATUSES)}", "status")
    if impact is not None and impact not in IMPACTS:
        raise InvalidInput(f"impact must be one of {', '.join(IMPACTS)}", "impact")
    wanted = dict(component_statuses or {})
    _check_components(session, wanted, "components")
    if status == "resolved" and not wanted:
        wanted = {a.component_id: "operational" for a in row.components}
    was = row.status
    row.status, row.updated_at, row.last_update_at = status, now, now
    row.reminded_at = row.paged_at = None
    if impact is not None:
        row.impact = impact
    if status == "monitoring" and row.monitoring_at is None:
        row.monitoring_at = now
    if status == "resolved":
        row.resolved_at = now
    incident = session.get(Incident, row.incident_id) if row.incident_id else None
    text = body.strip() if body and body.strip() else ""
    if not text:
        text = render(
            session,
            TEMPLATE_OF_STATUS[status],
            context(
                session,
                base_url=base_url,
                name=row.name,
                status=status,
                impact=row.impact,
                component_ids=[a.component_id for a in row.components] or wanted,
                incident=incident,
                started_at=row.started_at,
                updated_at=now,
            ),
        )
    affected = _apply_components(session, row, wanted)
    if status == "resolved":
        for link in row.components:
            link.status = "operational"
    update_row = StatusUpdate(
        status_incident_id=row.id,
        status=status,
        body=text,
        affected=affected or None,
        author=actor,
        notify=notify,
        created_at=now,
    )
    session.add(update_row)
    session.flush()
    recompute(session, [a.component_id for a in row.components], now)
    touch(session, now)
    if incident is not None:
        timeline(
            session,
            incident,
            now=now,
            kind="status_page.updated",
            actor=actor,
            channel="status_page",
            status_incident=row.id,
            status=status,
        )
        slack_threads.post_event(
            session,
            incident=incident,
            text=f":loudspeaker: Status page update ({status}): {update_row.body[:300]}",
            now=now,
            key=f"status:{update_row.id}",
        )
    audit.record(
        session,
        actor=actor,
        action="status_incident.update",
        object_type="status_incident",
        object_id=str(row.id),
        at=now,
        before={"status": was},
        after={"status": status, "update": update_row.id},
    )
    if notify:
        kind = "resolved" if status == "resolved" else "update"
        fan_out(session, row, update_row, kind=kind, now=now, base_url=base_url)
    return update_row


def open_for_incident(session: Session, incident_id: int) -> StatusIncident | None:
    return session.scalars(
        select(StatusIncident).where(
            StatusIncident.incident_id == incident_id, StatusIncident.resolved_at.is_(None)
        )
    ).first()


def for_incident(session: Session, incident_id: int) -> list[StatusIncident]:
    return list(
        session.scalars(
            select(StatusIncident)
            .where(StatusIncident.incident_id == incident_id)
            .order_by(StatusIncident.id.desc())
        )
    )


def draft(session: Session, *, incident: Incident, base_url: str, now: datetime) -> dict[str, Any]:
    """What "post to status page" pre-fills for `incident`: its title, the impact of its
    priority, the components its service maps onto (with the status of that impact), and the
    first notice from the `status_investigating` template."""
    impact = IMPACT_OF_PRIORITY.get(incident.priority, "minor")
    status_of = STATUS_OF_IMPACT[impact]
    chosen = {
        c.id: status_of for c in components(session) if incident.service_id in (c.services or [])
    }
    body = render(
        session,
        "status_investigating",
        context(
            session,
            base_url=base_url,
            name=incident.title,
            status="investigating",
            impact=impact,
            component_ids=chosen,
            incident=incident,
            started_at=now,
            updated_at=now,
        ),
    )
    policy = session.get(PriorityPolicy, incident.priority)
    return {
        "name": incident.title,
        "status": "investigating",
        "impact": impact,
        "components": chosen,
        "body": body,
        "incident": incident.id,
        "required": bool(policy and policy.status_page),
    }


def preview(
    session: Session,
    *,
    status: str,
    name: str,
    impact: str,
    body: str | None,
    component_ids: Iterable[str],
    incident_id: int | None,
    base_url: str,
    now: datetime,
) -> str:
    """The text an update would carry, without posting it."""
    if status not in TEMPLATE_OF_STATUS:
        raise InvalidInput(f"status must be one of {', '.join(INCIDENT_STATUSES)}", "status")
    if body and body.strip():
        return body.strip()
    incident = session.get(Incident, incident_id) if incident_id else None
    return render(
        session,
        TEMPLATE_OF_STATUS[status],
        context(
            session,
            base_url=base_url,
            name=name,
            status=status,
            impact=impact,
            component_ids=list(component_ids),
            incident=incident,
            started_at=now,
            updated_at=now,
        ),
    )


def list_status_incidents(
    session: Session, *, kind: str = "incident", unresolved: bool = False, limit: int = 50
) -> list[StatusIncident]:
    query = select(StatusIncident).where(StatusIncident.kind == kind)
    if unresolved:
        query = query.where(StatusIncident.resolved_at.is_(None))
    return list(session.scalars(query.order_by(StatusIncident.id.desc()).limit(limit)))


# --- maintenances -----------------------------------------------------------------------------


def create_maintenance(
    session: Session,
    *,
    name: str,
    scheduled_for: datetime,
    scheduled_until: datetime,
    component_ids: list[str],
    body: str | None,
    actor: str,
    now: datetime,
    base_url: str,
) -> StatusIncident:
    """Schedule a maintenance; the engine starts it at `scheduled_for` (its components go
    under maintenance) and completes it at `scheduled_until`."""
    if not name.strip():
        raise InvalidInput("a maintenance needs a name", "name")
    if scheduled_until <= scheduled_for:
        raise InvalidInput("scheduled_until must be after scheduled_for", "scheduled_until")
    if scheduled_until <= now:
        raise InvalidInput("scheduled_until is in the past", "scheduled_until")
    _check_components(session, dict.fromkeys(component_ids, "under_maintenance"), "components")
    row = StatusIncident(
        kind="maintenance",
        name=name.strip(),
        status="scheduled",
        impact="maintenance",
        created_by=actor,
        owner_id=actor if session.get(Person, actor) is not None else None,
        last_update_at=now,
        scheduled_for=scheduled_for,
        scheduled_until=scheduled_until,
        auto=True,
        created_at=now,
        updated_at=now,
        started_at=now,
    )
    session.add(row)
    session.flush()
    for ident in dict.fromkeys(component_ids):
        row.components.append(
            AffectedComponent(
                component_id=ident, status="under_maintenance", worst="under_maintenance"
            )
        )
    text = (
        body or ""
    ).strip() or f"{row.name}: scheduled maintenance of {joined(names(session, component_ids))}."
    session.add(
        StatusUpdate(
            status_incident_id=row.id,
            status="scheduled",
            body=text,
            affected=None,
            author=actor,
            created_at=now,
        )
    )
    session.flush()
    touch(session, now)
    audit.record(
        session,
        actor=actor,
        action="maintenance.create",
        object_type="maintenance",
        object_id=str(row.id),
        at=now,
        after={
            "name": row.name,
            "scheduled_for": scheduled_for.isoformat(),
            "scheduled_until": scheduled_until.isoformat(),
            "components": list(component_ids),
        },
    )
    session.refresh(row)
    return row


def run_maintenances(session: Session, *, now: datetime, base_url: str) -> int:
    """Start the maintenances due to start, complete those due to end (the engine's job, under
    its lease; each transition is guarded by the row's status, so running it twice is a
    no-op). Returns how many changed."""
    changed = 0
    due = session.scalars(
        select(StatusIncident).where(
            StatusIncident.kind == "maintenance",
            StatusIncident.auto.is_(True),
            StatusIncident.resolved_at.is_(None),
            ((StatusIncident.status == "scheduled") & (StatusIncident.scheduled_for <= now))
            | (StatusIncident.scheduled_until <= now),
        )
    ).all()
    for row in due:
        assert row.scheduled_for is not None and row.scheduled_until is not None
        if row.status == "scheduled" and row.scheduled_until > now:
            _maintenance_step(session, row, "in_progress", row.scheduled_for, base_url)
        else:
            if row.status == "scheduled":  # missed entirely (engine down): start, then end
                _maintenance_step(session, row, "in_progress", row.scheduled_for, base_url)
            _maintenance_step(session, row, "completed", row.scheduled_until, base_url)
        changed += 1
    return changed


def _maintenance_step(
    session: Session, row: StatusIncident, status: str, at: datetime, base_url: str
) -> None:
    ids = [a.component_id for a in row.components]
    old = {
        c.id: c.status
        for c in session.scalars(select(Component).where(Component.id.in_(ids or [""])))
    }
    row.status, row.updated_at, row.last_update_at = status, at, at
    if status == "in_progress":
        row.started_at = at
        text = f"Scheduled maintenance of {joined(names(session, ids))} is in progress."
    else:
        row.resolved_at = at
        text = f"Scheduled maintenance of {joined(names(session, ids))} is complete."
    session.flush()
    recompute(session, ids, at)
    new = {
        c.id: (c.name, c.status)
        for c in session.scalars(select(Component).where(Component.id.in_(ids or [""])))
    }
    update_row = StatusUpdate(
        status_incident_id=row.id,
        status=status,
        body=text,
        affected=[
            {"code": i, "name": new[i][0], "old_status": old[i], "new_status": new[i][1]}
            for i in ids
            if i in new
        ]
        or None,
        author="engine",
        created_at=at,
    )
    session.add(update_row)
    session.flush()
    touch(session, at)
    audit.record(
        session,
        actor="engine",
        action=f"maintenance.{'start' if status == 'in_progress' else 'complete'}",
        object_type="maintenance",
        object_id=str(row.id),
        at=at,
        after={"status": status},
    )


# --- update enforcement -----------------------------------------------------------------------


def enforce_updates(session: Session, *, now: datetime, base_url: str) -> int:
    """Open status incidents whose owner has been silent: after `update_every`, remind the
    owner through their notification rules (a link straight to the update form); after one
    more period, page the team's L1. Each step once per silence (`reminded_at`, `paged_at`,
    cleared by the next update; the outbox keys make a second engine a no-op)."""
    done = 0
    rows = session.scalars(
        select(StatusIncident).where(
            StatusIncident.kind == "incident",
            StatusIncident.resolved_at.is_(None),
            StatusIncident.update_every_s.is_not(None),
            StatusIncident.paged_at.is_(None),
        )
    ).all()
    for row in rows:
        every = timedelta(seconds=row.update_every_s or 0)
        if every <= timedelta(0):
            continue
        silent = now - row.last_update_at
        form = f"{base_url.rstrip('/')}/status-admin/incidents/{row.id}"
        if row.reminded_at is None and silent >= every:
            people = [row.owner_id] if row.owner_id else []
            text = (
                f"Status page update due for {row.name!r}: the last one was "
                f"{int(silent.total_seconds() // 60)} min ago. Post it: {form}"
            )
            _notify(session, row, people, "remind", text, outbox.NOTICE, now)
            row.reminded_at = now
            done += 1
        elif row.reminded_at is not None and silent >= 2 * every:
            incident = session.get(Incident, row.incident_id) if row.incident_id else None
            team = incident.team_id if incident is not None else team_of(session, row)
            people = (
                schedules_service.responders(
                    session, team_id=team, discipline=None, target="L1", at=now
                )
                if team
                else []
            )
            text = (
                f"Status page update overdue for {row.name!r}: nothing posted for "
                f"{int(silent.total_seconds() // 60)} min; the owner was reminded. {form}"
            )
            _notify(session, row, people, "page", text, outbox.PAGE, now)
            row.paged_at = now
            done += 1
    return done


def team_of(session: Session, row: StatusIncident) -> str | None:
    """A status incident with no onduty incident: the team of the first service of its first
    component."""
    for link in row.components:
        component = session.get(Component, link.component_id)
        for service_id in (component.services if component else []) or []:
            service = session.get(Service, service_id)
            if service is not None:
                return service.team_id
    return None


def _notify(
    session: Session,
    row: StatusIncident,
    people: list[str],
    step: str,
    text: str,
    priority: int,
    now: datetime,
) -> None:
    items = []
    for person_id in people:
        person = session.get(Person, person_id)
        if person is None:
            continue
        rules = [(r.contact_method, r.after_s) for r in person.notification_rules] or [
            (m, 0) for m in person.contact_methods
        ]
        for method, after_s in rules:
            items.append(
                outbox.OutboxItem(
                    key=f"status:{row.id}:{row.last_update_at:%Y%m%dT%H%M%S%f}:{step}:{person_id}:cm{method.id}",
                    event="status.update_due",
                    due_at=now + timedelta(seconds=after_s),
                    person_id=person_id,
                    contact_method_id=method.id,
                    channel=method.type,
                    priority=priority,
                    incident_id=row.incident_id,
                    text=text,
                )
            )
    outbox.enqueue_many(session, items, now=now)
    if row.incident_id is not None:
        timeline(
            session,
            row.incident_id,
            now=now,
            kind=f"status_page.{'reminder' if step == 'remind' else 'overdue'}",
            actor="engine",
            channel="status_page",
            status_incident=row.id,
            notified=people,
        )


# --- fan-out: subscribers and Intercom -------------------------------------------------------


def fan_out(
    session: Session,
    row: StatusIncident,
    update_row: StatusUpdate,
    *,
    kind: str,
    now: datetime,
    base_url: str,
) -> int:
    """Queue the update for every confirmed subscriber (BULK: pages go first) and each
    Intercom conversation linked to the status incident's incident; one statement, keys per
    (update, recipient) so nothing goes twice."""
    base = base_url.rstrip("/")
    incident = session.get(Incident, row.incident_id) if row.incident_id else None
    variables = context(
        session,
        base_url=base_url,
        name=row.name,
        status=update_row.status,
        impact=row.impact,
        component_ids=[a.component_id for a in row.components],
        body=update_row.body,
        incident=incident,
        started_at=row.started_at,
        updated_at=update_row.created_at,
    )
    page = get_page(session, now)
    subject = f"[{page.name}] {row.name}: {update_row.status}"
    items: list[outbox.OutboxItem] = []
    subscribers = session.execute(
        select(Subscriber.id, Subscriber.email, Subscriber.token).where(
            Subscriber.confirmed_at.is_not(None), Subscriber.unsubscribed_at.is_(None)
        )
    ).all()
    if subscribers:
        # One render per update: the unsubscribe link is the only per-subscriber part.
        marker = "\x00UNSUBSCRIBE\x00"
        text = render(
            session, "client_email", {**variables, "unsubscribe_url": marker, "kind": kind}
        )
        for sid, email, token in subscribers:
            url = f"{base}/status/unsubscribe/{token}"
            items.append(
                outbox.OutboxItem(
                    key=f"sub:{update_row.id}:{sid}",
                    event="status.update",
                    due_at=now,
                    target="mail",
                    payload={
                        "to": email,
                        "subject": subject,
                        "text": text.replace(marker, url),
                        "unsubscribe": url,
                    },
                    priority=outbox.BULK,
                )
            )
    if row.incident_id is not None:
        conversations = session.scalars(
            select(IntercomConversation).where(IntercomConversation.incident_id == row.incident_id)
        ).all()
        if conversations:
            reply = render(session, "intercom_reply", variables)
            for conv in conversations:
                items.append(
                    outbox.OutboxItem(
                        key=f"intercom:{update_row.id}:{conv.conversation_id}",
                        event="intercom.reply",
                        due_at=now,
                        target="intercom",
                        payload={
                            "conversation_id": conv.conversation_id,
                            "message_type": "note" if conv.reply_as == "note" else "comment",
                            "body": reply,
                        },
                        priority=outbox.NOTICE,
                        incident_id=row.incident_id,
                    )
                )
    outbox.enqueue_bulk(session, items, now=now)
    return len(items)


def subscribe(session: Session, *, email: str, now: datetime, base_url: str) -> Subscriber:
    """Start a subscription: a confirmation mail with a link; mails start only once it is
    followed. Subscribing again re-sends the confirmation (once per hour at most)."""
    address = email.strip()
    if (
        len(address) > 254
        or address.count("@") != 1
        or any(c.isspace() or c in "<>,;\"'" for c in address)
        or "." not in address.rpartition("@")[2]
    ):
        raise InvalidInput("not an e-mail address", "email")
    row = session.scalars(select(Subscriber).where(Subscriber.email == address)).first()
    if row is None:
        row = Subscriber(email=address, token=secrets.token_urlsafe(24), created_at=now)
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor="public",
            action="subscriber.create",
            object_type="subscriber",
            object_id=str(row.id),
            at=now,
        )
    elif row.unsubscribed_at is not None:
        row.unsubscribed_at, row.confirmed_at = None, None
        row.token = secrets.token_urlsafe(24)
    if row.confirmed_at is None:
        page = get_page(session, now)
        url = f"{base_url.rstrip('/')}/status/confirm/{row.token}"
        outbox.enqueue(
            session,
            outbox.OutboxItem(
                key=f"subconfirm:{row.id}:{now:%Y%m%d%H}",
                event="status.confirm",
                due_at=now,
                target="mail",
                payload={
                    "to": row.email,
                    "subject": f"Confirm your subscription to {page.name}",
                    "text": (
                        f"Someone (we hope you) asked to receive {page.name} updates at this "
                        f"address.\n\nConfirm: {url}\n\nIf it was not you, ignore this mail: "
                        "nothing will be sent without confirmation.\n"
                    ),
                },
                priority=outbox.NOTICE,
            ),
            now=now,
        )
    return row


def confirm(session: Session, *, token: str, now: datetime) -> Subscriber:
    row = session.scalars(select(Subscriber).where(Subscriber.token == token)).first()
    if row is None or row.unsubscribed_at is not None:
        raise NotFound("this link is unknown or was replaced", "token")
    if row.confirmed_at is None:
        row.confirmed_at = now
        audit.record(
            session,
            actor="public",
            action="subscriber.confirm",
            object_type="subscriber",
            object_id=str(row.id),
            at=now,
        )
    return row


def unsubscribe(session: Session, *, token: str, now: datetime) -> Subscriber:
    row = session.scalars(select(Subscriber).where(Subscriber.token == token)).first()
    if row is None:
        raise NotFound("this link is unknown", "token")
    if row.unsubscribed_at is None:
        row.unsubscribed_at = now
        audit.record(
            session,
            actor="public",
            action="subscriber.unsubscribe",
            object_type="subscriber",
            object_id=str(row.id),
            at=now,
        )
    return row


def link_conversation(
    session: Session,
    *,
    notification_id: str,
    conversation_id: str,
    incident_id: int,
    reply_as: str,
    now: datetime,
) -> bool:
    """Link an Intercom conversation to an incident; False when the notification was stored
    already (a replay)."""
    from onduty.db import dialect

    made = session.execute(
        dialect.insert_new(session, IntercomConversation)
        .values(
            notification_id=notification_id,
            conversation_id=conversation_id,
            incident_id=incident_id,
            reply_as=reply_as,
            created_at=now,
        )
        .returning(IntercomConversation.id)
    ).scalar()
    return made is not None


def known_notification(session: Session, notification_id: str) -> bool:
    return (
        session.scalar(
            select(IntercomConversation.id).where(
                IntercomConversation.notification_id == notification_id
            )
        )
        is not None
    )
