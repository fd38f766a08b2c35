"""Request dependencies: a database session per request, the clock, and Bearer-token roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fastapi import Depends, Request
from sqlalchemy.orm import Session

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


def require(role: str) -> Callable[..., Caller]:
    """A dependency that lets through callers whose token has at least `role`."""

    def check(request: Request, session: Session = Depends(get_session)) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("missing Authorization: Bearer <token>", "authorization")
        row = auth_service.verify_token(session, token.strip())
        if row is None:
            raise Unauthenticated("the token is unknown or revoked", "authorization")
        if not auth_service.role_allows(row.role, role):
            raise Forbidden(
                f"this needs the {role} role; the token has {row.role}", "authorization"
            )
        return Caller(role=row.role, person_id=row.person_id, token_id=row.id)

    return check


def wake_engine(request: Request) -> None:
    """Wake the in-process engine (if this process runs one) after committing work for it."""
    wake = getattr(request.app.state, "wake_engine", None)
    if wake is not None:
        wake()
