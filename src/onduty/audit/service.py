"""Recording and reading audit events. Recorded in the caller's transaction, so a change and its
audit entry commit (or roll back) together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.audit.models import AuditEvent


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
    session.add(event)
    return event


def list_events(
    session: Session, *, limit: int = 200, object_type: str | None = None
) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    return list(session.scalars(query))
