"""Inbound alerts: `POST /integrations/{key}` (the integration's type picks the parser) and
PagerDuty's `POST /v2/enqueue`. Authenticated by the integration key; 202 only after commit."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from onduty import intake
from onduty.db.group_commit import GroupCommit
from onduty.db.memo import remembered
from onduty.incidents import service as incidents_service
from onduty.services import service as services_service
from onduty.services.models import Integration

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


def _writer(request: Request) -> GroupCommit:
    factory = request.app.state.session_factory
    writer: GroupCommit = _shared(request, "intake_writer", lambda: GroupCommit(factory))
    return writer


async def _store_in_batch(
    request: Request, job: Callable[[Session], tuple[JSONResponse, bool]]
) -> JSONResponse:
    """Run an intake job in the app's group commit (db/group_commit.py): the answer is sent only
    after the batch holding it has committed; the engine is woken for new incidents."""
    answer, created = await _writer(request).arun(job)
    wake = getattr(request.app.state, "wake_engine", None)
    if wake is not None and created:
        wake()
    return answer


def _integration(session: Session, key: str) -> Integration | None:
    """By key, remembered for the rest of the transaction (a batch often repeats one key)."""
    return remembered(
        session,
        "intake.integrations",
        key,
        lambda: services_service.get_integration_by_key(session, key),
    )


# The routes are async: they read the body and wait for the writer thread without holding a
# worker thread; all database work happens on the writer.


@router.post("/integrations/{key}", status_code=202, response_model=None)
async def receive(key: str, request: Request, body: bytes = Depends(raw_body)) -> JSONResponse:
    """Alerts from Alertmanager, Google Cloud Monitoring, Grafana or a generic JSON sender.

    400 when the body as a whole is unreadable (not JSON, not an object), 422 when a field is
    wrong; `field` says which. A sender's test notification is accepted and stores nothing."""
    headers = dict(request.headers)
    return await _store_in_batch(request, lambda s: _receive(key, request, body, headers, s))


def _receive(
    key: str, request: Request, body: bytes, headers: dict[str, str], session: Session
) -> tuple[JSONResponse, bool]:
    integration = _integration(session, key)
    if integration is None or integration.type == "pagerduty":
        return _error(404, "no integration has this key", "key"), False
    if not _allowed(request, integration):
        return _error(
            429, "this integration is over its rate limit; retry in a minute", None
        ), False
    try:
        signals = intake.parse(integration.type, body, headers, config=integration.config)
    except intake.IntakeError as exc:
        return _error(400 if exc.field is None else 422, exc.message, exc.field), False
    result = _store(request, session, integration, signals)
    answer = JSONResponse(
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
    return answer, bool(result.created)


@router.post("/v2/enqueue", status_code=202, response_model=None)
async def enqueue(request: Request, body: bytes = Depends(raw_body)) -> JSONResponse:
    """PagerDuty Events API v2, answered as PagerDuty does; error bodies also carry onduty's
    `error` and `field`. A well-formed routing key that is no pagerduty integration's key is a
    404 (SPEC §6.3), where PagerDuty itself would accept the event and drop it."""
    try:
        signal = intake.parse("pagerduty", body, dict(request.headers))[0]
    except intake.IntakeError as exc:
        return _error(400, exc.message, exc.field, intake.pagerduty_error_body(exc))
    if signal.dedup_key is None:  # chosen here, so a rerun of the job keeps it
        signal = intake.with_generated_key(signal, uuid.uuid4().hex)
    return await _store_in_batch(request, lambda s: _enqueue(request, signal, s))


def _enqueue(
    request: Request, signal: intake.Signal, session: Session
) -> tuple[JSONResponse, bool]:
    integration = _integration(session, signal.routing_key or "")
    if integration is None or integration.type != "pagerduty":
        errors = intake.pagerduty_error(["Invalid routing key"])
        answer = _error(404, "no pagerduty integration has this routing_key", "routing_key", errors)
        return answer, False
    if not _allowed(request, integration):
        return _error(429, "this integration is over its rate limit", None, THROTTLED), False
    result = _store(request, session, integration, [signal])
    answer = JSONResponse(intake.pagerduty_success(signal.source_dedup_key or ""), status_code=202)
    return answer, bool(result.created)


def _store(
    request: Request, session: Session, integration: Integration, signals: list[intake.Signal]
) -> incidents_service.IngestResult:
    now = request.app.state.clock.now()
    return incidents_service.ingest(session, integration=integration, signals=signals, now=now)
