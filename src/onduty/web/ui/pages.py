"""HTML pages: the dashboard, teams (rota calendar, overrides made from the page), services and
their integration URLs, and the policy page. Core actions are plain forms (no JavaScript
needed); htmx only refreshes parts of pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty import localtime
from onduty import models as m
from onduty.bounds import INSTANT_RANGE, Id, check_instant
from onduty.config import Settings
from onduty.errors import InvalidInput, OndutyError
from onduty.schedules import service as schedules_service
from onduty.services import service as services_service
from onduty.web.deps import get_session, get_settings
from onduty.web.ui import timeline
from onduty.web.ui.common import Viewer, checked_form, page_role, render, see_other
from onduty.web.ui.incidents import open_incidents

router = APIRouter(include_in_schema=False)
MAX_REASON = 500  # override.reason holds 500 characters


def _oncall_now(session: Session, now: datetime) -> list[dict[str, Any]]:
    teams = []
    for team in session.scalars(select(m.Team).order_by(m.Team.name)):
        rota = session.get(m.Rota, team.id)
        if rota is None:
            teams.append({"team": team, "slots": [], "zone": None})
            continue
        rows = schedules_service.on_call_at(session, at=now, team_id=team.id)
        teams.append(
            {
                "team": team,
                "zone": rota.timezone,
                "slots": [
                    {
                        "slot": r.slot,
                        "person": r.person,
                        "until": localtime.short(r.end, rota.timezone),
                    }
                    for r in rows
                ],
            }
        )
    return teams


def _integrations(session: Session, settings: Settings) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for g in services_service.list_integrations(session, base_url=settings.base_url):
        out.setdefault(g.service, []).append(g)
    return out


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    now = request.app.state.clock.now()
    return render(
        request,
        "dashboard.html",
        viewer,
        org=session.scalars(select(m.Organization)).first(),
        oncall=_oncall_now(session, now),
        groups=open_incidents(session, now),
        caption="Open incidents by priority",
    )


@router.get("/services", response_class=HTMLResponse)
def services_page(
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    return render(
        request,
        "services.html",
        viewer,
        services=services_service.list_services(session),
        integrations=_integrations(session, settings),
        show_keys=viewer.can("manager"),
    )


@router.get("/teams", response_class=HTMLResponse)
def teams_page(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    now = request.app.state.clock.now()
    return render(request, "teams.html", viewer, oncall=_oncall_now(session, now))


def _team_context(session: Session, team_id: str, now: datetime, weeks: int) -> dict[str, Any]:
    team = session.get(m.Team, team_id)
    rota = session.get(m.Rota, team_id)
    if team is None or rota is None:
        raise OndutyError(f"no team with a rota called {team_id!r}", "team")
    zone = rota.timezone
    per_slot = schedules_service.upcoming_shifts(
        session, team_id=team_id, start=now, end=now + timedelta(weeks=weeks)
    )
    calendar = [
        {
            "slot": slot,
            "shifts": [
                {
                    "person": s.person,
                    "start": localtime.short(s.start, zone),
                    "end": localtime.short(s.end, zone),
                    "source": s.source,
                }
                for s in shifts
            ],
        }
        for slot, shifts in per_slot.items()
    ]
    overrides = [
        {
            "id": o.id,
            "slot": o.slot,
            "person": o.person_id,
            "start": localtime.short(o.start, zone),
            "end": localtime.short(o.end, zone),
            "reason": o.reason,
            "managed": o.managed,
        }
        for o in schedules_service.list_overrides(session, team_id=team_id, start=now)
    ]
    people = [p for p in session.scalars(select(m.Person).order_by(m.Person.name))]
    # The timeline starts at the current shift's handoff (rota arithmetic, exact across DST),
    # with a mark at each handoff.
    index = schedules_service.load_schedule(session, team_id=team_id, start=now, end=now).index
    begin = index.handoff(index.period(now))
    finish = index.handoff(index.period(now) + weeks * 7 // rota.length_days)
    lanes = schedules_service.upcoming_shifts(session, team_id=team_id, start=begin, end=finish)
    members = {p for slot in rota.slots for p in (sm.person_id for sm in slot.people)}
    away = [
        (t.person_id, t.start, t.end)
        for t in session.scalars(
            select(m.TimeOff).where(
                m.TimeOff.person_id.in_(members), m.TimeOff.end > begin, m.TimeOff.start < finish
            )
        )
    ]
    marks = index.handoff_instants(begin, finish)
    chart = timeline.build(lanes, away, marks, start=begin, end=finish, now=now, zone=zone)
    return {
        "timeline": chart,
        "team": team,
        "rota": rota,
        "zone": zone,
        "calendar": calendar,
        "overrides": overrides,
        "people": people,
        "oncall": next(t for t in _oncall_now(session, now) if t["team"].id == team_id),
    }


@router.get("/teams/{team_id}", response_class=HTMLResponse)
def team_page(
    team_id: str,
    request: Request,
    weeks: int = 6,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    now = request.app.state.clock.now()
    try:
        context = _team_context(session, team_id, now, max(1, min(weeks, 26)))
    except OndutyError as exc:
        return render(request, "error.html", viewer, status_code=404, message=exc.message)
    return render(request, "team.html", viewer, error=None, **context)


@router.post("/teams/{team_id}/overrides", response_class=HTMLResponse)
async def team_override(
    team_id: str,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> Response:
    form = await checked_form(request, viewer)
    now = request.app.state.clock.now()
    rota = session.get(m.Rota, team_id)
    zone = rota.timezone if rota else "UTC"
    settings: Settings = request.app.state.settings
    reason = str(form.get("reason", "")) or None
    try:
        if reason is not None and len(reason) > MAX_REASON:
            raise InvalidInput(f"reason: at most {MAX_REASON} characters", "reason")
        start = _form_instant(str(form.get("start", "")), zone, "start")
        end = _form_instant(str(form.get("end", "")), zone, "end")
        schedules_service.create_override(
            session,
            team_id=team_id,
            slot=str(form.get("slot", "")),
            person_id=str(form.get("person", "")),
            start=start,
            end=end,
            now=now,
            reason=reason,
            created_by=viewer.actor,
            longest=settings.max_schedule_window,
        )
        session.commit()
    except OndutyError as exc:
        session.rollback()
        context = _team_context(session, team_id, now, 6)
        status = 409 if "already gives" in exc.message else 422
        return render(
            request, "team.html", viewer, status_code=status, error=exc.message, **context
        )
    return see_other(f"/teams/{team_id}")


@router.post("/teams/{team_id}/overrides/{override_id}/remove")
async def team_override_remove(
    team_id: str,
    override_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> Response:
    await checked_form(request, viewer)
    schedules_service.delete_override(
        session,
        override_id=override_id,
        actor=viewer.actor,
        now=request.app.state.clock.now(),
    )
    session.commit()
    return see_other(f"/teams/{team_id}")


def _form_instant(text: str, zone: str, field: str) -> datetime:
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field}: {text!r} is not a date and time", field) from None
    try:
        return check_instant(localtime.to_utc(local, zone))
    except (ValueError, OverflowError):  # OverflowError: a wall time near year 1 or 9999
        raise InvalidInput(f"{field} {INSTANT_RANGE}", field) from None


@router.get("/policy", response_class=HTMLResponse)
def policy_page(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    """Which objects a policy file manages (edit them there) and which were made here."""
    groups = [
        {"name": "People", "rows": [(r.id, r.managed) for r in session.scalars(select(m.Person))]},
        {"name": "Teams", "rows": [(r.id, r.managed) for r in session.scalars(select(m.Team))]},
        {
            "name": "Escalation policies",
            "rows": [(r.id, r.managed) for r in session.scalars(select(m.EscalationPolicy))],
        },
        {
            "name": "Services",
            "rows": [(r.id, r.managed) for r in session.scalars(select(m.Service))],
        },
    ]
    overrides = session.scalars(select(m.Override).order_by(m.Override.start)).all()
    return render(request, "policy.html", viewer, groups=groups, overrides=overrides)
