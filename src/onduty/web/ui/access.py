"""Signing in and out, API tokens made and revoked from the browser, and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.audit import service as audit_service
from onduty.auth import service as auth_service
from onduty.auth import session as browser
from onduty.bounds import Id
from onduty.errors import OndutyError
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


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request, session: Session = Depends(get_session)) -> Response:
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    settings, now = request.app.state.settings, request.app.state.clock.now()
    try:
        found = auth_service.login(
            session,
            username=username,
            password=password,
            now=now,
            free_attempts=settings.login_throttle_after,
        )
    except auth_service.TooManyAttempts as exc:
        return render(request, "login.html", None, 429, next=next_url, error=exc.message)
    session.commit()
    if found is None:
        return render(
            request, "login.html", None, 401, next=next_url, error="Wrong username or password."
        )
    cookie, _ = browser.issue(settings.secret_key, login_id=found.id, now=now)
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
async def logout(request: Request, viewer: Viewer = Depends(page_role("viewer"))) -> Response:
    await checked_form(request, viewer)
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
