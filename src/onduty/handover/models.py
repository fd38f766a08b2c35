"""Tables for the weekly handover: one report per team and handoff, the meeting record, and
agenda items people add during the week."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from onduty.db.base import Base, UTCDateTime


class Handover(Base):
    """The report generated at a team's weekly handoff (`at`, from the rota arithmetic); the
    unique (team, at) makes generation once-only whichever engine holds the lease."""

    __tablename__ = "handover"
    __table_args__ = (UniqueConstraint("team_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meeting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attendees: Mapped[list[str] | None] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    outcomes: Mapped[str | None] = mapped_column(Text)


class AgendaItem(Base):
    """A topic for the next handover meeting; attached to the handover generated next."""

    __tablename__ = "handover_agenda_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    handover_id: Mapped[int | None] = mapped_column(
        ForeignKey("handover.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(String(1000))
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HandoverMeeting(Base):
    """The policy file's `handover: {day, time, duration}` (one row, id 1): the weekly meeting
    in each team's zone. A table of its own so that older code reading `organization` is not
    affected by it."""

    __tablename__ = "handover_meeting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(3))
    time: Mapped[str] = mapped_column(String(5))
    duration_s: Mapped[int] = mapped_column(Integer)
