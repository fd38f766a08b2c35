"""Who is on call, overrides, swaps, time off, shift lists and iCalendar feeds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.auth import service as auth_service
from onduty.bounds import Id, Instant, Name, Text
from onduty.clock import Clock
from onduty.config import Settings
from onduty.errors import Forbidden, NotFound
from onduty.people.models import Organization, Person
from onduty.schedules import ical
from onduty.schedules import service as schedules_service
from onduty.schedules.models import Override, TimeOff
from onduty.web.deps import (
    Caller,
    TokenFirstRoute,
    get_clock,
    get_session,
    get_settings,
    require,
)

router = APIRouter(prefix="/api/v1", tags=["schedules"], route_class=TokenFirstRoute)
feeds = APIRouter(tags=["calendars"])


class OnCallOut(BaseModel):
    team: str
    slot: str
    person: str | None
    start: datetime
    end: datetime
    source: str


class OverrideCreate(BaseModel):
    team: Name
    slot: Name
    person: Name
    start: Instant
    end: Instant
    reason: Text | None = Field(default=None, max_length=500)


class OverrideOut(BaseModel):
    id: int
    team: str
    slot: str
    person: str
    start: datetime
    end: datetime
    reason: str | None
    created_by: str | None
    managed: bool


class SwapCreate(BaseModel):
    team: Name
    slot: Name
    first: Instant = Field(description="An instant inside the first shift")
    second: Instant = Field(description="An instant inside the other shift")


class TimeOffCreate(BaseModel):
    person: Name = Field(description="Responders may name only themselves; managers anyone")
    start: Instant
    end: Instant
    reason: Text | None = Field(default=None, max_length=500)


class TimeOffOut(BaseModel):
    id: int
    person: str
    start: datetime
    end: datetime
    reason: str | None
    created_by: str | None


def _override_out(row: Override) -> OverrideOut:
    return OverrideOut(
        id=row.id,
        team=row.team_id,
        slot=row.slot,
        person=row.person_id,
        start=row.start,
        end=row.end,
        reason=row.reason,
        created_by=row.created_by,
        managed=row.managed,
    )


def _actor(caller: Caller) -> str:
    return caller.person_id or f"token:{caller.token_id}"


@router.get("/oncall", response_model=list[OnCallOut])
def oncall(
    team: Name | None = None,
    at: Instant | None = None,
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    _caller: Caller = Depends(require("viewer")),
) -> list[OnCallOut]:
    """Who is on call in each slot (of one team, or all) at `at` (default now)."""
    rows = schedules_service.on_call_at(session, at=at or clock.now(), team_id=team)
    return [OnCallOut(**r.__dict__) for r in rows]


class TimeZonesOut(BaseModel):
    organization: str
    teams: dict[str, str]


@router.get("/timezones", response_model=TimeZonesOut)
def time_zones(
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> TimeZonesOut:
    """The organisation's time zone and each team's (its rota's, else the organisation's): the
    zone a wall-clock time for that team is read in and its instants are shown in."""
    organization, teams = schedules_service.time_zones(session)
    return TimeZonesOut(organization=organization, teams=teams)


@router.get("/teams/{team}/shifts")
def team_shifts(
    team: Name,
    weeks: int = Query(default=4, ge=1, le=104),
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    _caller: Caller = Depends(require("viewer")),
) -> dict[str, list[OnCallOut]]:
    """The coming shifts of each slot, from now for `weeks` weeks."""
    now = clock.now()
    per_slot = schedules_service.upcoming_shifts(
        session, team_id=team, start=now, end=now + timedelta(weeks=weeks)
    )
    return {
        slot: [
            OnCallOut(
                team=team, slot=slot, person=s.person, start=s.start, end=s.end, source=s.source
            )
            for s in shifts
        ]
        for slot, shifts in per_slot.items()
    }


@router.get("/overrides", response_model=list[OverrideOut])
def list_overrides(
    team: Name | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> list[OverrideOut]:
    rows = schedules_service.list_overrides(session, team_id=team, start=start, end=end)
    return [_override_out(r) for r in rows]


@router.post("/overrides", response_model=OverrideOut, status_code=201)
def create_override(
    body: OverrideCreate,
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    settings: Settings = Depends(get_settings),
    caller: Caller = Depends(require("responder")),
) -> OverrideOut:
    """Give a slot to a person for a window; 409 if another override holds part of it."""
    row = schedules_service.create_override(
        session,
        team_id=body.team,
        slot=body.slot,
        person_id=body.person,
        start=body.start,
        end=body.end,
        reason=body.reason,
        now=clock.now(),
        created_by=_actor(caller),
        longest=settings.max_schedule_window,
    )
    out = _override_out(row)
    session.commit()
    return out


@router.delete("/overrides/{override_id}", status_code=204)
def delete_override(
    override_id: Id,
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    caller: Caller = Depends(require("responder")),
) -> Response:
    schedules_service.delete_override(
        session, override_id=override_id, actor=_actor(caller), now=clock.now()
    )
    session.commit()
    return Response(status_code=204)


@router.post("/swaps", response_model=list[OverrideOut], status_code=201)
def create_swap(
    body: SwapCreate,
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    settings: Settings = Depends(get_settings),
    caller: Caller = Depends(require("responder")),
) -> list[OverrideOut]:
    """Exchange two people's shifts of one slot (both overrides, or neither)."""
    pair = schedules_service.swap(
        session,
        team_id=body.team,
        slot=body.slot,
        first=body.first,
        second=body.second,
        now=clock.now(),
        created_by=_actor(caller),
        longest=settings.max_schedule_window,
    )
    out = [_override_out(r) for r in pair]
    session.commit()
    return out


