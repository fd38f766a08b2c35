"""Tables of the status page. A maintenance is a status incident of kind `maintenance` (as in
Statuspage's JSON, where a scheduled maintenance is an incident with two more fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onduty.db.base import Base, UTCDateTime


class StatusPage(Base):
    """The one page (id 1): its name from the policy file, and
    `updated_at`, moved by every change to what the page shows (the public routes' ETag and
    cache key, read with one primary-key lookup)."""

    __tablename__ = "status_page"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Component(Base):
    """What clients see. `status` is derived (statuspage/service.py: `recompute`) from the open
    status incidents and active maintenances that name it."""

    __tablename__ = "status_component"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    group: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32), default="operational")
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusIncident(Base):
    """A status incident (`kind` incident) or a scheduled maintenance (`kind` maintenance).

    Update enforcement: `owner_id` must post an update every `update_every_s`; `reminded_at`
    and `paged_at` say which of the two escalations of a silence ran (reset by each update).
    A maintenance with `auto` starts and completes itself at `scheduled_for`/`_until`."""

    __tablename__ = "status_incident"
    __table_args__ = (Index("ix_status_incident_open", "kind", "resolved_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # incident | maintenance
    name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    impact: Mapped[str] = mapped_column(String(16))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id", ondelete="SET NULL"), index=True
    )
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(100))
    update_every_s: Mapped[int | None] = mapped_column(Integer)
    last_update_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheduled_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    monitoring_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    components: Mapped[list[AffectedComponent]] = relationship(
        cascade="all, delete-orphan", order_by="AffectedComponent.component_id", lazy="selectin"
    )
    updates: Mapped[list[StatusUpdate]] = relationship(
        cascade="all, delete-orphan", order_by="StatusUpdate.id.desc()", lazy="selectin"
    )


class AffectedComponent(Base):
    """A component a status incident names, the status it gives it now, and the worst it gave
    it (the day bars' colour)."""

    __tablename__ = "status_incident_component"

    status_incident_id: Mapped[int] = mapped_column(
        ForeignKey("status_incident.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[str] = mapped_column(
        ForeignKey("status_component.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(32))
    worst: Mapped[str] = mapped_column(String(32))


class StatusUpdate(Base):
    __tablename__ = "status_update"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status_incident_id: Mapped[int] = mapped_column(
        ForeignKey("status_incident.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    # [{code, name, old_status, new_status}] or None, as Statuspage serves it
    affected: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(100))
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Subscriber(Base):
    """An e-mail subscriber: `confirmed_at` is set when the confirmation link is followed
    (double opt-in); `token` is the secret in the confirm and unsubscribe links."""

    __tablename__ = "status_subscriber"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IntercomConversation(Base):
    """An Intercom conversation linked to an incident: each update of the incident's status
    incident is posted on it (`reply_as`: reply or note). `notification_id` is the webhook
    notification that made the link: unique, so a replayed notification stores nothing."""

    __tablename__ = "intercom_conversation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[str] = mapped_column(String(100), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    reply_as: Mapped[str] = mapped_column(String(8), default="reply")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
