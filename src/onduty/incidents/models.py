"""Tables for triage configuration: the priority policy (P1–P4) and ordered criticality rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from onduty.db.base import Base


class PriorityPolicy(Base):
    __tablename__ = "priority_policy"

    priority: Mapped[str] = mapped_column(String(2), primary_key=True)
    page: Mapped[str] = mapped_column(String(16))  # always | working_hours
    backlog: Mapped[bool] = mapped_column(Boolean, default=False)
    status_page: Mapped[bool] = mapped_column(Boolean, default=False)
    postmortem: Mapped[bool] = mapped_column(Boolean, default=False)
    update_every_s: Mapped[int | None] = mapped_column(Integer)
    resolve_within_s: Mapped[int | None] = mapped_column(Integer)


class CriticalityRule(Base):
    __tablename__ = "criticality_rule"

    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    when: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[str] = mapped_column(String(2))