@router.post("/time-off", response_model=TimeOffOut, status_code=201)
def create_time_off(
    body: TimeOffCreate,
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    settings: Settings = Depends(get_settings),
    caller: Caller = Depends(require("responder")),
) -> TimeOffOut:
    """Take a person off every rota for a window: a responder only themself, a manager anyone
    (time off removes a person from every rota it touches)."""
    if body.person != caller.person_id and not auth_service.role_allows(caller.role, "manager"):
        raise Forbidden("a responder may add only their own time off", "person")
    row: TimeOff = schedules_service.create_time_off(
        session,
        person_id=body.person,
        start=body.start,
        end=body.end,
        now=clock.now(),
        reason=body.reason,
        created_by=_actor(caller),
        longest=settings.max_schedule_window,
    )
    out = TimeOffOut(
        id=row.id,
        person=row.person_id,
        start=row.start,
        end=row.end,
        reason=row.reason,
        created_by=row.created_by,
    )
    session.commit()
    return out


@router.get("/calendars")
def calendars(
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _caller: Caller = Depends(require("viewer")),
) -> dict[str, Any]:
    """The secret iCalendar feed URLs of every team and person."""
    base = settings.base_url.rstrip("/")

    def url(kind: str, ident: str) -> str:
        token = ical.feed_token(settings.secret_key, kind, ident)
        return f"{base}/ical/{kind}/{ident}.ics?token={token}"

    people = [p.id for p in session.scalars(select(Person).order_by(Person.id))]
    return {
        "teams": {t: url("team", t) for t in schedules_service.team_ids(session)},
        "people": {p: url("person", p) for p in people},
    }


@feeds.get("/ical/{kind}/{ident}.ics", response_class=Response)
def feed(
    kind: str,
    ident: str,
    token: str = "",
    weeks: int = Query(default=12, ge=1, le=104),
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    clock: Clock = Depends(get_clock),
) -> Response:
    """A team's or a person's shifts; the signed token in the URL is the credential."""
    if kind not in ("team", "person") or not ical.check_feed_token(
        settings.secret_key, kind, ident, token
    ):
        raise NotFound("no such calendar", "token")
    now = clock.now()
    start, end = now - timedelta(weeks=1), now + timedelta(weeks=weeks)
    teams = [ident] if kind == "team" else schedules_service.team_ids(session)
    chosen = []
    zone = "UTC"
    for team in teams:
        schedule = schedules_service.load_schedule(session, team_id=team, start=start, end=end)
        zone = schedule.rota.timezone if kind == "team" else zone
        for slot in schedule.rota.slots:
            for shift in schedule.shifts(slot.name, start, end):
                if kind == "team" or shift.person == ident:
                    chosen.append((team, shift))
    if kind == "person":
        person = session.get(Person, ident)
        if person is None:
            raise NotFound("no such calendar", "token")
        org = session.scalars(select(Organization)).first()
        zone = person.timezone or (org.timezone if org else "UTC")
    body = ical.calendar(f"on call: {ident}", chosen, zone=zone, stamp=now)
    return Response(body, media_type="text/calendar; charset=utf-8")
