"""The status page's admin pages (htmx, server-rendered): components' current status, open
status incidents with when their next update is due, a form to post (pre-filled from an
incident) and to update with a live preview, and maintenances. Viewers read; responders post."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.bounds import Id
from onduty.errors import InvalidInput, NotFound, OndutyError
from onduty.incidents import service as incidents_service
from onduty.markdown import to_html
from onduty.statuspage import service
from onduty.statuspage.models import StatusIncident, StatusPage
from onduty.web.deps import get_session
from onduty.web.errors import status_for
from onduty.web.ui.common import Viewer, checked_form, page_role, render, see_other

router = APIRouter(include_in_schema=False)


def due_text(row: StatusIncident, now: datetime) -> tuple[str, bool]:
    """'update due in 23 min' or 'overdue by 5 min', and whether it is overdue."""
    if row.resolved_at is not None or not row.update_every_s:
        return "", False
    due = row.last_update_at + timedelta(seconds=row.update_every_s)
    minutes = int(abs((due - now).total_seconds()) // 60)
    if due >= now:
        return f"update due in {minutes} min", False
    return f"overdue by {minutes} min", True


def _when(session: Session) -> Callable[[datetime | None], str]:
    zone = service.org_zone(session)
    return lambda at: localtime.short(at, zone) if at else ""


def _overview(session: Session, now: datetime) -> dict[str, Any]:
    page = session.get(StatusPage, 1)
    return {
        "page_name": page.name if page else "Status",
        "components": service.components(session),
        "overall": service.page_status(session),
        "open": [
            (r, *due_text(r, now)) for r in service.list_status_incidents(session, unresolved=True)
        ],
        "recent": [r for r in service.list_status_incidents(session, limit=10) if r.resolved_at],
        "maintenances": service.list_status_incidents(session, kind="maintenance", limit=20),
        "when": _when(session),
        "zone": service.org_zone(session),
        "statuses": service.COMPONENT_STATUSES,
    }


@router.get("/status-admin", response_class=HTMLResponse)
def overview(
    request: Request,
    incident: Id | None = None,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    """The overview; `?incident=ID` pre-fills the new status incident form from it."""
    now = request.app.state.clock.now()
    draft = None
    if incident is not None and viewer.can("responder"):
        try:
            found = incidents_service.get_incident(session, incident_id=incident)
        except NotFound:
            found = None
        if found is not None:
            draft = service.draft(
                session, incident=found, base_url=request.app.state.settings.base_url, now=now
            )
    return render(
        request, "status_admin.html", viewer, draft=draft, error=None, **_overview(session, now)
    )


def _components(form: Any) -> dict[str, str]:
    """Form fields `component.<id>` = a status; `unaffected` leaves the component out."""
    out = {}
    for name, value in form.multi_items():
        if name.startswith("component.") and isinstance(value, str) and value != "unaffected":
            out[name.removeprefix("component.")] = value
    return out


async def _post(
    request: Request,
    session: Session,
    viewer: Viewer,
    act: Callable[[Any, datetime, str], str],
    back: str,
) -> Response:
    form = await checked_form(request, viewer)
    now = request.app.state.clock.now()
    try:
        target = act(form, now, request.app.state.settings.base_url)
        session.commit()
    except OndutyError as exc:
        session.rollback()
        if back.startswith("/status-admin/incidents/"):
            row_id = int(back.rsplit("/", 1)[1])
            return _incident_page(request, session, viewer, row_id, exc.message, status_for(exc))
        return render(
            request,
            "status_admin.html",
            viewer,
            status_code=status_for(exc),
            draft=None,
            error=exc.message,
            **_overview(session, now),
        )
    return see_other(target)


@router.post("/status-admin/incidents", response_class=HTMLResponse)
async def create(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> Response:
    def act(form: Any, now: datetime, base: str) -> str:
        incident = str(form.get("incident") or "")
        if incident and not incident.isdigit():
            raise InvalidInput("incident must be an incident id", "incident")
        row = service.create_status_incident(
            session,
            name=str(form.get("name") or ""),
            status=str(form.get("status") or "investigating"),
            impact=str(form.get("impact") or "minor"),
            body=str(form.get("body") or ""),
            component_statuses=_components(form),
            incident_id=int(incident) if incident else None,
            actor=viewer.actor,
            now=now,
            base_url=base,
        )
        return f"/status-admin/incidents/{row.id}"

    return await _post(request, session, viewer, act, "/status-admin")


def _incident_page(
    request: Request,
    session: Session,
    viewer: Viewer,
    row_id: int,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        row = service.get_status_incident(session, row_id)
    except NotFound as exc:
        return render(request, "error.html", viewer, status_code=404, message=exc.message)
    now = request.app.state.clock.now()
    text, overdue = due_text(row, now)
    return render(
        request,
        "status_admin_incident.html",
        viewer,
        status_code=status_code,
        row=row,
        due=text,
        overdue=overdue,
        error=error,
        when=_when(session),
        md=to_html,
        components=service.components(session),
        statuses=service.COMPONENT_STATUSES,
        current={a.component_id: a.status for a in row.components},
    )


@router.get("/status-admin/incidents/{row_id}", response_class=HTMLResponse)
def incident_page(
    row_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    """One status incident: its updates, and the update form (the reminder links here)."""
    return _incident_page(request, session, viewer, row_id)


@router.post("/status-admin/incidents/{row_id}/updates", response_class=HTMLResponse)
async def post_update(
    row_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> Response:
    def act(form: Any, now: datetime, base: str) -> str:
        service.add_update(
            session,
            status_incident_id=row_id,
            status=str(form.get("status") or ""),
            body=str(form.get("body") or ""),
            component_statuses=_components(form),
            actor=viewer.actor,
            now=now,
            base_url=base,
        )
        return f"/status-admin/incidents/{row_id}"

    return await _post(request, session, viewer, act, f"/status-admin/incidents/{row_id}")


@router.post("/status-admin/preview", response_class=HTMLResponse)
async def preview(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> HTMLResponse:
    """The htmx preview under the form: the text as clients will read it (template and
    Markdown rendered, sanitised). Stores nothing."""
    form = await checked_form(request, viewer)
    incident = str(form.get("incident") or "")
    try:
        text = service.preview(
            session,
            status=str(form.get("status") or "investigating"),
            name=str(form.get("name") or ""),
            impact=str(form.get("impact") or "minor"),
            body=str(form.get("body") or ""),
            component_ids=list(_components(form)),
            incident_id=int(incident) if incident.isdigit() else None,
            base_url=request.app.state.settings.base_url,
            now=request.app.state.clock.now(),
        )
    except OndutyError as exc:
        return HTMLResponse(f'<p class="error">{html.escape(exc.message)}</p>')
    return HTMLResponse(f'<div class="preview">{to_html(text)}</div>')


@router.post("/status-admin/maintenances", response_class=HTMLResponse)
async def create_maintenance(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> Response:
    def act(form: Any, now: datetime, base: str) -> str:
        zone = service.org_zone(session)
        try:
            start = localtime.to_utc(datetime.fromisoformat(str(form.get("scheduled_for"))), zone)
            end = localtime.to_utc(datetime.fromisoformat(str(form.get("scheduled_until"))), zone)
        except ValueError:
            raise InvalidInput("give the start and end as date and time", "scheduled_for") from None
        service.create_maintenance(
            session,
            name=str(form.get("name") or ""),
            scheduled_for=start,
            scheduled_until=end,
            component_ids=[str(c) for c in form.getlist("components")],
            body=str(form.get("body") or ""),
            actor=viewer.actor,
            now=now,
            base_url=base,
        )
        return "/status-admin"

    return await _post(request, session, viewer, act, "/status-admin")
