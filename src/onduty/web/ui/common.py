"""What every HTML page shares: the signed-in user, role checks, CSRF-checked forms, rendering,
and times as pages show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from onduty import localtime
from onduty.auth import service as auth_service
from onduty.auth import session as browser
from onduty.errors import InvalidInput
from onduty.people.models import Login, Organization
from onduty.schedules.models import Rota
from onduty.web.deps import get_session

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


def _duration(seconds: float | None) -> str:
    """A report's seconds for people: `42s`, `5m 30s`, `2h 05m`, `3d 4h`; `-` for none."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


templates.env.filters["dur"] = _duration
templates.env.filters["pct"] = lambda v: "-" if v is None else f"{v:.1f}%"


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PageForbidden(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


@dataclass(frozen=True)
class Viewer:
    login: Login
    session: browser.BrowserSession

    @property
    def role(self) -> str:
        return self.login.role

    @property
    def actor(self) -> str:
        return self.login.person_id or f"login:{self.login.username}"

    def can(self, role: str) -> bool:
        return auth_service.role_allows(self.login.role, role)


def current_viewer(request: Request, session: Session = Depends(get_session)) -> Viewer | None:
    settings = request.app.state.settings
    found = browser.read(
        settings.secret_key, request.cookies.get(browser.COOKIE), now=request.app.state.clock.now()
    )
    if found is None:
        return None
    login = session.get(Login, found.login_id)
    if login is None or login.disabled or login.session_epoch != found.epoch:
        return None  # signed out, new password, or disabled since this cookie was issued
    return Viewer(login, found)


def page_role(role: str) -> Any:
    """A dependency for pages: signed in with at least `role`, else login or a 403 page."""

    def check(request: Request, viewer: Viewer | None = Depends(current_viewer)) -> Viewer:
        if viewer is None:
            raise LoginRequired(request.url.path)
        if not viewer.can(role):
            raise PageForbidden(f"This needs the {role} role; you are a {viewer.role}.")
        return viewer

    return check


async def checked_form(request: Request, viewer: Viewer) -> FormData:
    """The posted form, after checking its CSRF token (field or X-CSRF-Token header), with no
    value holding a NUL character (PostgreSQL cannot store or compare one)."""
    form = await request.form()
    token = form.get("csrf_token") or request.headers.get("x-csrf-token")
    if not browser.csrf_matches(viewer.session, token if isinstance(token, str) else None):
        raise PageForbidden("The form expired or did not come from this site; reload and retry.")
    for name, value in form.multi_items():
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInput(f"{name} must not contain a NUL character", name)
    return form


def render(
    request: Request, template: str, viewer: Viewer | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, template, {"viewer": viewer, **context}, status_code=status_code
    )


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        return render(request, "error.html", None, status_code=403, message=exc.message)


# --- times, as pages show them ----------------------------------------------------------------


def when(value: datetime | None, zone: str, seconds: bool = False) -> str:
    if value is None:
        return ""
    return localtime.short(value, zone, seconds=seconds)


def age(now: datetime, then: datetime) -> str:
    s = max(0, int((now - then).total_seconds()))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def org_zone(session: Session) -> str:
    org = session.scalars(select(Organization)).first()
    return org.timezone if org else "UTC"


def team_zones(session: Session) -> dict[str, str]:
    return {r.team_id: r.timezone for r in session.scalars(select(Rota))}
