"""Signing in and out, API tokens made and revoked from the browser, and the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from onduty.audit import service as audit_service
from onduty.auth import service as auth_service
from onduty.auth import session as browser
from onduty.auth import throttle
from onduty.auth.throttle import Limits
from onduty.bounds import Id
from onduty.errors import InvalidInput, OndutyError
from onduty.people.models import Person
from onduty.web.deps import get_session
from onduty.web.ui.common import Viewer, checked_form, page_role, render, see_other

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    # Only local paths: never send a freshly signed-in user to another site.
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", None, next=_safe_next(next), error=None)


# One thread at the lowest CPU priority checks passwords for the whole process: argon2 takes a
# tenth of a second of every core, and this way a flood of sign-ins only gets the CPU time that
# paging and intake leave idle, and never the event loop. The thread starts at the first sign-in.
def _lowest_priority() -> None:
    # Linux keeps a nice value per thread (and libargon2's lane threads inherit it); where the
    # call does not apply to a thread it fails and the thread keeps the normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


_hashing = ThreadPoolExecutor(1, thread_name_prefix="onduty-argon2", initializer=_lowest_priority)


def _begin_attempt(
    factory: sessionmaker[Session], username: str, address: str, now: datetime, limits: Limits
) -> str | None:
    """Count the attempt (throttle.begin_attempt) and return the login's hash, if it exists."""
    with factory() as session, session.begin():
        throttle.begin_attempt(session, username=username, address=address, now=now, limits=limits)
        found = auth_service.find_login(session, username)
        return found.password_hash if found is not None else None


def _attempt_succeeded(
    factory: sessionmaker[Session], username: str, address: str
) -> tuple[int, int] | None:
    """The login's id and session epoch, once the throttle has taken the attempt back; None
    (the attempt stays a failure) when the login is disabled or went away meanwhile."""
    with factory() as session, session.begin():
        found = auth_service.find_login(session, username)
        if found is None or found.disabled:
            return None
        throttle.attempt_succeeded(session, username=username, address=address)
        return found.id, found.session_epoch


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request) -> Response:
    """Sign in. Database work runs in the worker threads and argon2 in `_hashing`, so the event
    loop (and with it intake and every other page) never waits for a sign-in."""
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    try:
        auth_service.check_lengths(username=username, password=password)
    except InvalidInput as exc:
        return render(request, "login.html", None, 422, next=next_url, error=exc.message)
    settings, now = request.app.state.settings, request.app.state.clock.now()
    factory = request.app.state.session_factory
    address = ((request.client.host if request.client else "") or "unknown")[:64]
    limits = Limits(
        pair=settings.login_throttle_after,
        address=settings.login_throttle_address_after,
        username=settings.login_throttle_username_after,
    )
    try:
        password_hash = await run_in_threadpool(
            _begin_attempt, factory, username, address, now, limits
        )
    except throttle.TooManyAttempts as exc:
        return render(request, "login.html", None, 429, next=next_url, error=exc.message)
    loop = asyncio.get_running_loop()
    matches = await loop.run_in_executor(
        _hashing, auth_service.verify_password, password_hash, password
    )
    found = (
        await run_in_threadpool(_attempt_succeeded, factory, username, address) if matches else None
    )
    if found is None:
        return render(
            request, "login.html", None, 401, next=next_url, error="Wrong username or password."
        )
    login_id, epoch = found
    cookie, _ = browser.issue(settings.secret_key, login_id=login_id, epoch=epoch, now=now)
    response = see_other(next_url)
    response.set_cookie(
        browser.COOKIE,
        cookie,
        max_age=int(browser.LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
        path="/",
    )
    return response


@router.post("/logout")
async def logout(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> Response:
    """Sign out everywhere: every session of this login ends, not only this browser's."""
    await checked_form(request, viewer)
    auth_service.end_sessions(viewer.login)
    session.commit()
    response = see_other("/login")
    response.delete_cookie(browser.COOKIE, path="/")
    return response


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("admin")),
) -> HTMLResponse:
    return render(
        request,
        "tokens.html",
        viewer,
        tokens=auth_service.list_tokens(session),
        people=session.scalars(select(Person).order_by(Person.id)).all(),
        created=None,
        error=None,
    )


@router.post("/tokens", response_class=HTMLResponse)
async def tokens_create(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("admin")),
) -> HTMLResponse:
    form = await checked_form(request, viewer)
    now = request.app.state.clock.now()
    created, error = None, None
    try:
        created = auth_service.create_token(
            session,
            person_id=str(form.get("person")) or None,
            role=str(form.get("role", "")),
            name=str(form.get("name", "")) or None,
            now=now,
            actor=viewer.actor,
        )
        session.commit()
    except OndutyError as exc:
        session.rollback()
        error = exc.message
    return render(
        request,
        "tokens.html",
        viewer,
        tokens=auth_service.list_tokens(session),
        people=session.scalars(select(Person).order_by(Person.id)).all(),
        created=created,
        error=error,
        status_code=201 if created else 422,
    )


@router.post("/tokens/{token_id}/revoke")
async def tokens_revoke(
    token_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("admin")),
) -> Response:
    await checked_form(request, viewer)
    auth_service.revoke_token(
        session, token_id=token_id, now=request.app.state.clock.now(), actor=viewer.actor
    )
    session.commit()
    return see_other("/tokens")


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("manager")),
) -> HTMLResponse:
    return render(request, "audit.html", viewer, events=audit_service.list_events(session))
