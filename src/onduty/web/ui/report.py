"""The bug/glitch report form (SPEC §6.4 `GET|POST /report`): public, anonymous allowed, a plain
HTML form (no JavaScript), the bug template's fields, a service to choose, screenshots as links
or uploads. Signed-in people get the same form with their name and a channel filled in.

Abuse is stopped before the body is read: a fixed one-minute window per client address
(`report_rate_limit`, the intake's own `RateLimiter`, counted in this process) answers 429. A
hidden honeypot field that a person never fills makes a bot's report look received while
nothing is stored. Each upload is at most `report_upload_max_bytes` (413) and must be a PNG,
JPEG, GIF or WebP image by its bytes (SVG can carry script). Whatever a reporter writes is
shown escaped (Jinja2's autoescape), and Jira gets it as ADF text nodes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from onduty import models as m
from onduty.auth import session as browser
from onduty.bounds import Id
from onduty.errors import InvalidInput, NotFound
from onduty.incidents import ingest
from onduty.incidents.admission import RateLimiter
from onduty.web.deps import get_session, wake_engine
from onduty.web.ui.common import Viewer, current_viewer, page_role, render

router = APIRouter(include_in_schema=False)

# Who reports: the public form's reporters are anonymous or clients; people signed in choose.
CHANNELS = ("team", "qa", "client", "anonymous", "intercom", "monitoring")
HONEYPOT = "website"
MAX_FILES = 3
LIMITS = {
    "title": 1024,
    "actual": 20000,
    "expected": 20000,
    "steps": 20000,
    "environment": 2000,
    "reporter": 200,
    "email": 320,
    "client": 200,
    "links": 20000,
}
IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class _Ask:
    """One request, as the rate limiter keeps its verdict (weakly: plain `object()` cannot be)."""


class TooLarge(InvalidInput):
    """An upload over the size limit (HTTP 413)."""


def _image_type(data: bytes) -> str | None:
    for magic, kind in IMAGE_TYPES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def limiter(request: Request) -> RateLimiter:
    found: RateLimiter | None = getattr(request.app.state, "report_limiter", None)
    if found is None:
        found = request.app.state.report_limiter = RateLimiter()
    return found


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _person_name(session: Session, viewer: Viewer | None) -> str:
    if viewer is None or viewer.login.person_id is None:
        return viewer.login.username if viewer else ""
    person = session.get(m.Person, viewer.login.person_id)
    return person.name if person else viewer.login.username


def _default_channel(session: Session, viewer: Viewer | None) -> str:
    if viewer is None:
        return "anonymous"
    person = session.get(m.Person, viewer.login.person_id) if viewer.login.person_id else None
    return "qa" if person is not None and (person.discipline or "").lower() == "qa" else "team"


def _form_context(
    session: Session, viewer: Viewer | None, values: dict[str, str], **extra: Any
) -> dict[str, Any]:
    return {
        "services": session.scalars(select(m.Service).order_by(m.Service.name)).all(),
        "channels": CHANNELS,
        "values": values,
        "max_kib": 0,
        "errors": {},
        **extra,
    }


@router.get("/report", response_class=HTMLResponse)
def report_form(
    request: Request,
    service: str = "",
    session: Session = Depends(get_session),
    viewer: Viewer | None = Depends(current_viewer),
) -> HTMLResponse:
    values = {
        "service": service,
        "reporter": _person_name(session, viewer),
        "channel": _default_channel(session, viewer),
    }
    context = _form_context(session, viewer, values)
    context["max_kib"] = request.app.state.settings.report_upload_max_bytes // 1024
    return render(request, "report.html", viewer, **context)


@dataclass
class _Report:
    values: dict[str, str]
    links: list[str]
    attachments: list[ingest.Attachment]


async def _read(request: Request, form: FormData, viewer: Viewer | None) -> _Report:
    """The form's fields, checked; raises InvalidInput (422) or TooLarge (413)."""
    values: dict[str, str] = {}
    for name, limit in LIMITS.items():
        raw = form.get(name)
        value = raw.strip() if isinstance(raw, str) else ""
        if "\x00" in value:
            raise InvalidInput(f"{name} must not contain a NUL character", name)
        if len(value) > limit:
            raise InvalidInput(f"{name} is longer than {limit} characters", name)
        values[name] = value
    values["service"] = str(form.get("service") or "")
    channel = str(form.get("channel") or "") if viewer is not None else ""
    if viewer is None:
        channel = "client" if values["client"] else "anonymous"
    elif channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}", "channel")
    values["channel"] = channel
    if len(values["title"]) < 3:
        raise InvalidInput("give the problem a title (at least 3 characters)", "title")
    if not values["service"]:
        raise InvalidInput("choose what the problem is with", "service")
    links = [x.strip() for x in values["links"].splitlines() if x.strip()]
    for link in links:
        if not link.startswith(("https://", "http://")):
            raise InvalidInput(f"links must start with http:// or https://: {link[:80]}", "links")
    if len(links) > 20:
        raise InvalidInput("at most 20 links", "links")
    limit = request.app.state.settings.report_upload_max_bytes
    files = [f for f in form.getlist("screenshots") if isinstance(f, UploadFile) and f.filename]
    if len(files) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} screenshots", "screenshots")
    attachments = []
    for upload in files:
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise TooLarge(
                f"{upload.filename} is larger than {limit // 1024} KiB; send a smaller "
                "screenshot or a link to it",
                "screenshots",
            )
        kind = _image_type(data)
        if kind is None:
            raise InvalidInput(
                f"{upload.filename} is not a PNG, JPEG, GIF or WebP image", "screenshots"
            )
        name = (upload.filename or "screenshot").replace("/", "_").replace("\\", "_")
        attachments.append(ingest.Attachment(name[:200], kind, data))
    return _Report(values, links, attachments)


