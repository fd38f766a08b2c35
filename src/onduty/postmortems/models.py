"""Tables for postmortems: one per incident whose priority requires it, its questionnaire and
timeline, and its action items (kept as rows so the Jira helper can push each one and record
the issue it became)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onduty.db.base import Base, UTCDateTime


class Postmortem(Base):
    """`version` counts saves: a save names the version it edited, and one that is not the
    current version is refused (two people editing at once). `answers` holds the questionnaire
    (postmortems/questions.py); `timeline` a list of {at, text}."""

    __tablename__ = "postmortem"
    __table_args__ = (Index("ix_postmortem_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16))  # draft | in_review | published
    owner_id: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    timeline: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(String(100))

    actions: Mapped[list[PostmortemAction]] = relationship(
        order_by="PostmortemAction.position",
        cascade="all, delete-orphan",
        back_populates="postmortem",
    )


class PostmortemAction(Base):
    """An action item. `jira_key`/`jira_status` are for the Jira integration to fill when it
    pushes the item as an issue; nothing here talks to Jira."""

    __tablename__ = "postmortem_action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(
        ForeignKey("postmortem.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    owner_id: Mapped[str | None] = mapped_column(String(64))
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    jira_key: Mapped[str | None] = mapped_column(String(64))
    jira_status: Mapped[str | None] = mapped_column(String(64))
    jira_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str | None] = mapped_column(Text)

    postmortem: Mapped[Postmortem] = relationship(back_populates="actions")
