"""HTML pages of the on-call process: daily checks (ticked here), the reports page with its
charts, and the weekly handovers (acknowledged and minuted here). Plain forms; no JavaScript
needed to act."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from onduty.checks import service as checks_service
from onduty.config import Settings
from onduty.errors import OndutyError
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
