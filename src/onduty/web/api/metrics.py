"""Prometheus `/metrics`: incident and outbox counts and the auditor's findings. Public like
/healthz (counts only, no names or secrets), so a Prometheus server can scrape it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select

from onduty.engine.audit import audit
from onduty.incidents.models import Incident
from onduty.notify import models as ob

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Current counts, computed on each scrape from the database (so any process can serve them)."""
    registry = CollectorRegistry()
    incidents = Gauge(
        "onduty_incidents",
        "Incidents by status and priority",
        ["status", "priority"],
        registry=registry,
    )
    outbox = Gauge(
        "onduty_outbox_messages",
        "Outbox messages by status and channel (target:NAME for calls to external systems)",
        ["status", "channel"],
        registry=registry,
    )
    findings = Gauge(
        "onduty_auditor",
        "Auditor findings (0 is healthy; lease age in seconds)",
        ["check"],
        registry=registry,
    )
    settings, now = request.app.state.settings, request.app.state.clock.now()
    with request.app.state.session_factory() as session:
        for status, priority, n in session.execute(
            select(Incident.status, Incident.priority, func.count()).group_by(
                Incident.status, Incident.priority
            )
        ):
            incidents.labels(status, priority or "none").set(n)
        for status, channel, target, n in session.execute(
            select(
                ob.OutboxMessage.status,
                ob.OutboxMessage.channel,
                ob.OutboxMessage.target,
                func.count(),
            ).group_by(ob.OutboxMessage.status, ob.OutboxMessage.channel, ob.OutboxMessage.target)
        ):
            outbox.labels(status, channel or f"target:{target}").set(n)
        for check, value in audit(session, now=now, tick=settings.engine_tick).items():
            findings.labels(check).set(value)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
