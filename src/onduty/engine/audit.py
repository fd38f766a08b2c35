"""The auditor: invariants that must hold, checked instead of trusted. Every open, unacknowledged
incident due to page has a next step or has finished its policy; no outbox row is stuck; the
periodic-job lease is fresh. Its counts go to /metrics and /readyz."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from onduty.escalation.models import EscalationState
from onduty.incidents.models import Incident
from onduty.notify import models as ob

GRACE = timedelta(minutes=2)


def audit(session: Session, *, now: datetime, tick: timedelta) -> dict[str, int]:
    """Counts of violations (0 is healthy) and the lease's age in seconds."""
    grace = max(GRACE, tick * 10)
    unescalated = session.scalar(
        select(func.count())
        .select_from(Incident)
        .outerjoin(EscalationState, EscalationState.incident_id == Incident.id)
        .where(
            Incident.status == "triggered",
            Incident.page_due_at <= now - grace,
            or_(
                EscalationState.incident_id.is_(None),
                EscalationState.generation != Incident.generation,
                (EscalationState.finished.is_(False)) & (EscalationState.next_at.is_(None)),
                (EscalationState.finished.is_(False)) & (EscalationState.next_at < now - grace),
            ),
        )
    )
    stuck = session.scalar(
        select(func.count())
        .select_from(ob.OutboxMessage)
        .where(
            or_(
                (ob.OutboxMessage.status == ob.PENDING) & (ob.OutboxMessage.due_at < now - grace),
                (ob.OutboxMessage.status == ob.SENDING) & (ob.OutboxMessage.deadline < now - grace),
            )
        )
    )
    lease = session.get(ob.EngineLease, "periodic")
    age = int((now - lease.heartbeat_at).total_seconds()) if lease else -1
    return {
        "incidents_without_next_step": int(unescalated or 0),
        "outbox_stuck": int(stuck or 0),
        "lease_age_seconds": age,
    }


def healthy(result: dict[str, int], *, tick: timedelta) -> bool:
    max_age = max(120, int(tick.total_seconds() * 10))
    return (
        result["incidents_without_next_step"] == 0
        and result["outbox_stuck"] == 0
        and 0 <= result["lease_age_seconds"] <= max_age
    )
