"""Runbooks over HTTP (SPEC §6.4): the runbooks with their effectiveness (weakest first), one
runbook with its text and tasks, the verdict given on an incident's runbook, and runbook tasks."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.bounds import Id, Name
from onduty.incidents import service as incidents_service
from onduty.runbooks import schemas
from onduty.runbooks import service as runbooks_service
from onduty.runbooks.models import RunbookTask
from onduty.web.api.incidents import actor
from onduty.web.deps import Caller, TokenFirstRoute, get_session, require

router = APIRouter(prefix="/api/v1", tags=["runbooks"], route_class=TokenFirstRoute)


@router.get("/runbooks", response_model=list[schemas.EffectivenessOut])
def list_runbooks(
    request: Request,
    incident: Id | None = None,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> list[schemas.EffectivenessOut]:
    """Every runbook with its effectiveness, weakest first; with `incident`, only the runbooks
    that incident matches, most specific first."""
    now = request.app.state.clock.now()
    found = runbooks_service.effectiveness(session, now=now)
    if incident is not None:
        row = incidents_service.get_incident(session, incident_id=incident)
        order = [r.id for r in runbooks_service.for_incident(session, row)]
        found = sorted(
            (e for e in found if e.runbook.id in order), key=lambda e: order.index(e.runbook.id)
        )
    return [schemas.effectiveness_out(e) for e in found]


@router.get("/runbooks/{runbook_id}", response_model=schemas.RunbookDetail)
def get_runbook(
    runbook_id: Name,
    request: Request,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> schemas.RunbookDetail:
    now = request.app.state.clock.now()
    [found] = runbooks_service.effectiveness(session, now=now, runbook_id=runbook_id)
    tasks = runbooks_service.list_tasks(session, runbook_id=runbook_id)
    return schemas.RunbookDetail(
        **schemas.effectiveness_out(found).model_dump(),
        text=found.runbook.text,
        tasks=[schemas.task_out(t, now) for t in tasks],
    )


@router.post(
    "/incidents/{incident_id}/runbook-feedback",
    response_model=schemas.FeedbackOut,
    status_code=201,
)
def runbook_feedback(
    incident_id: Id,
    body: schemas.FeedbackIn,
    request: Request,
    session: Session = Depends(get_session),
    caller: Caller = Depends(require("responder")),
) -> schemas.FeedbackOut:
    """Whether the runbook was enough to resolve the incident; "partly" and "not_enough" need
    `missing` and open a runbook task for its owner."""
    row = runbooks_service.give_feedback(
        session,
        incident_id=incident_id,
        runbook_id=body.runbook,
        verdict=body.verdict,
        missing=body.missing,
        actor=actor(caller),
        now=request.app.state.clock.now(),
        due_days=request.app.state.settings.runbook_task_due_days,
        channel="api",
    )
    task = session.scalar(select(RunbookTask.id).where(RunbookTask.feedback_id == row.id))
    result = schemas.FeedbackOut(
        incident=row.incident_id,
        runbook=row.runbook_id,
        runbook_version=row.runbook_version,
        verdict=row.verdict,
        missing=row.missing,
        given_by=row.given_by,
        given_at=row.given_at,
        task=task,
    )
    session.commit()
    return result


@router.get("/runbook-tasks", response_model=list[schemas.TaskOut])
def list_tasks(
    request: Request,
    status: str | None = None,
    runbook: Name | None = None,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> list[schemas.TaskOut]:
    now = request.app.state.clock.now()
    rows = runbooks_service.list_tasks(session, status=status, runbook_id=runbook)
    return [schemas.task_out(t, now) for t in rows]


@router.post("/runbook-tasks/{task_id}/close", response_model=schemas.TaskOut)
def close_task(
    task_id: Id,
    body: schemas.TaskClose,
    request: Request,
    session: Session = Depends(get_session),
    caller: Caller = Depends(require("responder")),
) -> schemas.TaskOut:
    """Close a runbook task with a link to the change that fixed the runbook; records stage
    `runbook_updated` on its incident. (Applying a new version of the runbook closes its
    tasks by itself.)"""
    now = request.app.state.clock.now()
    task = runbooks_service.close_task(
        session, task_id=task_id, link=body.link, actor=actor(caller), now=now
    )
    result = schemas.task_out(task, now)
    session.commit()
    return result
