"""Incident pages: open incidents on the dashboard (an htmx partial polled every few seconds),
the filtered list, one incident with its timeline, alerts, notifications and actions (plain
forms), the P3/P4 backlog, and people with a test-notification button."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty import models as m
from onduty.bounds import Id
from onduty.errors import InvalidInput, NotFound, OndutyError
from onduty.incidents import service as incidents_service
from onduty.notify import models as ob
from onduty.postmortems import service as postmortems_service
from onduty.runbooks import parse as runbook_files
from onduty.runbooks import service as runbooks_service
from onduty.runbooks.models import RunbookFeedback
from onduty.statuspage import service as statuspage_service
from onduty.web.deps import get_session, wake_engine
from onduty.web.errors import status_for
from onduty.web.ui.common import (
    Viewer,
    age,
    checked_form,
    current_viewer,
    org_zone,
    page_role,
    render,
    see_other,
    team_zones,
    when,
)

router = APIRouter(include_in_schema=False)

PRIORITIES = ("P1", "P2", "P3", "P4")
STATUSES = ("triggered", "acknowledged", "resolved")
# Which actions make sense in which status (the service refuses the others anyway).
ALLOWED = {
    "triggered": ("acknowledge", "escalate", "resolve"),
    "acknowledged": ("resolve", "escalate"),
    "resolved": ("reopen",),
}


# --- incident lists ---------------------------------------------------------------------------


def _rows(session: Session, incidents: list[m.Incident], now: datetime) -> list[dict[str, Any]]:
    services = {s.id: s.name for s in session.scalars(select(m.Service))}
    zones, default = team_zones(session), org_zone(session)
    rows = []
    for i in incidents:
        zone = zones.get(i.team_id, default)
        rows.append(
            {
                "id": i.id,
                "number": i.number,
                "title": i.title,
                "priority": i.priority,
                "status": i.status,
                "stage": i.stage,
                "jira_key": i.jira_key,
                "service": services.get(i.service_id, i.service_id),
                "team": i.team_id,
                "age": age(now, i.created_at),
                "opened": when(i.created_at, zone),
                "page_due": when(i.page_due_at, zone),
                "zone": zone,
            }
        )
    return rows


def open_incidents(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Triggered and acknowledged incidents, grouped by priority: triggered first, then oldest.
    Those handed over to a developer have left the on-call queue: they come last, in a group
    of their own (escalating one for help puts it back in the queue)."""
    found = incidents_service.list_incidents(
        session, status="triggered"
    ) + incidents_service.list_incidents(session, status="acknowledged")
    found.sort(key=lambda i: (i.priority, i.status != "triggered", i.created_at))
    groups: dict[str, list[dict[str, Any]]] = {}
    handed: list[m.Incident] = []
    queue: list[m.Incident] = []
    for i in found:
        (handed if incidents_service.with_developer(i) else queue).append(i)
    for row in _rows(session, queue, now):
        groups.setdefault(row["priority"], []).append(row)
    if handed:
        groups["Handed over to developers"] = _rows(session, handed, now)
    return [{"priority": p, "rows": rows} for p, rows in groups.items()]


