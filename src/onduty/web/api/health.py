"""Liveness and readiness probes (public, no secrets in their answers)."""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from onduty.db.session import alembic_config
from onduty.engine.audit import audit, healthy

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(request: Request) -> dict[str, Any] | JSONResponse:
    """The database answers and its schema is at the newest migration."""
    settings = request.app.state.settings
    head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
    try:
        with request.app.state.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        return JSONResponse(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"}, 503
        )
    if current != head:
        return JSONResponse(
            {"status": "unavailable", "database": f"schema at {current}, expected {head}"}, 503
        )
    # The auditor's findings are reported, not enforced: an API process must stay in rotation
    # even while the engine (possibly elsewhere) is unhealthy; /metrics alerts on them.
    now = request.app.state.clock.now()
    with request.app.state.session_factory() as session:
        findings = audit(session, now=now, tick=settings.engine_tick)
    ok = healthy(findings, tick=settings.engine_tick)
    return {
        "status": "ok" if ok else "degraded",
        "database": "ok",
        "schema": current,
        "auditor": {**findings, "healthy": ok},
    }
