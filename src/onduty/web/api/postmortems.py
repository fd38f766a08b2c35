"""Postmortems over HTTP (SPEC §6.4): read and save (with the version edited: a stale save is
a 409 and writes nothing), publish, the Markdown export, and the list."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from onduty.bounds import Id
from onduty.postmortems import service as postmortems_service
from onduty.postmortems.schemas import PostmortemOut, PostmortemPut, postmortem_out
from onduty.web.api.incidents import actor
from onduty.web.deps import Caller, TokenFirstRoute, get_session, require

router = APIRouter(prefix="/api/v1", tags=["postmortems"], route_class=TokenFirstRoute)


@router.get("/postmortems", response_model=list[PostmortemOut])
def list_postmortems(
    request: Request,
    status: str | None = None,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> list[PostmortemOut]:
    now = request.app.state.clock.now()
    return [
        postmortem_out(p, now) for p in postmortems_service.list_postmortems(session, status=status)
    ]


@router.get("/incidents/{incident_id}/postmortem", response_model=PostmortemOut)
def get_postmortem(
    incident_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> PostmortemOut:
    row = postmortems_service.get_postmortem(session, incident_id=incident_id)
    assert row is not None
    return postmortem_out(row, request.app.state.clock.now())


@router.put("/incidents/{incident_id}/postmortem", response_model=PostmortemOut)
def save_postmortem(
    incident_id: Id,
    body: PostmortemPut,
    request: Request,
    session: Session = Depends(get_session),
    caller: Caller = Depends(require("responder")),
) -> PostmortemOut:
    """Save an edit made from `version`; 409 if someone saved since (nothing is written) or
    if it is published."""
    now = request.app.state.clock.now()
    row = postmortems_service.save(
        session,
        incident_id=incident_id,
        version=body.version,
        actor=actor(caller),
        now=now,
        answers=body.answers.model_dump(exclude_none=True) if body.answers else None,
        timeline_entries=[e.model_dump() for e in body.timeline]
        if body.timeline is not None
        else None,
        actions=[postmortems_service.ActionItem(**a.model_dump()) for a in body.actions]
        if body.actions is not None
        else None,
        owner=body.owner,
        due_at=body.due_at,
        status=body.status,
    )
    result = postmortem_out(row, now)
    session.commit()
    return result


@router.post("/incidents/{incident_id}/postmortem/publish", response_model=PostmortemOut)
def publish_postmortem(
    incident_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    caller: Caller = Depends(require("responder")),
) -> PostmortemOut:
    """Publish a postmortem in review: read-only from then on; records stage `postmortem`."""
    now = request.app.state.clock.now()
    row = postmortems_service.publish(
        session, incident_id=incident_id, actor=actor(caller), now=now
    )
    result = postmortem_out(row, now)
    session.commit()
    return result


@router.get(
    "/incidents/{incident_id}/postmortem/markdown",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {}}}},
)
def postmortem_markdown(
    incident_id: Id,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> PlainTextResponse:
    text = postmortems_service.markdown(session, incident_id=incident_id)
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="postmortem-{incident_id}.md"'},
    )
