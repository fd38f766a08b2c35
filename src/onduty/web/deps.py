"""Request dependencies: a database session per request, the clock, and Bearer-token roles
(checked by `TokenFirstRoute` before the body is read)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from onduty.auth import service as auth_service
from onduty.clock import Clock
from onduty.config import Settings
from onduty.errors import Forbidden, OndutyError


class Unauthenticated(OndutyError):
    """No valid credentials were given (HTTP 401)."""


@dataclass(frozen=True)
class Caller:
    role: str
    person_id: str | None
    token_id: int | None


def get_session(request: Request) -> Iterator[Session]:
    """A session for the request; the route commits, anything else is rolled back."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def authorize(request: Request, role: str) -> Caller:
    """The caller named by the request's Bearer token, if that token has at least `role`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing Authorization: Bearer <token>", "authorization")
    session: Session = request.app.state.session_factory()
    try:
        row = auth_service.verify_token(session, token.strip())
        if row is None:
            raise Unauthenticated("the token is unknown or revoked", "authorization")
        if not auth_service.role_allows(row.role, role):
            raise Forbidden(
                f"this needs the {role} role; the token has {row.role}", "authorization"
            )
        return Caller(role=row.role, person_id=row.person_id, token_id=row.id)
    finally:
        session.close()


class Require:
    """The dependency `Depends(require(role))`: the route's caller, whose token has at least
    `role`. `TokenFirstRoute` checks it before FastAPI reads the body; this hands it over."""

    def __init__(self, role: str) -> None:
        self.role = role

    async def __call__(self, request: Request) -> Caller:
        caller: Caller | None = getattr(request.state, "caller", None)
        if caller is None:
            raise RuntimeError(f"{request.url.path}: its router needs route_class=TokenFirstRoute")
        return caller


def require(role: str) -> Require:
    return Require(role)


class TokenFirstRoute(APIRoute):
    """An API route that checks the Bearer token and its role before anything else.

    FastAPI reads and parses a route's body before it solves any dependency, so a dependency
    alone lets a caller without credentials make the server parse a body (and see a 422 for
    junk instead of a 401). Routes without a `require` dependency are left as they are."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        roles = [d.call.role for d in self.dependant.dependencies if isinstance(d.call, Require)]
        if not roles:
            return handler
        role = max(roles, key=auth_service.ROLES.index)

        async def token_first(request: Request) -> Response:
            request.state.caller = await run_in_threadpool(authorize, request, role)
            return await handler(request)

        return token_first


def wake_engine(request: Request) -> None:
    """Wake the in-process engine (if this process runs one) after committing work for it."""
    wake = getattr(request.app.state, "wake_engine", None)
    if wake is not None:
        wake()
