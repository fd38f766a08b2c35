"""Tables for escalation policies and their ordered steps ("notify TARGETS, then wait D")."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onduty.db.base import Base


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
