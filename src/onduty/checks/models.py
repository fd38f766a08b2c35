"""Tables for daily checks (SPEC §6.4): each check as the policy file states it, with its live
state, and its history (ticks, misses, failures, recoveries)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from onduty.db.base import Base, UTCDateTime


class Check(Base):
    """A checklist, heartbeat or http check. `spec` holds the file's fields (durations in
    seconds); team and service are plain ids because lint checks them and apply removes a
    check with the file that named them. `next_due_at` is when the engine must look again: a
    heartbeat's deadline (last ping + every + grace) or an http check's next probe."""

    __tablename__ = "check"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[str | None] = mapped_column(String(64))
    service_id: Mapped[str | None] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    key: Mapped[str | None] = mapped_column(String(64), unique=True)  # a heartbeat's ping key
    managed: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|ok|failing
    state_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # failed probes in a row
    pings: Mapped[int] = mapped_column(Integer, default=0)
    last_ping_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class CheckRun(Base):
    """One event in a check's history. A checklist's rows carry the local `day` of their
    occurrence; `key` (unique) makes the engine's rows once-only per period, so a second
    engine or a lease handover cannot write a miss or raise its alert twice."""

    __tablename__ = "check_run"
    __table_args__ = (Index("ix_check_run_check_at", "check_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    check_id: Mapped[str] = mapped_column(ForeignKey("check.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # due|tick|done|missed|failed|recovered|late
    day: Mapped[date | None] = mapped_column(Date)
    item: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str | None] = mapped_column(String(100))
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    key: Mapped[str | None] = mapped_column(String(300), unique=True)
