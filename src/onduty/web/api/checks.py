"""Daily checks over HTTP (SPEC §6.4): the list with each check's state, one check with its
history, ticking a checklist item; and the public heartbeat ping."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from onduty.bounds import Name, Text
from onduty.checks import service as checks_service
from onduty.clock import Clock
from onduty.config import Settings
from onduty.errors import NotFound
from onduty.web.deps import (
    Caller,
    TokenFirstRoute,
    get_clock,
    get_session,
    get_settings,
    require,
    wake_engine,
)

router = APIRouter(prefix="/api/v1", tags=["checks"], route_class=TokenFirstRoute)
pings = APIRouter(tags=["checks"])


class TickIn(BaseModel):
    item: Text = Field(max_length=500, description="The item's text, or its number from 1")


def _actor(caller: Caller) -> str:
    return caller.person_id or f"token:{caller.token_id}"


@router.get("/checks")
def list_checks(
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    settings: Settings = Depends(get_settings),
    _caller: Caller = Depends(require("viewer")),
) -> list[dict[str, Any]]:
    """Every check with its state; heartbeats with their `ping_url`, checklists with the
    current occurrence's items."""
    return checks_service.list_checks(session, now=clock.now(), base_url=settings.base_url)


@router.get("/checks/{check_id}")
def get_check(
    check_id: Name,
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    settings: Settings = Depends(get_settings),
    _caller: Caller = Depends(require("viewer")),
) -> dict[str, Any]:
    """One check with its history, newest first."""
    from onduty.checks.models import Check

    check = session.get(Check, check_id)
    if check is None:
        raise NotFound(f"no check with id {check_id!r}", "id")
    doc = checks_service.check_doc(session, check, now=clock.now(), base_url=settings.base_url)
    doc["history"] = checks_service.history(session, check_id=check_id)
    return doc


@router.post("/checks/{check_id}/tick")
def tick(
    check_id: Name,
    body: TickIn,
    request: Request,
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    caller: Caller = Depends(require("responder")),
) -> dict[str, Any]:
    """Tick an item of the checklist's current occurrence (today's, or the last check day's)."""
    doc = checks_service.tick(
        session, check_id=check_id, item=body.item, actor=_actor(caller), now=clock.now()
    )
    session.commit()
    wake_engine(request)
    return doc


def _ping(key: str, request: Request) -> Response:
    clock: Clock = request.app.state.clock
    with request.app.state.session_factory() as session, session.begin():
        checks_service.ping(session, key=key, now=clock.now())
    return Response(status_code=204)


@pings.get("/heartbeat/{key}", status_code=204, response_class=Response)
def heartbeat_get(key: Name, request: Request) -> Response:
    """A heartbeat check's ping (public: the key is the credential). Unknown key: 404."""
    return _ping(key, request)


@pings.post("/heartbeat/{key}", status_code=204, response_class=Response)
def heartbeat_post(key: Name, request: Request) -> Response:
    """The same, for senders that POST."""
    return _ping(key, request)
