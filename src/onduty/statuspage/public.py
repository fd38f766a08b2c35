"""What the public status page shows, read once per page version: the Statuspage-compatible
JSON documents (FORMATS §9; ids as strings, instants ISO-8601 with milliseconds and offset,
newest update first) and the 90-day history bars of the HTML page."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.statuspage import service
from onduty.statuspage.models import AffectedComponent, Component, StatusIncident, StatusPage

HISTORY_DAYS = 90
PAST_INCIDENTS = 50


def iso(at: datetime | None) -> str | None:
    """`2026-01-01T00:12:30.417Z`, Statuspage's form."""
    if at is None:
        return None
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass
class Snapshot:
    """Everything the public routes serve, read in one pass."""

    page: dict[str, Any]
    status: dict[str, str]
    components: list[dict[str, Any]]
    incidents: list[dict[str, Any]]  # the 50 most recent
    unresolved: list[dict[str, Any]]
    maintenances: list[dict[str, Any]]  # the 50 most recent
    upcoming: list[dict[str, Any]]
    active: list[dict[str, Any]]
    rows: list[Component]
    incident_rows: list[StatusIncident]
    maintenance_rows: list[StatusIncident]
    zone: str
    updated_at: datetime


def _group_id(name: str) -> str:
    return "group-" + "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def snapshot(session: Session, *, base_url: str, now: datetime) -> Snapshot:
    # A read writes nothing: a database without a page row is served a default one.
    page_row = session.get(StatusPage, 1) or StatusPage(
        id=1, name="Status", created_at=now, updated_at=now
    )
    pid = service.page_id(base_url)
    zone = service.org_zone(session)
    base = base_url.rstrip("/")
    page = {
        "id": pid,
        "name": page_row.name,
        "url": f"{base}/status",
        "time_zone": zone,
        "updated_at": iso(page_row.updated_at),
    }
    rows = service.components(session)
    by_id: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    position = 0
    for c in rows:
        group_id = None
        if c.group:
            group_id = _group_id(c.group)
            if group_id not in groups:
                position += 1
                groups[group_id] = {
                    "id": group_id,
                    "name": c.group,
                    "status": "operational",
                    "created_at": iso(c.created_at),
                    "updated_at": iso(c.updated_at),
                    "position": position,
                    "description": None,
                    "showcase": False,
                    "start_date": None,
                    "group_id": None,
                    "page_id": pid,
                    "group": True,
                    "only_show_if_degraded": False,
                    "components": [],
                }
                out.append(groups[group_id])
            group = groups[group_id]
            group["components"].append(c.id)
            if service._rank(c.status) > service._rank(group["status"]):
                group["status"] = c.status
            group["updated_at"] = max(group["updated_at"], iso(c.updated_at) or "")
        position += 1
        doc = {
            "id": c.id,
            "name": c.name,
            "status": c.status,
            "created_at": iso(c.created_at),
            "updated_at": iso(c.updated_at),
            "position": position,
            "description": c.description,
            "showcase": True,
            "start_date": c.created_at.astimezone(UTC).date().isoformat(),
            "group_id": group_id,
            "page_id": pid,
            "group": False,
            "only_show_if_degraded": False,
        }
        by_id[c.id] = doc
        out.append(doc)
    incident_rows = _recent(session, "incident")
    maintenance_rows = _recent(session, "maintenance")
    open_incidents = [
        r for r in _open(session, "incident") if r.id not in {i.id for i in incident_rows}
    ]
    incidents = [_incident(r, pid, base, by_id) for r in incident_rows]
    unresolved_rows = sorted(
        [r for r in incident_rows if r.resolved_at is None] + open_incidents,
        key=lambda r: r.id,
        reverse=True,
    )
    unresolved = [_incident(r, pid, base, by_id) for r in unresolved_rows]
    maintenances = [_incident(r, pid, base, by_id) for r in maintenance_rows]
    live = [r for r in _open(session, "maintenance")]
    upcoming = [_incident(r, pid, base, by_id) for r in live if r.status == "scheduled"]
    active = [
        _incident(r, pid, base, by_id) for r in live if r.status in ("in_progress", "verifying")
    ]
    status = service.overall([c.status for c in rows], [r.impact for r in unresolved_rows])
    return Snapshot(
        page=page,
        status={"indicator": status.indicator, "description": status.description},
        components=out,
        incidents=incidents,
        unresolved=unresolved,
        maintenances=maintenances,
        upcoming=upcoming,
        active=active,
        rows=rows,
        incident_rows=incident_rows,
        maintenance_rows=[r for r in live],
        zone=zone,
        updated_at=page_row.updated_at,
    )


