"""Prometheus `/metrics`: incident and outbox counts and the auditor's findings. Public like
/healthz (counts only, no names or secrets), so a Prometheus server can scrape it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from onduty.db import dialect
from onduty.engine.audit import audit
from onduty.incidents.models import Incident
from onduty.notify import models as ob

router = APIRouter(tags=["health"])

# Seconds: 30 s to a day, around the 5-minute acknowledge target and the P1-P4 resolve targets.
BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200)


class _Durations(Collector):
    """Histograms of the time to acknowledge and to resolve, by priority, over every incident
    acknowledged (resolved): each bucket one SUM(CASE ...) in one query per histogram."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _histogram(self, name: str, doc: str, end: object) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, doc, labels=["priority"])
        s = self.session
        seconds = dialect.epoch(s, end) - dialect.epoch(s, Incident.created_at)
        columns = [func.sum(case((seconds <= b, 1), else_=0)) for b in BUCKETS]
        query = (
            select(Incident.priority, func.count(), func.sum(seconds), *columns)
            .where(end.is_not(None))  # type: ignore[attr-defined]
            .group_by(Incident.priority)
        )
        for priority, count, total, *cumulative in s.execute(query):
            buckets = [
                (str(float(b)), int(n or 0)) for b, n in zip(BUCKETS, cumulative, strict=True)
            ]
            buckets.append(("+Inf", int(count)))
            family.add_metric([priority], buckets, float(total or 0))
        return family

    def collect(self):  # type: ignore[no-untyped-def]
        yield self._histogram(
            "onduty_time_to_acknowledge_seconds",
            "Time from an incident's creation to its acknowledgement",
            Incident.acknowledged_at,
        )
        yield self._histogram(
            "onduty_time_to_resolve_seconds",
            "Time from an incident's creation to its resolution",
            Incident.resolved_at,
        )


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
        registry.register(_Durations(session))
        body = generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
