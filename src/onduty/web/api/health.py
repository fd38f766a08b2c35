"""Liveness and readiness probes (public, no secrets in their answers)."""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from onduty.db.session import alembic_config

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
    return {"status": "ok", "database": "ok", "schema": current}
