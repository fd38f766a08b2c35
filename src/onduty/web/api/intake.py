"""Inbound alerts: `POST /integrations/{key}` (the integration's type picks the parser) and
PagerDuty's `POST /v2/enqueue`. Authenticated by the integration key; 202 only after commit."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from onduty import intake
from onduty.incidents import service as incidents_service
from onduty.services import service as services_service
from onduty.services.models import Integration
from onduty.web.deps import get_session

router = APIRouter(tags=["intake"])

THROTTLED = {
    "status": "throttle event",
    "message": "Requests for this service are arriving too quickly. Please retry later.",
}


class RateLimiter:
    """A fixed one-minute window per integration, counted in this process only: with several
    API processes each allows the limit, so set it per process accordingly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[int, int] = {}

    def allow(self, integration_id: int, limit: int, now: datetime) -> bool:
        window = int(now.timestamp() // 60)
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            used = self._counts.get(integration_id, 0)
            if used >= limit:
                return False
            self._counts[integration_id] = used + 1
            return True


_state_lock = threading.Lock()


def _error(
    code: int, message: str, field: str | None, pagerduty: dict[str, Any] | None = None
) -> JSONResponse:
    """SPEC's `{"error", "field"}`, after PagerDuty's own keys on /v2/enqueue."""
    return JSONResponse({**(pagerduty or {}), "error": message, "field": field}, status_code=code)


async def raw_body(request: Request) -> bytes:
    """The request body, refused with 413 over `max_body_bytes` by its declared length or, for
    a chunked or lying sender, as soon as the bytes read pass the limit."""
    limit: int = request.app.state.settings.max_body_bytes
    too_large = HTTPException(413, f"the body is over the limit of {limit // 1024} KiB")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _allowed(request: Request, integration: Integration) -> bool:
    state = request.app.state
    limiter: RateLimiter = _shared(request, "rate_limiter", RateLimiter)
    limit = integration.rate_limit or state.settings.integration_rate_limit
    return limiter.allow(integration.id, limit, state.clock.now())


def _shared(request: Request, name: str, make: Callable[[], Any]) -> Any:
    """A per-app object made on first use (the app factory knows nothing of intake)."""
    with _state_lock:
        if not hasattr(request.app.state, name):
            setattr(request.app.state, name, make())
        return getattr(request.app.state, name)


@contextmanager
def _one_writer(request: Request, session: Session) -> Iterator[None]:
    """On SQLite, one intake request at a time per app.

    SQLite has one writer and every transaction starts with BEGIN IMMEDIATE (db/session.py), so
    concurrent requests would wait in SQLite's busy handler, which sleeps in steps of up to
    100 ms; queueing on a lock hands the database over without sleeping."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    with _shared(request, "sqlite_writer", threading.Lock):
        try:
            yield
        finally:
            session.rollback()  # end the transaction before another request may begin one


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


# Plain `def` routes: FastAPI runs them in its thread pool, so database waits never block the
# event loop; the body is read before, asynchronously, by the `raw_body` dependency.


@router.post("/integrations/{key}", status_code=202, response_model=None)
def receive(
    key: str,
    request: Request,
    body: bytes = Depends(raw_body),
    session: Session = Depends(get_session),
) -> JSONResponse:
    """Alerts from Alertmanager, Google Cloud Monitoring, Grafana or a generic JSON sender.

    400 when the body as a whole is unreadable (not JSON, not an object), 422 when a field is
    wrong; `field` says which. A sender's test notification is accepted and stores nothing."""
    with _one_writer(request, session):
        return _receive(key, request, body, session)


def _receive(key: str, request: Request, body: bytes, session: Session) -> JSONResponse:
    integration = services_service.get_integration_by_key(session, key)
    if integration is None or integration.type == "pagerduty":
        return _error(404, "no integration has this key", "key")
    if not _allowed(request, integration):
        return _error(429, "this integration is over its rate limit; retry in a minute", None)
    try:
        signals = intake.parse(
            integration.type, body, dict(request.headers), config=integration.config
        )
    except intake.IntakeError as exc:
        return _error(400 if exc.field is None else 422, exc.message, exc.field)
    result = _store(request, session, integration, signals)
    return JSONResponse(
        {
            "status": "accepted",
            "alerts": sum(1 for s in signals if not s.is_test),
            "test": bool(signals) and all(s.is_test for s in signals),
            "incidents_created": result.created,
            "incidents_updated": sorted(set(result.updated)),
            "incidents_resolved": result.resolved,
        },
        status_code=202,
    )


@router.post("/v2/enqueue", status_code=202, response_model=None)
def enqueue(
    request: Request,
    body: bytes = Depends(raw_body),
    session: Session = Depends(get_session),
) -> JSONResponse:
    """PagerDuty Events API v2, answered as PagerDuty does; error bodies also carry onduty's
    `error` and `field`. A well-formed routing key that is no pagerduty integration's key is a
    404 (SPEC §6.3), where PagerDuty itself would accept the event and drop it."""
    with _one_writer(request, session):
        return _enqueue(request, body, session)


def _enqueue(request: Request, body: bytes, session: Session) -> JSONResponse:
    try:
        signals = intake.parse("pagerduty", body, dict(request.headers))
    except intake.IntakeError as exc:
        return _error(400, exc.message, exc.field, intake.pagerduty_error_body(exc))
    signal = signals[0]
    integration = services_service.get_integration_by_key(session, signal.routing_key or "")
    if integration is None or integration.type != "pagerduty":
        errors = intake.pagerduty_error(["Invalid routing key"])
        return _error(404, "no pagerduty integration has this routing_key", "routing_key", errors)
    if not _allowed(request, integration):
        return _error(429, "this integration is over its rate limit", None, THROTTLED)
    if signal.dedup_key is None:
        signal = intake.with_generated_key(signal, uuid.uuid4().hex)
    _store(request, session, integration, [signal])
    return JSONResponse(intake.pagerduty_success(signal.source_dedup_key or ""), status_code=202)
