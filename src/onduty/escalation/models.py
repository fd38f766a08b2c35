"""Tables for escalation policies and their ordered steps ("notify TARGETS, then wait D"), each
incident's escalation state, and the people each step paged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onduty.db.base import Base, UTCDateTime


class EscalationPolicy(Base):
    __tablename__ = "escalation_policy"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    steps: Mapped[list[EscalationStep]] = relationship(
        cascade="all, delete-orphan", order_by="EscalationStep.position"
    )


class EscalationStep(Base):
    __tablename__ = "escalation_step"
    __table_args__ = (UniqueConstraint("policy_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(ForeignKey("escalation_policy.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    targets: Mapped[list[str]] = mapped_column(JSON)
    wait_s: Mapped[int] = mapped_column(Integer)


class EscalationState(Base):
    """Where an incident's escalation stands. `policy` is a snapshot of the service's policy
    taken when escalation started (see docs/ARCHITECTURE.md, "Escalation"); `generation` is the
    incident's generation when this state was written: a mismatch means an acknowledge, resolve
    or reopen happened since, and the engine drops the stale work."""

    __tablename__ = "escalation_state"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True
    )
    policy_id: Mapped[str | None] = mapped_column(String(64))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"repeat": n, "steps": [...]}
    step: Mapped[int] = mapped_column(Integer, default=0)  # the next step to run
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    generation: Mapped[int] = mapped_column(Integer)
    finished: Mapped[bool] = mapped_column(Boolean, default=False)


class Notification(Base):
    """One person paged by one step of one cycle of an incident's escalation. The unique key
    stops a second engine (or a retried tick) from paging the same person twice for it."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("incident_id", "generation", "cycle", "step", "person_id"),
        Index("ix_notification_created_at", "created_at"),  # reports read pages by time
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    generation: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
