"""The outbox: one row per message to send (person x contact method x rule), written in the
transaction that decided it, delivered later by the engine."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from onduty.db.base import Base, UTCDateTime

PENDING, SENDING, SENT, FAILED, CANCELLED = "pending", "sending", "sent", "failed", "cancelled"


class OutboxMessage(Base):
    """`id` is the idempotency key handed to the channel. `status` moves pending -> sending ->
    sent | failed, or pending -> cancelled (acknowledged before it was sent). A row left in
    `sending` past `deadline` was claimed by an engine that died mid-send (see engine/deliver.py).
    `rule_key` makes the expansion of one notification idempotent."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("rule_key"),
        Index("ix_outbox_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE")
    )
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    contact_method_id: Mapped[int] = mapped_column(
        ForeignKey("contact_method.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    step: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
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


class EngineLease(Base):
    """Periodic jobs run in the engine holding the (unexpired) lease of their name."""

    __tablename__ = "engine_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
