"""Wire shapes of the status page API (SPEC §6.4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from onduty.bounds import Id, Instant, Name, Text

ComponentStatus = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]


class StatusIncidentCreate(BaseModel):
    name: Text = Field(min_length=1, max_length=300)
    status: Literal["investigating", "identified", "monitoring"] = "investigating"
    impact: Literal["none", "minor", "major", "critical"] = "minor"
    body: Text | None = Field(default=None, max_length=20000)  # empty: from the template
    components: dict[Name, ComponentStatus] = Field(default_factory=dict, max_length=200)
    incident: Id | None = None
    notify: bool = True


class StatusUpdateCreate(BaseModel):
    status: Literal["investigating", "identified", "monitoring", "resolved"]
    body: Text | None = Field(default=None, max_length=20000)
    components: dict[Name, ComponentStatus] | None = Field(default=None, max_length=200)
    impact: Literal["none", "minor", "major", "critical"] | None = None
    notify: bool = True


class StatusPreview(BaseModel):
    status: Literal["investigating", "identified", "monitoring", "resolved"] = "investigating"
    name: Text = Field(default="", max_length=300)
    impact: Literal["none", "minor", "major", "critical"] = "minor"
    body: Text | None = Field(default=None, max_length=20000)
    components: list[Name] = Field(default_factory=list, max_length=200)
    incident: Id | None = None


class MaintenanceCreate(BaseModel):
    name: Text = Field(min_length=1, max_length=300)
    scheduled_for: Instant
    scheduled_until: Instant
    components: list[Name] = Field(default_factory=list, max_length=200)
    body: Text | None = Field(default=None, max_length=20000)


class UpdateOut(BaseModel):
    id: int
    status: str
    body: str
    author: str
    created_at: datetime
    affected_components: list[dict[str, Any]] | None


class StatusIncidentOut(BaseModel):
    id: int
    kind: str
    name: str
    status: str
    impact: str
    incident: int | None
    owner: str | None
    components: dict[str, str]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    update_due_at: datetime | None
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    updates: list[UpdateOut]


class Draft(BaseModel):
    name: str
    status: str
    impact: str
    components: dict[str, str]
    body: str
    incident: int
    required: bool
