"""The status page over the API (SPEC §6.4): status incidents and their updates, maintenances,
the draft an incident pre-fills and a preview. Responders post; viewers read."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from onduty.bounds import Id
from onduty.incidents import service as incidents_service
from onduty.statuspage import service
from onduty.statuspage.models import StatusIncident
from onduty.statuspage.schemas import (
    Draft,
    MaintenanceCreate,
    StatusIncidentCreate,
    StatusIncidentOut,
    StatusPreview,
    StatusUpdateCreate,
    UpdateOut,
)
from onduty.web.api.incidents import actor
from onduty.web.deps import Caller, TokenFirstRoute, get_session, require

router = APIRouter(prefix="/api/v1", tags=["status page"], route_class=TokenFirstRoute)


def out(row: StatusIncident) -> StatusIncidentOut:
    due = None
    if row.kind == "incident" and row.resolved_at is None and row.update_every_s:
        due = row.last_update_at + timedelta(seconds=row.update_every_s)
    return StatusIncidentOut(
        id=row.id,
        kind=row.kind,
        name=row.name,
        status=row.status,
        impact=row.impact,
        incident=row.incident_id,
        owner=row.owner_id,
        components={a.component_id: a.status for a in row.components},
        created_at=row.created_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        update_due_at=due,
        scheduled_for=row.scheduled_for,
        scheduled_until=row.scheduled_until,
        updates=[
            UpdateOut(
                id=u.id,
                status=u.status,
                body=u.body,
                author=u.author,
                created_at=u.created_at,
                affected_components=u.affected,
            )
            for u in row.updates
        ],
    )


@router.get("/status-incidents", response_model=list[StatusIncidentOut])
def list_status_incidents(
    unresolved: bool = False,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> list[StatusIncidentOut]:
    return [out(r) for r in service.list_status_incidents(session, unresolved=unresolved)]


@router.post("/status-incidents", response_model=StatusIncidentOut, status_code=201)
def create_status_incident(
    body: StatusIncidentCreate,
    request: Request,
    session: Session = Depends(get_session),
    caller: Caller = Depends(require("responder")),
) -> StatusIncidentOut:
    """Open a status incident; an empty `body` is the status's template, rendered."""
    row = service.create_status_incident(
        session,
        name=body.name,
        status=body.status,
        impact=body.impact,
        body=body.body,
        component_statuses=body.components,
        incident_id=body.incident,
        actor=actor(caller),
        now=request.app.state.clock.now(),
        base_url=request.app.state.settings.base_url,
        notify=body.notify,
    )
    result = out(row)
    session.commit()
    return result


@router.post("/status-incidents/preview", response_model=dict[str, str])
def preview(
    body: StatusPreview,
    request: Request,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("responder")),
) -> dict[str, str]:
    """The text an update would carry (its template rendered), without posting anything."""
    text = service.preview(
        session,
        status=body.status,
        name=body.name,
        impact=body.impact,
        body=body.body,
        component_ids=body.components,
        incident_id=body.incident,
        base_url=request.app.state.settings.base_url,
        now=request.app.state.clock.now(),
    )
    return {"body": text}


@router.get("/status-incidents/{status_incident_id}", response_model=StatusIncidentOut)
def get_status_incident(
    status_incident_id: Id,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> StatusIncidentOut:
    return out(service.get_status_incident(session, status_incident_id))


@router.post(
    "/status-incidents/{status_incident_id}/updates",
    response_model=StatusIncidentOut,
    status_code=201,
)
def post_update(
    status_incident_id: Id,
    body: StatusUpdateCreate,
    request: Request,
    session: Session = Depends(get_session),
    caller: Caller = Depends(require("responder")),
) -> StatusIncidentOut:
    service.add_update(
        session,
        status_incident_id=status_incident_id,
        status=body.status,
        body=body.body,
        component_statuses=body.components,
        impact=body.impact,
        actor=actor(caller),
        now=request.app.state.clock.now(),
        base_url=request.app.state.settings.base_url,
        notify=body.notify,
    )
    session.commit()
    return out(service.get_status_incident(session, status_incident_id))


@router.get("/incidents/{incident_id}/status-draft", response_model=Draft)
def status_draft(
    incident_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> Draft:
    """What "post to status page" pre-fills for this incident (`required`: its priority asks
    for a status-page incident)."""
    incident = incidents_service.get_incident(session, incident_id=incident_id)
    return Draft(
        **service.draft(
            session,
            incident=incident,
            base_url=request.app.state.settings.base_url,
            now=request.app.state.clock.now(),
        )
    )


@router.get("/maintenances", response_model=list[StatusIncidentOut])
def list_maintenances(
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> list[StatusIncidentOut]:
    return [out(r) for r in service.list_status_incidents(session, kind="maintenance")]


@router.post("/maintenances", response_model=StatusIncidentOut, status_code=201)
def create_maintenance(
    body: MaintenanceCreate,
    request: Request,
    session: Session = Depends(get_session),
    caller: Caller = Depends(require("responder")),
) -> StatusIncidentOut:
    """Schedule a maintenance; it starts and completes on its own at its times."""
    row = service.create_maintenance(
        session,
        name=body.name,
        scheduled_for=body.scheduled_for,
        scheduled_until=body.scheduled_until,
        component_ids=body.components,
        body=body.body,
        actor=actor(caller),
        now=request.app.state.clock.now(),
        base_url=request.app.state.settings.base_url,
    )
    result = out(row)
    session.commit()
    return result
