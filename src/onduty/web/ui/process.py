"""HTML pages of the on-call process: daily checks (ticked here), the reports page with its
charts, and the weekly handovers (acknowledged and minuted here). Plain forms; no JavaScript
needed to act."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from onduty.bounds import Id
from onduty.checks import service as checks_service
from onduty.config import Settings
from onduty.db import dialect
from onduty.errors import OndutyError
from onduty.handover import service as handover_service
from onduty.reports import service as reports_service
from onduty.schedules import service as schedules_service
from onduty.web.deps import get_session, get_settings
from onduty.web.ui.common import Viewer, checked_form, page_role, render, see_other

router = APIRouter(include_in_schema=False)


@router.get("/checks", response_class=HTMLResponse)
def checks_page(
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    viewer: Viewer = Depends(page_role("viewer")),
    error: str | None = None,
) -> HTMLResponse:
    now = request.app.state.clock.now()
    docs = checks_service.list_checks(session, now=now, base_url=settings.base_url)
    for doc in docs:
        doc["history"] = checks_service.history(session, check_id=doc["id"], limit=10)
    return render(request, "checks.html", viewer, checks=docs, error=error)


@router.post("/checks/{check_id}/tick", response_class=HTMLResponse)
async def checks_tick(
    check_id: str,
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    viewer: Viewer = Depends(page_role("responder")),
) -> Response:
    form = await checked_form(request, viewer)
    try:
        checks_service.tick(
            session,
            check_id=check_id,
            item=str(form.get("item", "")),
            actor=viewer.actor,
            now=request.app.state.clock.now(),
        )
        session.commit()
    except OndutyError as exc:
        session.rollback()
        page = checks_page(request, session, settings, viewer, error=exc.message)
        page.status_code = 422
        return page
    return see_other("/checks")


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    team: str | None = None,
    since: str | None = None,
    until: str | None = None,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    """The on-call report with its trend charts (drawn by static/reports.js)."""
    session.connection(execution_options={dialect.READ_ONLY: True})
    team, since, until = team or None, since or None, until or None
    teams = schedules_service.team_ids(session)
    try:
        report = reports_service.report(
            session, team=team, since=since, until=until, now=request.app.state.clock.now()
        )
    except OndutyError as exc:
        return render(
            request,
            "reports.html",
            viewer,
            status_code=422,
            error=exc.message,
            teams=teams,
            team=team,
            since=since,
            until=until,
            report=None,
        )
    return render(
        request,
        "reports.html",
        viewer,
        error=None,
        teams=teams,
        team=team,
        since=since,
        until=until,
        report=report,
    )


@router.get("/handovers", response_class=HTMLResponse)
def handovers_page(
    request: Request,
    team: str | None = None,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    docs = handover_service.list_handovers(session, team=team or None)
    return render(request, "handovers.html", viewer, handovers=docs, team=team)


@router.get("/handovers/{handover_id}", response_class=HTMLResponse)
def handover_page(
    handover_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        doc = handover_service.get_handover(session, handover_id=handover_id)
    except OndutyError as exc:
        return render(request, "error.html", viewer, status_code=404, message=exc.message)
    incoming = {s["incoming"] for s in doc["slots"]}
    may_ack = doc["acknowledged_at"] is None and (
        viewer.login.person_id in incoming or viewer.can("manager")
    )
    return render(
        request,
        "handover.html",
        viewer,
        status_code=status_code,
        h=doc,
        may_ack=may_ack,
        error=error,
    )


@router.post("/handovers/{handover_id}/{action}", response_class=HTMLResponse)
async def handover_action(
    handover_id: Id,
    action: Literal["acknowledge", "meeting", "agenda"],
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> Response:
    """Acknowledge, record the meeting, or add an agenda item for the team's next meeting."""
    form = await checked_form(request, viewer)
    now = request.app.state.clock.now()
    try:
        if action == "acknowledge":
            handover_service.acknowledge(
                session,
                handover_id=handover_id,
                person=viewer.login.person_id,
                actor=viewer.actor,
                manager=viewer.can("manager"),
                now=now,
            )
        elif action == "meeting":
            attendees = [a.strip() for a in str(form.get("attendees", "")).split(",") if a.strip()]
            handover_service.record_meeting(
                session,
                handover_id=handover_id,
                attendees=attendees[:100],
                notes=str(form.get("notes", ""))[:20000] or None,
                outcomes=str(form.get("outcomes", ""))[:20000] or None,
                actor=viewer.actor,
                now=now,
            )
        else:
            team = handover_service.get_handover(session, handover_id=handover_id)["team"]
            handover_service.add_agenda_item(
                session,
                team_id=team,
                text=str(form.get("text", ""))[:1000],
                actor=viewer.actor,
                now=now,
            )
        session.commit()
    except OndutyError as exc:
        session.rollback()
        return handover_page(
            handover_id, request, session, viewer, error=exc.message, status_code=422
        )
    return see_other(f"/handovers/{handover_id}")
