"""Wire shapes of incidents for the API (Pydantic), apart from the tables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from onduty.bounds import Name, Text


class IncidentCreate(BaseModel):
    """A report by a person, with the bug template's fields. Every text is bounded: ids by
    their 64-character columns, the rest by what a report needs; none may hold a NUL."""

    service: Name
    title: Text = Field(min_length=3, max_length=1024)
    steps: Text | None = Field(default=None, max_length=20000)
    actual: Text | None = Field(default=None, max_length=20000)
    expected: Text | None = Field(default=None, max_length=20000)
    environment: Text | None = Field(default=None, max_length=2000)
    reporter: Text | None = Field(default=None, max_length=200)
    channel: Literal["team", "qa", "client", "intercom", "anonymous", "support", "monitoring"] = (
        "team"
    )
    client: Text | None = Field(default=None, max_length=200)
    client_tier: Text | None = Field(default=None, max_length=50)
    severity: Literal["critical", "error", "warning", "info"] | None = None
    discipline: Name | None = None
    links: list[Annotated[Text, StringConstraints(max_length=2000)]] = Field(
        default_factory=list, max_length=50
    )


class HandoverIn(BaseModel):
    """A handover to a developer (SPEC §6.4): who, actual vs ideal behaviour, what was tried,
    the runbook used and links."""

    developer: Name
    actual: Text = Field(min_length=1, max_length=20000)
    ideal: Text = Field(min_length=1, max_length=20000)
    tried: Text = Field(min_length=1, max_length=20000)
    runbook: Name | None = None
    links: list[Annotated[Text, StringConstraints(max_length=2000)]] = Field(
        default_factory=list, max_length=50
    )


class IncidentUpdate(BaseModel):
    priority: Literal["P1", "P2", "P3", "P4"] | None = None
    discipline: Name | None = None
    assignee: Name | None = None


class TimelineOut(BaseModel):
    at: datetime
    kind: str
    actor: str
    channel: str
    data: dict[str, Any]


class AlertOut(BaseModel):
    id: int
    dedup_key: str
    status: str
    summary: str
    severity: str | None
    labels: dict[str, str]
    count: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None


class NotificationOut(BaseModel):
    id: int
    person: str
    channel: str
    event: str
    step: int | None
    status: str
    due_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None


class IncidentOut(BaseModel):
    id: int
    number: int
    title: str
    status: str
    priority: str
    rule_priority: str
    matched_rule: int | None
    priority_source: Literal["rule", "person"]
    priority_set_by: str | None
    priority_set_at: datetime | None
    service: str
    team: str
    discipline: str | None
    assignee: str | None
    source: str
    stage: str
    stages: dict[str, str]
    backlog: bool
    page_due_at: datetime
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    seconds_to_acknowledge: int | None
    report: dict[str, Any] | None
    reference: str | None = None
    jira_key: str | None = None
    jira_url: str | None = None
    jira_status: str | None = None
    handover: dict[str, Any] | None = None


class IncidentRunbook(BaseModel):
    """A runbook the incident matches (most specific first) and the verdict given on it."""

    id: str
    title: str
    version: int
    url: str
    verdict: str | None = None


class IncidentDetail(IncidentOut):
    timeline: list[TimelineOut]
    alerts: list[AlertOut]
    notifications: list[NotificationOut]
    runbooks: list[IncidentRunbook] = []
    postmortem: str | None = None  # its status, when the incident has one
