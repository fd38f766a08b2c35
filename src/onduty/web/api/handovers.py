"""Weekly handovers over HTTP (SPEC §6.4): list and read them, the incoming acknowledge, the
meeting's record, and agenda items for the next meeting."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from onduty.auth import service as auth_service
from onduty.bounds import Id, Name, Text
from onduty.clock import Clock
from onduty.handover import service as handover_service
from onduty.web.deps import Caller, TokenFirstRoute, get_clock, get_session, require

router = APIRouter(prefix="/api/v1", tags=["handovers"], route_class=TokenFirstRoute)


class MeetingIn(BaseModel):
    attendees: list[Name] = Field(default_factory=list, max_length=100)
    notes: Text | None = Field(default=None, max_length=20000)
    outcomes: Text | None = Field(default=None, max_length=20000)


class AgendaIn(BaseModel):
    team: Name
    text: Text = Field(max_length=1000)


def _actor(caller: Caller) -> str:
    return caller.person_id or f"token:{caller.token_id}"


@router.get("/handovers")
def list_handovers(
    team: Name | None = None,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> list[dict[str, Any]]:
    """The latest handovers (of one team), newest first, each with its whole report."""
    return handover_service.list_handovers(session, team=team)


@router.get("/handovers/{handover_id}")
def get_handover(
    handover_id: Id,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> dict[str, Any]:
    return handover_service.get_handover(session, handover_id=handover_id)


@router.post("/handovers/{handover_id}/acknowledge")
def acknowledge(
    handover_id: Id,
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    caller: Caller = Depends(require("responder")),
) -> dict[str, Any]:
    """The incoming take the week over (an incoming person's token, or a manager's)."""
    handover_service.acknowledge(
        session,
        handover_id=handover_id,
        person=caller.person_id,
        actor=_actor(caller),
        manager=auth_service.role_allows(caller.role, "manager"),
        now=clock.now(),
    )
    session.commit()
    return handover_service.get_handover(session, handover_id=handover_id)


@router.post("/handovers/{handover_id}/meeting")
def meeting(
    handover_id: Id,
    body: MeetingIn,
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    caller: Caller = Depends(require("responder")),
) -> dict[str, Any]:
    """The meeting's record: attendees, notes, outcomes."""
    handover_service.record_meeting(
        session,
        handover_id=handover_id,
        attendees=list(body.attendees),
        notes=body.notes,
        outcomes=body.outcomes,
        actor=_actor(caller),
        now=clock.now(),
    )
    session.commit()
    return handover_service.get_handover(session, handover_id=handover_id)


@router.post("/handovers/agenda", status_code=201)
def agenda(
    body: AgendaIn,
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    caller: Caller = Depends(require("responder")),
) -> dict[str, Any]:
    """A topic for the team's next handover meeting."""
    item = handover_service.add_agenda_item(
        session, team_id=body.team, text=body.text, actor=_actor(caller), now=clock.now()
    )
    session.commit()
    return {"id": item.id, "team": item.team_id, "text": item.text, "by": item.added_by}
