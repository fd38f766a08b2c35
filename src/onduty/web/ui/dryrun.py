"""The dry-run page: pick a service, a priority and an instant; see who would be notified, when
and how (escalation/dryrun.py, the engine's own code)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.bounds import check_instant
from onduty.errors import InvalidInput, OndutyError
from onduty.escalation import dryrun
from onduty.incidents.priority import PRIORITIES
from onduty.services import service as services_service
from onduty.web.deps import get_session
from onduty.web.ui.common import Viewer, org_zone, page_role, render

router = APIRouter(include_in_schema=False)


def _instant(text: str, zone: str) -> datetime:
    """A `datetime-local` value, read in the organisation's zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date and time", "at") from None
    try:
        return check_instant(localtime.to_utc(value, zone))
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(f"{text!r} is out of range: {exc}", "at") from None


@router.get("/dryrun", response_class=HTMLResponse)
def dry_run_page(
    request: Request,
    service: str = "",
    priority: str = "P1",
    at: str = "",
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    zone = org_zone(session)
    now = request.app.state.clock.now()
    services = services_service.list_services(session)
    run, error = None, None
    if service:
        try:
            moment = _instant(at, zone) if at else now
            run = dryrun.dry_run(session, service_id=service, at=moment, priority=priority)
        except OndutyError as exc:
            error = exc.message
    rows = []
    for e in run.entries if run else []:
        person_zone = run.zones.get(e.person or "", run.team_zone) if run else zone
        rows.append(
            {
                "entry": e,
                "team_time": localtime.short(e.at, run.team_zone) if run else "",
                "person_time": localtime.short(e.at, person_zone) if e.person else "",
                "person_zone": person_zone if e.person else "",
                "after": _after(e.offset_seconds),
            }
        )
    return render(
        request,
        "dryrun.html",
        viewer,
        services=services,
        priorities=PRIORITIES,
        service=service,
        priority=priority,
        at=at or localtime.to_local(now, zone).strftime("%Y-%m-%dT%H:%M"),
        zone=zone,
        run=run,
        rows=rows,
        error=error,
        status_code=422 if error else 200,
    )


def _after(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (rest, "s")]
    return "+" + ("".join(f"{n}{unit}" for n, unit in parts if n) or "0m")
