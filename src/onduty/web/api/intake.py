"""Inbound alerts: `POST /integrations/{key}` (the integration's type picks the parser) and
PagerDuty's `POST /v2/enqueue`. Authenticated by the integration key; 202 only after commit.
Admission and storage are `incidents.admission`'s; this router translates HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from onduty import intake
from onduty.db.group_commit import GroupCommit
from onduty.errors import OndutyError
from onduty.incidents.admission import Inbound, Outcome, Refused, pagerduty_event
from onduty.services.models import Integration
from onduty.statuspage import intercom
from onduty.web.deps import wake_engine

router = APIRouter(tags=["intake"])

THROTTLED = {
    "status": "throttle event",
    "message": "Requests for this service are arriving too quickly. Please retry later.",
}
STATUS = {
    "unknown_key": 404,
    "rate_limited": 429,
    "unreadable": 400,
    "invalid": 422,
    "forged": 401,
}


def _error(
    code: int, message: str, field: str | None, pagerduty: dict[str, Any] | None = None
) -> JSONResponse:
    """SPEC's `{"error", "field"}`, after PagerDuty's own keys on /v2/enqueue."""
    return JSONResponse({**(pagerduty or {}), "error": message, "field": field}, status_code=code)


async def _submit(request: Request, inbound: Inbound) -> Outcome:
    """Hand the request to the app's group commit (built in `create_app`): it is answered only
    after the batch holding it has committed; the engine is woken for new incidents."""
    writer: GroupCommit[Inbound, Outcome] = request.app.state.intake_writer
    outcome = await writer.arun(inbound)
    if not isinstance(outcome, Refused) and outcome.result.created:
        wake_engine(request)
    return outcome


# The routes are async: they read the body and wait for the writer thread without holding a
# worker thread; all database work happens on the writer.


@router.post("/integrations/{key}", status_code=202, response_model=None)
async def receive(key: str, request: Request) -> JSONResponse:
    """Alerts from Alertmanager, Google Cloud Monitoring, Grafana or a generic JSON sender,
    and Jira's webhooks for a `jira` integration (401 when its signature does not match).

    400 when the body as a whole is unreadable (not JSON, not an object), 422 when a field is
    wrong; `field` says which. A sender's test notification is accepted and stores nothing.
    413 over `max_body_bytes` (web/limits.py)."""
    body = await request.body()
    outcome = await _submit(request, Inbound(key, body, dict(request.headers)))
    if isinstance(outcome, Refused):
        if outcome.reason == "elsewhere" and outcome.message == "intercom":
            return await run_in_threadpool(_intercom, request, key, body)
        return _error(STATUS[outcome.reason], outcome.message, outcome.field)
    signals, result = outcome.signals, outcome.result
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


def _intercom(request: Request, key: str, body: bytes) -> JSONResponse:
    """An Intercom notification: the signature first (401 stores nothing), then a report and
    an incident for a new conversation (statuspage/intercom.py). Answered 200 (Intercom wants
    a 2xx quickly) with what was done."""
    settings = request.app.state.settings
    try:
        intercom.verify(
            settings.intercom_client_secret, body, request.headers.get("x-hub-signature")
        )
    except intercom.BadSignature as exc:
        return _error(401, exc.message, exc.field)
    factory = request.app.state.session_factory
    try:
        with factory() as session, session.begin():
            integration = session.scalars(select(Integration).where(Integration.key == key)).one()
            got = intercom.receive(
                session, integration=integration, body=body, now=request.app.state.clock.now()
            )
    except OndutyError as exc:
        if exc.field == "id" and exc.message == "duplicate notification":
            return JSONResponse({"status": "duplicate"}, status_code=200)
        return _error(400 if exc.field is None else 422, exc.message, exc.field)
    if got.outcome == "created":
        wake_engine(request)
    return JSONResponse(
        {"status": got.outcome, "incident": got.incident_id, "reason": got.reason},
        status_code=200,
    )


@router.post("/v2/enqueue", status_code=202, response_model=None)
async def enqueue(request: Request) -> JSONResponse:
    """PagerDuty Events API v2, answered as PagerDuty does; error bodies also carry onduty's
    `error` and `field`. A well-formed routing key that is no pagerduty integration's key is a
    404 (SPEC §6.3), where PagerDuty itself would accept the event and drop it."""
    body = await request.body()
    try:
        inbound = pagerduty_event(body, dict(request.headers))
    except intake.IntakeError as exc:
        return _error(400, exc.message, exc.field, intake.pagerduty_error_body(exc))
    outcome = await _submit(request, inbound)
    if isinstance(outcome, Refused):
        extra = (
            THROTTLED
            if outcome.reason == "rate_limited"
            else intake.pagerduty_error(["Invalid routing key"])
        )
        return _error(STATUS[outcome.reason], outcome.message, outcome.field, extra)
    assert inbound.event is not None
    body_out = intake.pagerduty_success(inbound.event.source_dedup_key or "")
    return JSONResponse(body_out, status_code=202)
