"""Inbound alerts: `POST /integrations/{key}` (the integration's type picks the parser) and
PagerDuty's `POST /v2/enqueue`. Authenticated by the integration key; 202 only after commit."""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from onduty import intake
from onduty.incidents import service as incidents_service
from onduty.services import service as services_service
from onduty.services.models import Integration
from onduty.web.deps import get_session

router = APIRouter(tags=["intake"])


class RateLimiter:
    """A fixed one-minute window per integration, in this process (several API processes
    each allow the limit; set it per process accordingly)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, int], int] = defaultdict(int)

    def allow(self, integration_id: int, limit: int, now: datetime) -> bool:
        window = int(now.timestamp() // 60)
        with self._lock:
            for key in [k for k in self._counts if k[1] < window]:
                del self._counts[key]
            if self._counts[(integration_id, window)] >= limit:
                return False
            self._counts[(integration_id, window)] += 1
            return True


def _error(status: int, message: str, field: str | None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


async def _body(request: Request) -> bytes | JSONResponse:
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return _error(413, f"the body is over {limit // 1024} KiB", None)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _error(413, f"the body is over {limit // 1024} KiB", None)
        chunks.append(chunk)
    return b"".join(chunks)


def _limited(request: Request, integration: Integration) -> bool:
    state = request.app.state
    if not hasattr(state, "rate_limiter"):
        state.rate_limiter = RateLimiter()
    limit = integration.rate_limit or state.settings.integration_rate_limit
    return not state.rate_limiter.allow(integration.id, limit, state.clock.now())


def _store(
    request: Request, session: Session, integration: Integration, signals: list[intake.Signal]
) -> incidents_service.IngestResult:
    result = incidents_service.ingest(
        session, integration=integration, signals=signals, now=request.app.state.clock.now()
    )
    session.commit()
    wake = getattr(request.app.state, "wake_engine", None)
    if wake is not None and result.created:
        wake()
    return result


@router.post("/integrations/{key}", status_code=202, response_model=None)
async def receive(
    key: str, request: Request, session: Session = Depends(get_session)
) -> JSONResponse:
    """Alerts from Alertmanager, Google Cloud Monitoring, Grafana or a generic JSON sender."""
    integration = services_service.get_integration_by_key(session, key)
    if integration is None or integration.type == "pagerduty":
        return _error(404, "no integration has this key", "key")
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    if _limited(request, integration):
        return _error(429, "this integration is over its rate limit; retry in a minute", None)
    try:
        signals = intake.parse(
            integration.type, body, dict(request.headers), config=integration.config
        )
    except intake.IntakeError as exc:
        status = 400 if exc.field is None else 422
        return _error(status, exc.message, exc.field)
    result = _store(request, session, integration, signals)
    return JSONResponse(
        {
            "status": "accepted",
            "alerts": len(signals),
            "incidents_created": result.created,
            "incidents_updated": sorted(set(result.updated)),
        },
        status_code=202,
    )


@router.post("/v2/enqueue", status_code=202, response_model=None)
async def enqueue(request: Request, session: Session = Depends(get_session)) -> JSONResponse:
    """PagerDuty Events API v2, answered exactly as PagerDuty does."""
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    try:
        signals = intake.parse("pagerduty", body, dict(request.headers))
    except intake.IntakeError as exc:
        return JSONResponse(intake.pagerduty_error_body(exc), status_code=400)
    signal = signals[0]
    integration = services_service.get_integration_by_key(session, signal.routing_key or "")
    if integration is None or integration.type != "pagerduty":
        return JSONResponse(intake.pagerduty_error(["Invalid routing key"]), status_code=400)
    if _limited(request, integration):
        return JSONResponse(
            {
                "status": "throttle event",
                "message": "Requests for this service are arriving too quickly. "
                "Please retry later.",
            },
            status_code=429,
        )
    if signal.dedup_key is None:
        signal = intake.with_generated_key(signal, uuid.uuid4().hex)
    _store(request, session, integration, [signal])
    answer: dict[str, Any] = intake.pagerduty_success(signal.source_dedup_key or "")
    return JSONResponse(answer, status_code=202)