def _recent(session: Session, kind: str) -> list[StatusIncident]:
    return list(
        session.scalars(
            select(StatusIncident)
            .where(StatusIncident.kind == kind)
            .order_by(StatusIncident.id.desc())
            .limit(PAST_INCIDENTS)
        )
    )


def _open(session: Session, kind: str) -> list[StatusIncident]:
    return list(
        session.scalars(
            select(StatusIncident)
            .where(StatusIncident.kind == kind, StatusIncident.resolved_at.is_(None))
            .order_by(StatusIncident.id.desc())
        )
    )


def _incident(
    row: StatusIncident, pid: str, base: str, components: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    ident = str(row.id)
    doc: dict[str, Any] = {
        "id": ident,
        "name": row.name,
        "status": row.status,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "monitoring_at": iso(row.monitoring_at),
        "resolved_at": iso(row.resolved_at),
        "impact": row.impact,
        "shortlink": f"{base}/status#incident-{ident}",
        "started_at": iso(row.started_at),
        "page_id": pid,
        "incident_updates": [
            {
                "id": str(u.id),
                "status": u.status,
                "body": u.body,
                "incident_id": ident,
                "created_at": iso(u.created_at),
                "updated_at": iso(u.created_at),
                "display_at": iso(u.created_at),
                "affected_components": u.affected,
                "deliver_notifications": u.notify,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for u in row.updates  # newest first (the relationship's order)
        ],
        "components": [
            components[a.component_id] for a in row.components if a.component_id in components
        ],
    }
    if row.kind == "maintenance":
        doc["scheduled_for"] = iso(row.scheduled_for)
        doc["scheduled_until"] = iso(row.scheduled_until)
    return doc


# --- the HTML page's history ------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    status: str  # the worst status any incident gave the component that day
    incidents: tuple[str, ...]


def history(session: Session, component_ids: list[str], *, today: date) -> dict[str, list[Day]]:
    """For each component, its last HISTORY_DAYS days (oldest first) with the worst status an
    incident or maintenance gave it on each, and their names. One query for the window."""
    first = today - timedelta(days=HISTORY_DAYS - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    rows = session.execute(
        select(
            AffectedComponent.component_id,
            AffectedComponent.worst,
            StatusIncident.name,
            StatusIncident.started_at,
            StatusIncident.resolved_at,
            StatusIncident.status,
        )
        .join(StatusIncident, StatusIncident.id == AffectedComponent.status_incident_id)
        .where(
            (StatusIncident.resolved_at.is_(None)) | (StatusIncident.resolved_at >= start),
            StatusIncident.status != "scheduled",
        )
    )
    worst: dict[tuple[str, date], str] = {}
    names: dict[tuple[str, date], list[str]] = defaultdict(list)
    for component_id, status, name, started, resolved, _st in rows:
        d = max(started.astimezone(UTC).date(), first)
        last = (resolved or datetime.combine(today, datetime.min.time(), UTC)).astimezone(UTC)
        end = min(last.date(), today)
        while d <= end:
            key = (component_id, d)
            if key not in worst or service._rank(status) > service._rank(worst[key]):
                worst[key] = status
            names[key].append(name)
            d += timedelta(days=1)
    return {
        cid: [
            Day(
                day,
                worst.get((cid, day), "operational"),
                tuple(dict.fromkeys(names.get((cid, day), []))),
            )
            for day in (first + timedelta(days=i) for i in range(HISTORY_DAYS))
        ]
        for cid in component_ids
    }
