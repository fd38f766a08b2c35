"""The one table from domain errors to HTTP status codes, and SPEC's `{"error", "field"}` body."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, TimeoutError
from starlette.exceptions import HTTPException

from onduty import errors
from onduty.db import failures
from onduty.web.deps import Unauthenticated

STATUS: dict[type[errors.OndutyError], int] = {
    Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InvalidTransition: 409,
    errors.InvalidInput: 422,
}


def status_for(exc: errors.OndutyError) -> int:
    return next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)


def body(message: str, field: str | None) -> dict[str, str | None]:
    return {"error": message, "field": field}


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.OndutyError)
    async def _domain(_request: Request, exc: errors.OndutyError) -> JSONResponse:
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body(exc.message, exc.field), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        return JSONResponse(body(str(first["msg"]), ".".join(loc) or None), status_code=422)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(TimeoutError)
    async def _database(_request: Request, exc: Exception) -> JSONResponse:
        """The database is away, or a deadlock outlived its retries: nothing was stored, and
        the client should retry; never a 500."""
        if not (failures.unavailable(exc) or failures.retryable(exc)):
            raise exc
        return JSONResponse(
            body("the database is unavailable; retry shortly", None),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(body(str(exc.detail), None), status_code=exc.status_code)
