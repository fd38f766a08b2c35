"""Wire shapes of runbooks, verdicts and runbook tasks for the API and the CLI's --json."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from onduty.bounds import Name, Text
from onduty.runbooks.models import Runbook, RunbookTask
from onduty.runbooks.service import Effectiveness


class FeedbackIn(BaseModel):
    runbook: Name
    verdict: Literal["enough", "partly", "not_enough"]
    missing: Text | None = Field(default=None, max_length=20000)


class FeedbackOut(BaseModel):
    incident: int
    runbook: str
    runbook_version: int
    verdict: str
    missing: str | None
    given_by: str
    given_at: datetime
    task: int | None


class TaskClose(BaseModel):
    link: Text = Field(max_length=2000)


class TaskOut(BaseModel):
    id: int
    runbook: str
    incident: int
    owner: str | None
    missing: str | None
    status: str
    due_at: datetime
    overdue: bool
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    closed_by_version: int | None
    link: str | None


class RunbookOut(BaseModel):
    id: str
    title: str
    services: list[str]
    match: dict[str, str]
    owner: str | None
    version: int
    active: bool
    changed_at: datetime
    error: str | None
    url: str


class EffectivenessOut(RunbookOut):
    incidents: int
    verdicts: dict[str, int]
    median_resolve_enough_s: int | None
    median_resolve_not_enough_s: int | None
    open_tasks: int
    overdue_tasks: int
    last_change_age_s: int
    weakness: float


class RunbookDetail(EffectivenessOut):
    text: str
    tasks: list[TaskOut]


def runbook_out(r: Runbook) -> RunbookOut:
    return RunbookOut(
        id=r.id,
        title=r.title,
        services=r.services,
        match=r.match,
        owner=r.owner_id,
        version=r.version,
        active=r.active,
        changed_at=r.changed_at,
        error=r.error,
        url=f"/runbooks/{r.id}",
    )


def effectiveness_out(e: Effectiveness) -> EffectivenessOut:
    return EffectivenessOut(
        **runbook_out(e.runbook).model_dump(),
        incidents=e.incidents,
        verdicts=e.verdicts,
        median_resolve_enough_s=e.median_resolve_enough_s,
        median_resolve_not_enough_s=e.median_resolve_not_enough_s,
        open_tasks=e.open_tasks,
        overdue_tasks=e.overdue_tasks,
        last_change_age_s=e.last_change_age_s,
        weakness=round(e.weakness, 3),
    )


def task_out(t: RunbookTask, now: datetime) -> TaskOut:
    return TaskOut(
        id=t.id,
        runbook=t.runbook_id,
        incident=t.incident_id,
        owner=t.owner_id,
        missing=t.missing,
        status=t.status,
        due_at=t.due_at,
        overdue=t.status == "open" and t.due_at < now,
        created_at=t.created_at,
        closed_at=t.closed_at,
        closed_by=t.closed_by,
        closed_by_version=t.closed_by_version,
        link=t.link,
    )
