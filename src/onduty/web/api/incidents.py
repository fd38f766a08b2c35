"""Incidents over HTTP (SPEC §6.3): list, read with timeline, alerts and notifications, report,
acknowledge, resolve, escalate, reopen, update; and the P3/P4 backlog."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.bounds import Id
from onduty.incidents import ingest as incident_ingest
from onduty.incidents import service as incidents_service
from onduty.incidents.models import Incident
from onduty.incidents.schemas import (
    AlertOut,
    HandoverIn,
    IncidentCreate,
    IncidentDetail,
    IncidentOut,
    IncidentRunbook,
    IncidentUpdate,
    NotificationOut,
    TimelineOut,
)
from onduty.notify.models import OutboxMessage
from onduty.postmortems import service as postmortems_service
from onduty.runbooks import service as runbooks_service
from onduty.runbooks.models import RunbookFeedback
from onduty.web.deps import Caller, TokenFirstRoute, get_session, require, wake_engine

router = APIRouter(prefix="/api/v1", tags=["incidents"], route_class=TokenFirstRoute)


def actor(caller: Caller) -> str:
    return caller.person_id or f"token:{caller.token_id}"


def out(incident: Incident) -> IncidentOut:
    ack = (
        int((incident.acknowledged_at - incident.created_at).total_seconds())
        if incident.acknowledged_at
        else None
    )
    return IncidentOut(
        id=incident.id,
        number=incident.number,
        title=incident.title,
        status=incident.status,
        priority=incident.priority,
        rule_priority=incident.rule_priority,
        matched_rule=incident.matched_rule,
        priority_source="person" if incident.priority_set_by else "rule",
        priority_set_by=incident.priority_set_by,
        priority_set_at=incident.priority_set_at,
        service=incident.service_id,
        team=incident.team_id,
        discipline=incident.discipline,
        assignee=incident.assignee_id,
        source=incident.source,
        stage=incident.stage,
        stages=incident.stages,
        backlog=incident.backlog,
        page_due_at=incident.page_due_at,
        created_at=incident.created_at,
        acknowledged_at=incident.acknowledged_at,
        acknowledged_by=incident.acknowledged_by,
        resolved_at=incident.resolved_at,
        resolved_by=incident.resolved_by,
        seconds_to_acknowledge=ack,
        report=incident.report,
        reference=incident.reference,
        jira_key=incident.jira_key,
        jira_url=incident.jira_url,
        jira_status=incident.jira_status,
        handover=incident.handover,
    )


def detail(session: Session, incident: Incident) -> IncidentDetail:
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.incident_id == incident.id, OutboxMessage.person_id.is_not(None))
        .order_by(OutboxMessage.id)
    )
    verdicts = dict(
        session.execute(
            select(RunbookFeedback.runbook_id, RunbookFeedback.verdict).where(
                RunbookFeedback.incident_id == incident.id
            )
        ).all()
    )
    postmortem = postmortems_service.get_postmortem(
        session, incident_id=incident.id, missing_ok=True
    )
    return IncidentDetail(
        **out(incident).model_dump(),
        runbooks=[
            IncidentRunbook(
                id=r.id,
                title=r.title,
                version=r.version,
                url=f"/runbooks/{r.id}",
                verdict=verdicts.get(r.id),
            )
            for r in runbooks_service.for_incident(session, incident)
        ],
        postmortem=postmortem.status if postmortem else None,
        timeline=[
            TimelineOut(at=e.at, kind=e.kind, actor=e.actor, channel=e.channel, data=e.data)
            for e in incidents_service.incident_timeline(session, incident_id=incident.id)
        ],
        alerts=[
            AlertOut(
                id=a.id,
                dedup_key=a.dedup_key,
                status=a.status,
                summary=a.summary,
                severity=a.severity,
                labels=a.labels,
                count=a.count,
                first_seen=a.first_seen,
                last_seen=a.last_seen,
                resolved_at=a.resolved_at,
            )
            for a in incidents_service.incident_alerts(session, incident_id=incident.id)
        ],
        notifications=[
            NotificationOut(
                id=r.id,
                person=r.person_id,
                channel=r.channel,
                event=r.event,
                step=r.step,
                status=r.status,
                due_at=r.due_at,
                sent_at=r.sent_at,
                attempts=r.attempts,
                last_error=r.last_error,
            )
            for r in rows
        ],
    )


Stage = Literal[
    "reported",
    "ticketed",
    "acknowledged",
    "resolved_on_call",
    "handed_over",
    "resolved_by_developer",
    "postmortem",
    "runbook_updated",
]


@router.get("/incidents", response_model=list[IncidentOut])
def list_incidents(
    status: str | None = None,
    team: str | None = None,
    service: str | None = None,
    stage: Stage | None = None,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> list[IncidentOut]:
    """Incidents, newest first; `stage` is the journey stage an incident is at now."""
    return [
        out(i)
        for i in incidents_service.list_incidents(
            session, status=status, team=team, service=service, stage=stage
        )
    ]


@router.get("/backlog", response_model=list[IncidentOut])
def backlog(
    team: str | None = None,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> list[IncidentOut]:
    """P3/P4 reported outside working hours, waiting; each says when it is due for paging."""
    rows = incidents_service.list_incidents(session, team=team, backlog=True)
    return [out(i) for i in rows if i.status != "resolved"]


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(
    incident_id: Id,
    session: Session = Depends(get_session),
    _caller: Caller = Depends(require("viewer")),
) -> IncidentDetail:
    return detail(session, incidents_service.get_incident(session, incident_id=incident_id))


@router.post("/incidents", response_model=IncidentDetail, status_code=201)
def report(
    body: IncidentCreate,
    request: Request,
    session: Session = Depends(get_session),
    caller: Caller = Depends(require("responder")),
) -> IncidentDetail:
    """A bug report by a team member, QA or support, with the bug template."""
    fields = body.model_dump(
        exclude={"service", "title", "channel", "severity", "client_tier", "discipline"}
    )
    incident = incident_ingest.report(
        session,
        service_id=body.service,
        title=body.title,
        channel=body.channel,
        actor=actor(caller),
        now=request.app.state.clock.now(),
        fields=fields,
        severity=body.severity,
        client_tier=body.client_tier,
        discipline=body.discipline,
    )
    result = detail(session, incident)
    session.commit()
    wake_engine(request)
    return result


def _action(name: str):  # type: ignore[no-untyped-def]
    operation = incidents_service.ACTIONS[name]

    def act(
        incident_id: Id,
        request: Request,
        session: Session = Depends(get_session),
        caller: Caller = Depends(require("responder")),
    ) -> IncidentDetail:
        now = request.app.state.clock.now()
        incident = operation(
            session, incident_id=incident_id, actor=actor(caller), channel="api", now=now
        )
        if name == "resolve":
            due_days = request.app.state.settings.postmortem_due_days
            postmortems_service.open_draft(session, incident=incident, now=now, due_days=due_days)
        result = detail(session, incident)
        session.commit()
        wake_engine(request)
        return result

    act.__name__ = name
    act.__doc__ = f"{name.capitalize()} the incident."
    return act


for _name in incidents_service.ACTIONS:
    router.add_api_route(
        f"/incidents/{{incident_id}}/{_name}",
        _action(_name),
        methods=["POST"],
        response_model=IncidentDetail,
        name=_name,
    )


@router.post("/incidents/{incident_id}/handover", response_model=IncidentDetail)
def handover(
    incident_id: Id,
    body: HandoverIn,
    request: Request,
    session: Session = Depends(get_session),
    caller: Caller = Depends(require("responder")),
) -> IncidentDetail:
    """Hand the incident over to a developer (any person) with the handover template; it
    leaves the on-call queue, stays visible, and can still be escalated."""
    incident = incidents_service.handover(
        session,
        incident_id=incident_id,
        developer=body.developer,
        actual=body.actual,
        ideal=body.ideal,
        tried=body.tried,
        runbook=body.runbook,
        links=body.links,
        actor=actor(caller),
        channel="api",
        now=request.app.state.clock.now(),
        base_url=request.app.state.settings.base_url,
    )
    result = detail(session, incident)
    session.commit()
    wake_engine(request)
    return result


@router.patch("/incidents/{incident_id}", response_model=IncidentDetail)
def update(
    incident_id: Id,
    body: IncidentUpdate,
    request: Request,
    session: Session = Depends(get_session),
    caller: Caller = Depends(require("responder")),
) -> IncidentDetail:
    incident = incidents_service.update_incident(
        session,
        incident_id=incident_id,
        actor=actor(caller),
        channel="api",
        now=request.app.state.clock.now(),
        priority=body.priority,
        discipline=body.discipline,
        assignee=body.assignee,
    )
    result = detail(session, incident)
    session.commit()
    return result
