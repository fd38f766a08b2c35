"""Tables for incidents, their alerts and timelines, and triage configuration: the priority
policy (P1–P4) and the ordered criticality rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from onduty.db.base import Base, UTCDateTime


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


class Incident(Base):
    """What responders work on, made from alerts or from a person's report.

    `generation` is a fencing token: acknowledge, resolve and reopen bump it, so engine work
    scheduled before them (which carries the old value) does nothing. `page_due_at` is when
    paging starts: at once for P1/P2, at the next working-hours start for a P3/P4 reported
    outside them (`backlog` true until then)."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_paging", "status", "page_due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="triggered")
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id"), index=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id"), index=True)
    discipline: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(2))
    rule_priority: Mapped[str] = mapped_column(String(2))  # what the criticality rules said
    matched_rule: Mapped[int | None] = mapped_column(Integer)
    priority_set_by: Mapped[str | None] = mapped_column(String(100))
    priority_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(32))  # integration type, or the report channel
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the bug template's fields
    stages: Mapped[dict[str, str]] = mapped_column(JSON)  # journey stage -> ISO instant reached
    stage: Mapped[str] = mapped_column(String(32), index=True)
    backlog: Mapped[bool] = mapped_column(Boolean, default=False)
    page_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    # What a reporter quotes (random: says nothing about how many incidents there are).
    reference: Mapped[str | None] = mapped_column(String(24), unique=True, index=True)
    # The Jira issue: asked for (queued), made (created) or given up on (failed).
    jira_key: Mapped[str | None] = mapped_column(String(64), index=True)
    jira_url: Mapped[str | None] = mapped_column(String(500))
    jira_state: Mapped[str | None] = mapped_column(String(16))
    jira_status: Mapped[str | None] = mapped_column(String(100))  # as Jira last told us
    # The handover to a developer: developer, actual, ideal, tried, runbook, links, by, at.
    handover: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PolicySetting(Base):
    """A whole-organisation section of the policy file kept as the file says it (`jira`,
    `templates`), read by the services that use it."""

    __tablename__ = "policy_setting"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class WebhookDelivery(Base):
    """An inbound webhook delivery already stored, by the sender's own delivery id (Jira's
    `X-Atlassian-Webhook-Identifier` is the same on every retry of one delivery)."""

    __tablename__ = "webhook_delivery"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportAttachment(Base):
    """A screenshot uploaded with a report: an image whose type was checked by its bytes,
    served only to signed-in people."""

    __tablename__ = "report_attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Alert(Base):
    """One monitored problem. `open_key` equals `dedup_key` while the alert is open and is NULL
    once resolved; the unique index on (open_key, service) is what makes dedup race-safe (NULLs
    are distinct on SQLite and PostgreSQL alike). The key comes first so that a lookup of many
    keys probes the index by key: with service_id first, PostgreSQL's planner, on statistics
    gathered while the table was small, scanned every alert of the service instead."""

    __tablename__ = "alert"
    __table_args__ = (UniqueConstraint("open_key", "service_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id"))
    integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("integration.id", ondelete="SET NULL")
    )
    dedup_key: Mapped[str] = mapped_column(String(300))
    open_key: Mapped[str | None] = mapped_column(String(300))
    group_key: Mapped[str | None] = mapped_column(String(300), index=True)
    status: Mapped[str] = mapped_column(String(16))  # firing | resolved
    summary: Mapped[str] = mapped_column(String(1024))
    severity: Mapped[str | None] = mapped_column(String(16))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TimelineEvent(Base):
    """Append-only: who did what to an incident, when, through which channel."""

    __tablename__ = "timeline_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Counter(Base):
    """Named counters, incremented under a row lock (per-organisation incident numbers)."""

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
