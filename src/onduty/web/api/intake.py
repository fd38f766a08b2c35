"""Inbound alerts: `POST /integrations/{key}` (the integration's type picks the parser) and
PagerDuty's `POST /v2/enqueue`. Authenticated by the integration key; 202 only after commit."""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from onduty import intake
from onduty.db.group_commit import GroupCommit
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
    API processes each allows the limit, so set it per process accordingly. A request is
    counted once: its verdict is kept while it lives, so the rerun of a failed batch (see
    `_submit`) neither counts it again nor changes its answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[int, int] = {}
        self._verdicts: weakref.WeakKeyDictionary[object, bool] = weakref.WeakKeyDictionary()

    def allow(self, request: object, integration_id: int, limit: int, now: datetime) -> bool:
        window = int(now.timestamp() // 60)
        with self._lock:
            if request in self._verdicts:
                return self._verdicts[request]
            if window != self._window:
                self._window, self._counts = window, {}
            used = self._counts.get(integration_id, 0)
            allowed = used < limit
            if allowed:
                self._counts[integration_id] = used + 1
            self._verdicts[request] = allowed
            return allowed


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


@dataclass(frozen=True, eq=False)  # by identity: the rate limiter keeps a verdict per request
class _Inbound:
    """A request waiting for the writer: a body for `/integrations/{key}` (parsed on the writer,
    where the integration's type and mapping are known), or a parsed PagerDuty event."""

    key: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    event: intake.Signal | None = None


Answer = tuple[JSONResponse, bool]  # and whether it created an incident


def _shared(request: Request, name: str, make: Callable[[], Any]) -> Any:
    """A per-app object made on first use (the app factory knows nothing of intake)."""
    with _state_lock:
        if not hasattr(request.app.state, name):
            setattr(request.app.state, name, make())
        return getattr(request.app.state, name)


async def _submit(request: Request, inbound: _Inbound) -> JSONResponse:
    """Hand the request to the app's group commit (db/group_commit.py): it is answered only
    after the batch holding it has committed; the engine is woken for new incidents."""
    state = request.app.state
    writer: GroupCommit[_Inbound, Answer] = _shared(
        request,
        "intake_writer",
        lambda: GroupCommit(state.session_factory, partial(_store_batch, state, RateLimiter())),
    )
    answer, created = await writer.arun(inbound)
    wake = getattr(state, "wake_engine", None)
    if wake is not None and created:
        wake()
    return answer


def _store_batch(
    state: Any, limiter: RateLimiter, session: Session, batch: list[_Inbound]
) -> list[Answer]:
    """A batch of requests: each refused, or accepted and stored with the others in one
    `ingest_many` (the run on the writer thread; see `_submit`)."""
    now: datetime = state.clock.now()
    # Holding the services keeps them in the session's identity map, where ingest finds them
    # without a query.
    known = services_service.integrations_by_key(session, (inbound.key for inbound in batch))
    answers: list[Answer | None] = [None] * len(batch)
    accepted: list[tuple[int, Integration, list[intake.Signal]]] = []
    for n, inbound in enumerate(batch):
        integration = known[inbound.key][0] if inbound.key in known else None
        admitted = _admit(state, limiter, integration, inbound, now)
        if isinstance(admitted, JSONResponse):
            answers[n] = (admitted, False)
        else:
            accepted.append((n, *admitted))
    results = incidents_service.ingest_many(
        session, [(integration, signals) for _, integration, signals in accepted], now=now
    )
    for (n, _, signals), result in zip(accepted, results, strict=True):
        event = batch[n].event
        if event is None:
            answers[n] = (_accepted(signals, result), bool(result.created))
        else:
            body = intake.pagerduty_success(event.source_dedup_key or "")
            answers[n] = (JSONResponse(body, status_code=202), bool(result.created))
    return [answer for answer in answers if answer is not None]


def _admit(
    state: Any,
    limiter: RateLimiter,
    integration: Integration | None,
    inbound: _Inbound,
    now: datetime,
) -> JSONResponse | tuple[Integration, list[intake.Signal]]:
    """The request's integration and signals, or the answer refusing it (404, 429, 400, 422)."""
    pagerduty = inbound.event is not None
    if integration is None or (integration.type == "pagerduty") != pagerduty:
        if pagerduty:
            errors = intake.pagerduty_error(["Invalid routing key"])
            message = "no pagerduty integration has this routing_key"
            return _error(404, message, "routing_key", errors)
        return _error(404, "no integration has this key", "key")
    limit = integration.rate_limit or state.settings.integration_rate_limit
    if not limiter.allow(inbound, integration.id, limit, now):
        if pagerduty:
            return _error(429, "this integration is over its rate limit", None, THROTTLED)
        return _error(429, "this integration is over its rate limit; retry in a minute", None)
    if inbound.event is not None:
        return integration, [inbound.event]
    try:
        signals = intake.parse(
            integration.type, inbound.body, inbound.headers, config=integration.config
        )
    except intake.IntakeError as exc:
        return _error(400 if exc.field is None else 422, exc.message, exc.field)
    return integration, signals


def _accepted(signals: list[intake.Signal], result: incidents_service.IngestResult) -> JSONResponse:
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


# The routes are async: they read the body and wait for the writer thread without holding a
# worker thread; all database work happens on the writer.


@router.post("/integrations/{key}", status_code=202, response_model=None)
async def receive(key: str, request: Request, body: bytes = Depends(raw_body)) -> JSONResponse:
    """Alerts from Alertmanager, Google Cloud Monitoring, Grafana or a generic JSON sender.

    400 when the body as a whole is unreadable (not JSON, not an object), 422 when a field is
    wrong; `field` says which. A sender's test notification is accepted and stores nothing."""
    return await _submit(request, _Inbound(key, body, dict(request.headers)))


@router.post("/v2/enqueue", status_code=202, response_model=None)
async def enqueue(request: Request, body: bytes = Depends(raw_body)) -> JSONResponse:
    """PagerDuty Events API v2, answered as PagerDuty does; error bodies also carry onduty's
    `error` and `field`. A well-formed routing key that is no pagerduty integration's key is a
    404 (SPEC §6.3), where PagerDuty itself would accept the event and drop it."""
    try:
        signal = intake.parse("pagerduty", body, dict(request.headers))[0]
    except intake.IntakeError as exc:
        return _error(400, exc.message, exc.field, intake.pagerduty_error_body(exc))
    if signal.dedup_key is None:  # chosen here, so a rerun of the batch keeps it
        signal = intake.with_generated_key(signal, uuid.uuid4().hex)
    return await _submit(request, _Inbound(signal.routing_key or "", event=signal))
