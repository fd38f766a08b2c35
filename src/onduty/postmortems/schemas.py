"""Wire shapes of postmortems for the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from onduty.bounds import Id, Instant, Name, Text
from onduty.postmortems.models import Postmortem
from onduty.postmortems.service import action_doc

Answer = Text


class Answers(BaseModel):
    summary: Answer | None = Field(default=None, max_length=20000)
    impact: Answer | None = Field(default=None, max_length=20000)
    clients_affected: Answer | None = Field(default=None, max_length=20000)
    detection: Answer | None = Field(default=None, max_length=20000)
    root_cause: Answer | None = Field(default=None, max_length=20000)
    five_whys: list[Answer] | None = Field(default=None, max_length=5)
    went_well: Answer | None = Field(default=None, max_length=20000)
    went_badly: Answer | None = Field(default=None, max_length=20000)
    lucky: Answer | None = Field(default=None, max_length=20000)


class TimelineEntry(BaseModel):
    at: Text = Field(max_length=40)
    text: Text = Field(max_length=2000)


class ActionIn(BaseModel):
    id: Id | None = None
    title: Text = Field(min_length=1, max_length=500)
    owner: Name | None = None
    due_date: date | None = None
    status: Literal["open", "done"] = "open"


class ActionOut(BaseModel):
    id: int
    title: str
    owner: str | None
    due_date: date | None
    status: str
    jira_key: str | None
    jira_status: str | None


class PostmortemPut(BaseModel):
    """An edit made from `version` (the version the editor read); fields left out stay."""

    version: int = Field(ge=1, le=2**31 - 1)
    answers: Answers | None = None
    timeline: list[TimelineEntry] | None = Field(default=None, max_length=2000)
    actions: list[ActionIn] | None = Field(default=None, max_length=200)
    owner: Name | None = None
    due_at: Instant | None = None
    status: Literal["draft", "in_review"] | None = None


class PostmortemOut(BaseModel):
    incident: int
    status: str
    owner: str | None
    due_at: datetime
    overdue: bool
    version: int
    answers: dict[str, Any]
    timeline: list[dict[str, str]]
    actions: list[ActionOut]
    created_at: datetime
    updated_at: datetime
    updated_by: str
    published_at: datetime | None
    published_by: str | None
    markdown_url: str


def postmortem_out(row: Postmortem, now: datetime) -> PostmortemOut:
    return PostmortemOut(
        incident=row.incident_id,
        status=row.status,
        owner=row.owner_id,
        due_at=row.due_at,
        overdue=row.status != "published" and row.due_at < now,
        version=row.version,
        answers=row.answers,
        timeline=row.timeline,
        actions=[ActionOut(**action_doc(a)) for a in row.actions],
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        published_at=row.published_at,
        published_by=row.published_by,
        markdown_url=f"/api/v1/incidents/{row.incident_id}/postmortem/markdown",
    )
