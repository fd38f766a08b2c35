"""The outbox (one row per message to send: to a person's contact method, or a call to an
external system), used action links, the engine lease and the engine instances that hold claims.
Rows are written only through notify/outbox.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from onduty.db.base import Base, UTCDateTime

PENDING, SENDING, SENT, FAILED, CANCELLED = "pending", "sending", "sent", "failed", "cancelled"


class OutboxMessage(Base):
    """`status` moves pending -> sending -> sent | failed (or back to pending to retry), or
    pending -> cancelled (acknowledged before it was sent). A `sending` row names the engine
    instance holding its claim (`claimed_by`) and a `deadline`; a claim whose instance died, or
    that outlived its deadline, goes back to pending (notify/outbox.py: `release`).

    A row is for a person (`person_id`, `contact_method_id`, `channel`) or for an external
    system (`target` and its JSON `payload`), never both. `rule_key` is the enqueue's
    idempotency key: a second enqueue with it is a no-op. Claims take due rows by `priority`
    (pages 0 first), then `due_at`."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("rule_key"),
        Index("ix_outbox_due", "status", "due_at"),
        CheckConstraint(
            "(target IS NULL AND person_id IS NOT NULL AND contact_method_id IS NOT NULL"
            " AND channel IS NOT NULL) OR (target IS NOT NULL AND person_id IS NULL"
            " AND contact_method_id IS NULL AND channel IS NULL)",
            name="recipient",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(SmallInteger)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE")
    )
    person_id: Mapped[str | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    contact_method_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_method.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    step: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UsedActionLink(Base):
    """Signed action links are single use: the digest of each one used is kept."""

    __tablename__ = "used_action_link"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SlackRequest(Base):
    """Slack requests seen in the last minutes, by signature: a signed request replayed within
    Slack's 5-minute window is refused (the window alone refuses it after that). Rows older
    than the window are purged as new ones arrive."""

    __tablename__ = "slack_request"

    signature: Mapped[str] = mapped_column(String(80), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class EngineLease(Base):
    """Periodic jobs run in the engine holding the (unexpired) lease of their name."""

    __tablename__ = "engine_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EngineInstance(Base):
    """A running engine, renewed every tick: the holder of the outbox claims naming its `id`.

    `host` identifies the machine and process namespace (`pid` means something only there) and
    `started` the process's start time, so a restarted engine can tell at once that an earlier
    one on its machine is gone even if the pid was reused (engine/instance.py)."""

    __tablename__ = "engine_instance"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    host: Mapped[str] = mapped_column(String(300))
    pid: Mapped[int] = mapped_column(Integer)
    started: Mapped[str] = mapped_column(String(32))
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
