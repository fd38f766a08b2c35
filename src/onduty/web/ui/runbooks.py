"""Runbook pages: every runbook with its effectiveness (weakest first), one runbook rendered
with its verdicts, tasks and versions, the short link SMS messages carry (/rb/<incident>), and
the forms that give a verdict on an incident's runbook and close a runbook task."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.bounds import Id, Name
from onduty.errors import NotFound, OndutyError
from onduty.incidents import service as incidents_service
from onduty.runbooks import parse
from onduty.runbooks import service as runbooks_service
from onduty.runbooks.models import RunbookFeedback, RunbookVersion
from onduty.web.deps import get_session
from onduty.web.errors import status_for
from onduty.web.ui.common import (
    Viewer,
    checked_form,
    org_zone,
    page_role,
    render,
    see_other,
    when,
)

router = APIRouter(include_in_schema=False)


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


@router.get("/runbooks", response_class=HTMLResponse)
def runbooks_page(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    now = request.app.state.clock.now()
    return render(
        request,
        "runbooks.html",
        viewer,
        rows=runbooks_service.effectiveness(session, now=now),
        tasks=runbooks_service.list_tasks(session, status="open"),
        now=now,
        zone=org_zone(session),
        duration=duration,
        when=when,
    )


def _runbook_context(session: Session, runbook_id: str, now: datetime) -> dict[str, Any]:
    [found] = runbooks_service.effectiveness(session, now=now, runbook_id=runbook_id)
    runbook = found.runbook
    return {
        "e": found,
        "runbook": runbook,
        "html": parse.to_html(runbook.text),
        "tasks": runbooks_service.list_tasks(session, runbook_id=runbook_id),
        "feedback": session.scalars(
            select(RunbookFeedback)
            .where(RunbookFeedback.runbook_id == runbook_id)
            .order_by(RunbookFeedback.given_at.desc())
            .limit(50)
        ).all(),
        "versions": session.scalars(
            select(RunbookVersion)
            .where(RunbookVersion.runbook_id == runbook_id)
            .order_by(RunbookVersion.version.desc())
        ).all(),
        "now": now,
        "zone": org_zone(session),
        "duration": duration,
        "when": when,
    }


@router.get("/runbooks/{runbook_id}", response_class=HTMLResponse)
def runbook_page(
    runbook_id: Name,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    try:
        context = _runbook_context(session, runbook_id, request.app.state.clock.now())
    except NotFound as exc:
        return render(request, "error.html", viewer, status_code=404, message=exc.message)
    return render(request, "runbook.html", viewer, error=None, **context)


@router.get("/rb/{incident_id}")
def runbook_short_link(
    incident_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> Response:
    """The short link in SMS messages: the incident's best-matching runbook."""
    try:
        incident = incidents_service.get_incident(session, incident_id=incident_id)
    except NotFound as exc:
        return render(request, "error.html", viewer, status_code=404, message=exc.message)
    found = runbooks_service.for_incident(session, incident)
    if not found:
        return see_other(f"/incidents/{incident.id}")
    return see_other(f"/runbooks/{found[0].id}")


@router.post("/incidents/{incident_id}/runbook-feedback", response_class=HTMLResponse)
async def runbook_feedback(
    incident_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> Response:
    form = await checked_form(request, viewer)
    try:
        runbooks_service.give_feedback(
            session,
            incident_id=incident_id,
            runbook_id=str(form.get("runbook", "")),
            verdict=str(form.get("verdict", "")),
            missing=str(form.get("missing", "")),
            actor=viewer.actor,
            now=request.app.state.clock.now(),
            due_days=request.app.state.settings.runbook_task_due_days,
            channel="web",
        )
        session.commit()
    except OndutyError as exc:
        session.rollback()
        from onduty.web.ui.incidents import incident_error

        return incident_error(request, session, viewer, incident_id, exc)
    return see_other(f"/incidents/{incident_id}#runbooks")


@router.post("/runbook-tasks/{task_id}/close", response_class=HTMLResponse)
async def close_task(
    task_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> Response:
    form = await checked_form(request, viewer)
    try:
        task = runbooks_service.close_task(
            session,
            task_id=task_id,
            link=str(form.get("link", "")),
            actor=viewer.actor,
            now=request.app.state.clock.now(),
        )
        runbook_id = task.runbook_id
        session.commit()
    except OndutyError as exc:
        session.rollback()
        return render(
            request, "error.html", viewer, status_code=status_for(exc), message=exc.message
        )
    return see_other(f"/runbooks/{runbook_id}")
