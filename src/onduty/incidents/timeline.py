"""The incident timeline: append-only events of who did what, when, through which channel.

Events are written with Core inserts, at once: they are never read back as objects in the
transaction that writes them, and the ORM's unit of work would cost more than the insert."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from onduty.incidents.models import Incident, TimelineEvent

_INSERT_EVENT = insert(cast(Table, TimelineEvent.__table__))


def timeline(
    session: Session,
    incident: Incident | int,
    *,
    now: datetime,
    kind: str,
    actor: str,
    channel: str,
    **data: Any,
) -> None:
    """Append an event, written at once (a Core insert: events are never read back as
    objects in the transaction that writes them, and the ORM's unit of work costs more)."""
    incident_id = incident if isinstance(incident, int) else incident.id
    write_events(session, [event(incident_id, now, kind, actor, channel, **data)])


def event(
    incident_id: int, now: datetime, kind: str, actor: str, channel: str, **data: Any
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "at": now,
        "kind": kind,
        "actor": actor,
        "channel": channel,
        "data": data,
    }


def write_events(session: Session, events: list[dict[str, Any]]) -> None:
    """Several events in one statement (one round trip on PostgreSQL), in order; the list is
    emptied."""
    if events:
        session.connection().execute(_INSERT_EVENT, events)
        events.clear()
