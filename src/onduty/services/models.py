"""Tables for services (owned by a team, with an escalation policy) and their integrations,
each with a secret key that authenticates inbound alerts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onduty.db.base import Base


class Service(Base):
    __tablename__ = "service"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id"), index=True)
    discipline: Mapped[str | None] = mapped_column(String(64))
    escalation_policy_id: Mapped[str | None] = mapped_column(ForeignKey("escalation_policy.id"))
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    integrations: Mapped[list[Integration]] = relationship(
        cascade="all, delete-orphan", order_by="Integration.id"
    )


class Integration(Base):
    __tablename__ = "integration"
    __table_args__ = (UniqueConstraint("service_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rate_limit: Mapped[int | None] = mapped_column(Integer)  # per minute; None = the default
    auto_resolve: Mapped[bool] = mapped_column(Boolean, default=True)


class IntakeRateWindow(Base):
    """Requests an integration sent in one clock minute, counted by every API process alike
    (PostgreSQL; see incidents/admission.py)."""

    __tablename__ = "intake_rate_window"

    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integration.id", ondelete="CASCADE"), primary_key=True
    )
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
