"""Tables for runbooks: the current text of each (from the policy's runbooks folder), every
version applied, the verdicts responders give at resolution, and the tasks those open."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from onduty.db.base import Base, UTCDateTime


class Runbook(Base):
    """A runbook as last applied. `error` holds the last failed load of its file (the stored
    version stays in use); `active` is false once its file left the folder (its verdicts and
    versions are kept for the record)."""

    __tablename__ = "runbook"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    services: Mapped[list[str]] = mapped_column(JSON)
    match: Mapped[dict[str, str]] = mapped_column(JSON)
    owner_id: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)  # the whole file, front matter included
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RunbookVersion(Base):
    __tablename__ = "runbook_version"
    __table_args__ = (UniqueConstraint("runbook_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    runbook_id: Mapped[str] = mapped_column(ForeignKey("runbook.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_by: Mapped[str] = mapped_column(String(100))


class RunbookFeedback(Base):
    """Whether a runbook was enough to resolve an incident: one verdict per (incident,
    runbook); giving it again replaces it."""

    __tablename__ = "runbook_feedback"
    __table_args__ = (UniqueConstraint("incident_id", "runbook_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    runbook_id: Mapped[str] = mapped_column(
        ForeignKey("runbook.id", ondelete="CASCADE"), index=True
    )
    runbook_version: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))  # enough | partly | not_enough
    missing: Mapped[str | None] = mapped_column(Text)
    given_by: Mapped[str] = mapped_column(String(100))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RunbookTask(Base):
    """Fix a runbook where it fell short: opened by a "partly" or "not enough" verdict, closed
    by a new version of the runbook (`closed_by_version`) or by a person with a link."""

    __tablename__ = "runbook_task"
    __table_args__ = (Index("ix_runbook_task_open", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    runbook_id: Mapped[str] = mapped_column(
        ForeignKey("runbook.id", ondelete="CASCADE"), index=True
    )
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    feedback_id: Mapped[int] = mapped_column(
        ForeignKey("runbook_feedback.id", ondelete="CASCADE"), unique=True
    )
    owner_id: Mapped[str | None] = mapped_column(String(64))
    missing: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    closed_by_version: Mapped[int | None] = mapped_column(Integer)
    link: Mapped[str | None] = mapped_column(String(2000))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
