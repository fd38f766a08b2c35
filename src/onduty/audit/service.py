"""Recording and reading audit events. The domain services record their own changes in the
caller's transaction, so a change and its audit entry commit (or roll back) together, whoever
called the service (web page, API, CLI, Slack, SMS, voice, signed link, policy file)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from onduty.audit.models import AuditEvent

# The actor of a change made by no person through no channel: setup scripts and tests that call
# a service directly. Every route and command passes the real actor.
SYSTEM = "system"

_INSERT = insert(cast(Table, AuditEvent.__table__))


def entry(
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One audit row's values, for `record_all`."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "before": before,
        "after": after,
    }


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
) -> None:
    """Append one event: one INSERT, at once, in the caller's transaction, nothing read (a Core
    insert: the ORM's unit of work would cost more than the statement)."""
    values = entry(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        at=at,
        before=before,
        after=after,
    )
    record_all(session, [values])


def record_all(session: Session, entries: list[dict[str, Any]]) -> None:
    """Append several events in one statement, in order."""
    if entries:
        session.connection().execute(_INSERT, entries)


def list_events(
    session: Session, *, limit: int = 200, object_type: str | None = None
) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    return list(session.scalars(query))