@router.post("/report", response_class=HTMLResponse)
async def report_submit(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer | None = Depends(current_viewer),
) -> Response:
    settings = request.app.state.settings
    clock = request.app.state.clock
    # Counted before the body is read: a flood costs a dictionary lookup per request.
    address = client_address(request)
    allowed = limiter(request).allow(
        _Ask(), ("report", address), settings.report_rate_limit, clock.now()
    )
    if not allowed:
        return render(
            request,
            "error.html",
            viewer,
            status_code=429,
            message="Too many reports from your address: please wait a minute and send again.",
        )
    async with request.form(max_files=MAX_FILES + 1, max_fields=50) as form:
        return await _submit(request, session, viewer, form, address)


async def _submit(
    request: Request, session: Session, viewer: Viewer | None, form: FormData, address: str
) -> Response:
    settings = request.app.state.settings
    clock = request.app.state.clock
    if viewer is not None:
        token = form.get("csrf_token")
        if not browser.csrf_matches(viewer.session, token if isinstance(token, str) else None):
            return render(
                request,
                "error.html",
                viewer,
                status_code=403,
                message="The form expired or did not come from this site; reload and retry.",
            )
    if form.get(HONEYPOT):
        # A person never sees the field: answer as if received, store nothing.
        return render(request, "report_received.html", viewer, reference=ingest.new_reference())
    raw = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        got = await _read(request, form, viewer)
    except InvalidInput as exc:
        context = _form_context(
            session, viewer, raw, errors={exc.field: exc.message}, error=exc.message
        )
        context["max_kib"] = settings.report_upload_max_bytes // 1024
        code = 413 if isinstance(exc, TooLarge) else 422
        return render(request, "report.html", viewer, status_code=code, **context)
    actor = viewer.actor if viewer is not None else f"reporter:{address}"
    values = got.values

    def store() -> tuple[int, str]:
        # The request's own session: on SQLite it already holds the one writer lock (the
        # viewer was read in its transaction), so a second session would wait for it forever.
        try:
            incident = ingest.report(
                session,
                service_id=values["service"],
                title=values["title"],
                channel=values["channel"],
                actor=actor,
                now=clock.now(),
                fields={
                    "actual": values["actual"] or None,
                    "expected": values["expected"] or None,
                    "steps": values["steps"] or None,
                    "environment": values["environment"] or None,
                    "reporter": _reporter(values),
                    "client": values["client"] or None,
                    "links": got.links,
                },
                attachments=got.attachments,
            )
            made = incident.id, str(incident.reference)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return made

    try:
        incident_id, reference = await run_in_threadpool(store)
    except NotFound as exc:
        context = _form_context(session, viewer, raw, errors={exc.field: exc.message})
        context.update(error=exc.message, max_kib=settings.report_upload_max_bytes // 1024)
        return render(request, "report.html", viewer, status_code=422, **context)
    wake_engine(request)
    return render(
        request,
        "report_received.html",
        viewer,
        status_code=201,
        reference=reference,
        incident_id=incident_id if viewer is not None else None,
    )


def _reporter(values: dict[str, str]) -> str | None:
    name, email = values["reporter"], values["email"]
    if name and email:
        return f"{name} <{email}>"
    return name or email or None


@router.get("/incidents/{incident_id}/attachments/{attachment_id}")
def attachment(
    incident_id: Id,
    attachment_id: Id,
    session: Session = Depends(get_session),
    _viewer: Viewer = Depends(page_role("viewer")),
) -> Response:
    """A report's screenshot, to signed-in people only, as the image type its bytes showed."""
    found = session.get(m.ReportAttachment, attachment_id)
    if found is None or found.incident_id != incident_id:
        return Response("no such attachment", status_code=404, media_type="text/plain")
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", found.filename)
    return Response(
        found.data,
        media_type=found.content_type,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        },
    )