@router.get("/partials/open-incidents", response_class=HTMLResponse)
def open_incidents_partial(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer | None = Depends(current_viewer),
) -> HTMLResponse:
    if viewer is None:
        # 286 tells htmx to stop polling; the fragment replaces the table.
        return HTMLResponse(
            '<p class="error" role="alert">Signed out: <a href="/login">sign in</a> again.</p>',
            status_code=286,
        )
    now = request.app.state.clock.now()
    return render(
        request,
        "_incidents_table.html",
        viewer,
        groups=open_incidents(session, now),
        caption="Open incidents by priority",
    )


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(
    request: Request,
    status: str = "",
    team: str = "",
    service: str = "",
    priority: str = "",
    stage: str = "",
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    now = request.app.state.clock.now()
    found = incidents_service.list_incidents(
        session,
        status=status or None,
        team=team or None,
        service=service or None,
        stage=stage if stage in incidents_service.STAGES else None,
    )
    if priority:
        found = [i for i in found if i.priority == priority]
    return render(
        request,
        "incidents.html",
        viewer,
        groups=[{"priority": None, "rows": _rows(session, found, now)}] if found else [],
        caption=f"{len(found)} incident{'s' if len(found) != 1 else ''}",
        filters={
            "status": status,
            "team": team,
            "service": service,
            "priority": priority,
            "stage": stage,
        },
        statuses=STATUSES,
        stages=incidents_service.STAGES,
        priorities=PRIORITIES,
        teams=session.scalars(select(m.Team).order_by(m.Team.name)).all(),
        services=session.scalars(select(m.Service).order_by(m.Service.name)).all(),
    )


@router.get("/backlog", response_class=HTMLResponse)
def backlog_page(
    request: Request,
    team: str = "",
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    now = request.app.state.clock.now()
    found = [
        i
        for i in incidents_service.list_incidents(session, team=team or None, backlog=True)
        if i.status != "resolved"
    ]
    found.sort(key=lambda i: (i.page_due_at, i.priority, i.id))
    return render(
        request,
        "backlog.html",
        viewer,
        rows=_rows(session, found, now),
        team=team,
        teams=session.scalars(select(m.Team).order_by(m.Team.name)).all(),
    )


# --- one incident -----------------------------------------------------------------------------


def _describe(kind: str, data: dict[str, Any]) -> str:
    if kind == "updated" and isinstance(data.get("changes"), dict):
        return "; ".join(
            f"{k}: {old or '—'} → {new or '—'}" for k, (old, new) in data["changes"].items()
        )
    skip = {"page_due_at", "cancelled", "outbox"}
    parts = []
    for k, v in data.items():
        if k in skip or v is None or v == "" or v == []:
            continue
        if k == "rule" and isinstance(v, int):
            v = f"#{v + 1}"
        elif isinstance(v, bool):
            v = "yes" if v else "no"
        elif isinstance(v, list):
            v = ", ".join(str(x) for x in v)
        parts.append(f"{k.replace('_', ' ')}: {v}")
    return "; ".join(parts)


def journey(incident: m.Incident, zone: str) -> list[dict[str, str]]:
    """The stages reached, in the order they were reached, each with its local time and the
    time since the stage before it."""
    reached = sorted(
        (
            (datetime.fromisoformat(at), incidents_service.STAGES.index(stage), stage)
            for stage, at in (incident.stages or {}).items()
            if stage in incidents_service.STAGES
        ),
    )
    out, before = [], None
    for at, _order, stage in reached:
        out.append(
            {
                "stage": stage,
                "at": when(at, zone, seconds=True),
                "iso": at.isoformat(),
                "since": "" if before is None else age(at, before),
            }
        )
        before = at
    return out


def _jira(session: Session, incident: m.Incident) -> dict[str, Any] | None:
    if incident.jira_state is None and incident.jira_key is None:
        return None
    last = session.scalars(
        select(ob.OutboxMessage)
        .where(ob.OutboxMessage.incident_id == incident.id, ob.OutboxMessage.target == "jira")
        .order_by(ob.OutboxMessage.id.desc())
    ).first()
    return {
        "key": incident.jira_key,
        "url": incident.jira_url if (incident.jira_url or "").startswith("http") else None,
        "state": incident.jira_state,
        "status": incident.jira_status,
        "last_error": last.last_error if last is not None and last.status != ob.SENT else None,
    }


def _incident_context(session: Session, incident_id: int, now: datetime) -> dict[str, Any]:
    incident = incidents_service.get_incident(session, incident_id=incident_id)
    zone = team_zones(session).get(incident.team_id) or org_zone(session)
    attachments = session.execute(
        select(m.ReportAttachment.id, m.ReportAttachment.filename, m.ReportAttachment.size)
        .where(m.ReportAttachment.incident_id == incident.id)
        .order_by(m.ReportAttachment.id)
    ).all()
    service = session.get(m.Service, incident.service_id)
    timeline = [
        {
            "at": when(e.at, zone, seconds=True),
            "kind": e.kind,
            "actor": e.actor,
            "channel": e.channel,
            "detail": _describe(e.kind, e.data or {}),
        }
        for e in incidents_service.incident_timeline(session, incident_id=incident.id)
    ]
    alerts = [
        {
            "summary": a.summary,
            "status": a.status,
            "severity": a.severity or "",
            "count": a.count,
            "dedup_key": a.dedup_key,
            "first_seen": when(a.first_seen, zone),
            "last_seen": when(a.last_seen, zone),
        }
        for a in incidents_service.incident_alerts(session, incident_id=incident.id)
    ]
    notifications = [
        {
            "person": r.person_id,
            "channel": r.channel,
            "fallback": ":fallback:" in r.rule_key,
            "event": r.event,
            "step": r.step,
            "status": r.status,
            "attempts": r.attempts,
            "last_error": r.last_error or "",
            "due": when(r.due_at, zone, seconds=True),
            "sent": when(r.sent_at, zone, seconds=True),
        }
        for r in session.scalars(
            select(ob.OutboxMessage)
            .where(
                ob.OutboxMessage.incident_id == incident.id,
                ob.OutboxMessage.person_id.is_not(None),
            )
            .order_by(ob.OutboxMessage.id)
        )
    ]
    matched = runbooks_service.for_incident(session, incident)
    given = {
        f.runbook_id: f
        for f in session.scalars(
            select(RunbookFeedback).where(RunbookFeedback.incident_id == incident.id)
        )
    }
    runbooks = [
        {"runbook": r, "html": runbook_files.to_html(r.text), "feedback": given.get(r.id)}
        for r in matched
    ]
    return {
        "incident": incident,
        "service": service,
        "postmortem": postmortems_service.get_postmortem(
            session, incident_id=incident.id, missing_ok=True
        ),
        "runbooks": runbooks,
        "verdicts": runbooks_service.VERDICTS,
        "zone": zone,
        "age": age(now, incident.created_at),
        "created": when(incident.created_at, zone, seconds=True),
        "acknowledged": when(incident.acknowledged_at, zone, seconds=True),
        "resolved": when(incident.resolved_at, zone, seconds=True),
        "priority_set": when(incident.priority_set_at, zone, seconds=True),
        "page_due": when(incident.page_due_at, zone),
        "timeline": timeline,
        "alerts": alerts,
        "notifications": notifications,
        "actions": ALLOWED.get(incident.status, ()),
        "journey": journey(incident, zone),
        "jira": _jira(session, incident),
        "attachments": attachments,
        "report": _report_rows(incident.report),
        "handover": incident.handover,
        "handed_over": when(
            datetime.fromisoformat(incident.handover["at"]) if incident.handover else None,
            zone,
            seconds=True,
        ),
        "priorities": PRIORITIES,
        "people": session.scalars(select(m.Person).order_by(m.Person.name)).all(),
        "status_incidents": statuspage_service.for_incident(session, incident.id),
        "status_required": bool(
            (policy := session.get(m.PriorityPolicy, incident.priority)) and policy.status_page
        ),
    }


REPORT_LABELS = {
    "actual": "What happened",
    "expected": "What should happen",
    "steps": "Steps",
    "environment": "Environment",
    "reporter": "Reporter",
    "client": "Client",
    "links": "Links",
}


def _report_rows(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The bug template's fields as the page shows them: text (escaped by the template) and,
    for links, only http(s) URLs as anchors."""
    rows = []
    for key, label in REPORT_LABELS.items():
        value = (report or {}).get(key)
        if not value:
            continue
        if isinstance(value, list):
            links = [(str(v), str(v).startswith(("https://", "http://"))) for v in value]
            rows.append({"label": label, "links": links})
        else:
            rows.append({"label": label, "text": str(value)})
    return rows


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    incident_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    try:
        context = _incident_context(session, incident_id, request.app.state.clock.now())
    except NotFound as exc:
        return render(request, "error.html", viewer, status_code=404, message=exc.message)
    return render(request, "incident.html", viewer, error=None, **context)


async def _change(
    request: Request,
    session: Session,
    viewer: Viewer,
    incident_id: int,
    name: str,
) -> Response:
    form = await checked_form(request, viewer)
    now = request.app.state.clock.now()
    try:
        if name in incidents_service.ACTIONS:
            incidents_service.ACTIONS[name](
                session, incident_id=incident_id, actor=viewer.actor, channel="web", now=now
            )
            if name == "resolve":
                incident = incidents_service.get_incident(session, incident_id=incident_id)
                postmortems_service.open_draft(
                    session,
                    incident=incident,
                    now=now,
                    due_days=request.app.state.settings.postmortem_due_days,
                )
            if name == "resolve" and form.get("verdict"):
                # Resolving asks whether the runbook was enough (SPEC §1 rule 9).
                runbooks_service.give_feedback(
                    session,
                    incident_id=incident_id,
                    runbook_id=str(form.get("runbook", "")),
                    verdict=str(form.get("verdict", "")),
                    missing=str(form.get("missing", "")),
                    actor=viewer.actor,
                    now=now,
                    due_days=request.app.state.settings.runbook_task_due_days,
                    channel="web",
                )
            posted = statuspage_service.open_for_incident(session, incident_id)
            if name == "resolve" and posted is not None and form.get("resolve_status"):
                # The resolve form asks whether the status incident is over too.
                statuspage_service.add_update(
                    session,
                    status_incident_id=posted.id,
                    status="resolved",
                    body=None,
                    component_statuses=None,
                    actor=viewer.actor,
                    now=now,
                    base_url=request.app.state.settings.base_url,
                )
        elif name == "handover":
            links = [x.strip() for x in str(form.get("links", "")).splitlines() if x.strip()]
            for field, limit in (("actual", 20000), ("ideal", 20000), ("tried", 20000)):
                if len(str(form.get(field, ""))) > limit:
                    raise InvalidInput(f"{field} is longer than {limit} characters", field)
            developer = str(form.get("developer", ""))
            if not developer:
                raise InvalidInput("choose the developer to hand over to", "developer")
            incidents_service.handover(
                session,
                incident_id=incident_id,
                developer=developer,
                actual=str(form.get("actual", "")),
                ideal=str(form.get("ideal", "")),
                tried=str(form.get("tried", "")),
                runbook=str(form.get("runbook", "")).strip()[:64] or None,
                links=links[:50],
                actor=viewer.actor,
                channel="web",
                now=now,
                base_url=request.app.state.settings.base_url,
            )
        elif name == "priority":
            priority = str(form.get("priority", ""))
            if priority not in PRIORITIES:
                raise InvalidInput("priority must be P1, P2, P3 or P4", "priority")
            incidents_service.update_incident(
                session,
                incident_id=incident_id,
                actor=viewer.actor,
                channel="web",
                now=now,
                priority=priority,
            )
        else:  # reassign
            person = str(form.get("assignee", ""))
            if not person:
                raise InvalidInput("choose a person to assign", "assignee")
            incidents_service.update_incident(
                session,
                incident_id=incident_id,
                actor=viewer.actor,
                channel="web",
                now=now,
                assignee=person,
            )
        session.commit()
    except OndutyError as exc:
        session.rollback()
        return incident_error(request, session, viewer, incident_id, exc)
    wake_engine(request)
    return see_other(f"/incidents/{incident_id}")


def incident_error(
    request: Request, session: Session, viewer: Viewer, incident_id: int, exc: OndutyError
) -> Response:
    """The incident page again, with what was wrong with the form just sent."""
    try:
        context = _incident_context(session, incident_id, request.app.state.clock.now())
    except NotFound:
        return render(request, "error.html", viewer, status_code=404, message=exc.message)
    return render(
        request,
        "incident.html",
        viewer,
        status_code=status_for(exc),
        error=exc.message,
        **context,
    )


def _action_route(name: str) -> Callable[..., Awaitable[Response]]:
    async def act(
        incident_id: Id,
        request: Request,
        session: Session = Depends(get_session),
        viewer: Viewer = Depends(page_role("responder")),
    ) -> Response:
        return await _change(request, session, viewer, incident_id, name)

    act.__name__ = f"incident_{name}"
    return act


for _name in (*incidents_service.ACTIONS, "priority", "reassign", "handover"):
    router.add_api_route(
        f"/incidents/{{incident_id}}/{_name}",
        _action_route(_name),
        methods=["POST"],
        response_class=HTMLResponse,
        name=f"incident_{_name}",
    )
