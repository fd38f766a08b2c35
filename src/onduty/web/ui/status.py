"""The public status page (no login): `GET /status`, the Statuspage-compatible JSON under
`/api/v2/`, the Atom feed, and e-mail subscriptions (double opt-in, unsubscribe links).

Every response is built from one `Snapshot` per page version: the page row's `updated_at` moves
with every change (statuspage/service.py `touch`), so a request costs one primary-key read; the
body is rendered once per (version, day, path) and served with an ETag and Last-Modified (304
to a client that has it)."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from onduty import localtime
from onduty.errors import OndutyError
from onduty.markdown import to_html
from onduty.statuspage import public, service
from onduty.statuspage.models import StatusPage
from onduty.web.deps import get_session
from onduty.web.ui.common import templates

router = APIRouter(tags=["status page (public)"])

CACHE_SIZE = 64
_LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "under_maintenance": "Under maintenance",
}


class _Cache:
    """Rendered bodies by (path, version, day); a bounded LRU shared by the app's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], tuple[bytes, str]] = OrderedDict()

    def peek(self, key: tuple[str, str]) -> tuple[bytes, str] | None:
        with self._lock:
            return self._items.get(key)

    def get(self, key: tuple[str, str], make: Callable[[], tuple[bytes, str]]) -> tuple[bytes, str]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > CACHE_SIZE:
                self._items.popitem(last=False)
        return value


def _cache(request: Request) -> _Cache:
    cache = getattr(request.app.state, "status_cache", None)
    if cache is None:
        cache = request.app.state.status_cache = _Cache()
    return cache


FRESH_FOR = 1.0  # seconds a version read from the database is trusted without asking again


class _Version:
    """The page's version (its `updated_at`), read from the database at most once per
    FRESH_FOR seconds, and at once after a commit of this process changed the page (the
    session factory's `after_commit` sees `touch`'s mark). Another process's change shows
    within FRESH_FOR: the page is served with max-age=30 anyway. Without this, every request
    would pay a database transaction (on SQLite, a turn of the one writer lock)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._lock = threading.Lock()
        self._known: tuple[datetime, float, int] | None = None
        self._generation = 0
        event.listen(factory, "after_commit", self._committed)

    def _committed(self, session: Session) -> None:
        if session.info.pop(service.TOUCHED, False):
            with self._lock:
                self._generation += 1

    def peek(self) -> datetime | None:
        """The version, if read recently enough and nothing changed since; else None."""
        with self._lock:
            known, generation = self._known, self._generation
        if known is not None and known[2] == generation and time.monotonic() - known[1] < FRESH_FOR:
            return known[0]
        return None

    def read(self, factory: sessionmaker[Session], now: datetime) -> datetime:
        with self._lock:
            generation = self._generation
        with factory() as session:
            page = session.get(StatusPage, 1)
            version = page.updated_at if page else datetime(2000, 1, 1, tzinfo=now.tzinfo)
        with self._lock:
            self._known = (version, time.monotonic(), generation)
        return version


Build = Callable[[Session, public.Snapshot], tuple[bytes, str]]


async def _serve(request: Request, build: Build, *, cors: bool = False) -> Response:
    """Async, so that a request served from memory takes no worker thread (two thread hops
    cost more than the rest of the request); the database is read on a worker thread only
    when the version is stale or its body is not rendered yet."""
    state = request.app.state
    now = state.clock.now()
    tracker: _Version | None = getattr(state, "status_version", None)
    if tracker is None:
        tracker = state.status_version = _Version(state.session_factory)
    peeked = tracker.peek()
    version: datetime = (
        peeked
        if peeked is not None
        else await run_in_threadpool(tracker.read, state.session_factory, now)
    )
    day = now.date().isoformat()  # the history bars and "today" move at midnight UTC
    tag = hashlib.sha256(f"{request.url.path}|{version.isoformat()}|{day}".encode()).hexdigest()
    etag = f'"{tag[:32]}"'
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(version, usegmt=True),
        "Cache-Control": "public, max-age=30",
        "Vary": "Accept-Encoding",
    }
    if cors:
        headers["Access-Control-Allow-Origin"] = "*"  # widgets on clients' own sites read it
    if _not_modified(request, etag, version):
        return Response(status_code=304, headers=headers)
    cache = _cache(request)
    key = (request.url.path, f"{version.isoformat()}|{day}")
    found = cache.peek(key)
    if found is None:

        def make() -> tuple[bytes, str]:
            with state.session_factory() as session:
                snap = public.snapshot(session, base_url=state.settings.base_url, now=now)
                return build(session, snap)

        found = await run_in_threadpool(cache.get, key, make)
    body, media = found
    if len(body) > 1024 and "gzip" in request.headers.get("accept-encoding", ""):
        # Compressed once per version, like the body (the HTML page shrinks about tenfold).
        zkey = (key[0] + "|gzip", key[1])
        zipped = cache.peek(zkey) or cache.get(zkey, lambda: (gzip.compress(body, 6), media))
        headers["Content-Encoding"] = "gzip"
        return Response(zipped[0], media_type=media, headers=headers)
    return Response(body, media_type=media, headers=headers)


def _not_modified(request: Request, etag: str, version: datetime) -> bool:
    given = request.headers.get("if-none-match")
    if given is not None:
        return etag in [t.strip().removeprefix("W/") for t in given.split(",")] or given == "*"
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return version.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _json(doc: dict[str, Any]) -> tuple[bytes, str]:
    return json.dumps(doc, separators=(",", ":")).encode(), "application/json"


def _route(path: str, make: Callable[[public.Snapshot], dict[str, Any]], summary: str) -> None:
    async def serve(request: Request) -> Response:
        return await _serve(request, lambda _session, snap: _json(make(snap)), cors=True)

    serve.__name__ = "statuspage_" + path.strip("/").replace("/", "_").replace(".", "_").replace(
        "-", "_"
    )
    router.add_api_route(path, serve, methods=["GET"], summary=summary, response_class=Response)


_route(
    "/api/v2/summary.json",
    lambda s: {
        "page": s.page,
        "status": s.status,
        "components": s.components,
        "incidents": s.unresolved,
        "scheduled_maintenances": s.upcoming + s.active,
    },
    "Statuspage summary: page, status, components, unresolved incidents, maintenances",
)
_route("/api/v2/status.json", lambda s: {"page": s.page, "status": s.status}, "Overall status")
_route(
    "/api/v2/components.json",
    lambda s: {"page": s.page, "components": s.components},
    "Components and groups",
)
_route(
    "/api/v2/incidents.json",
    lambda s: {"page": s.page, "incidents": s.incidents},
    "The 50 most recent incidents",
)
_route(
    "/api/v2/incidents/unresolved.json",
    lambda s: {"page": s.page, "incidents": s.unresolved},
    "Unresolved incidents",
)
_route(
    "/api/v2/scheduled-maintenances.json",
    lambda s: {"page": s.page, "scheduled_maintenances": s.maintenances},
    "The 50 most recent scheduled maintenances",
)
_route(
    "/api/v2/scheduled-maintenances/upcoming.json",
    lambda s: {"page": s.page, "scheduled_maintenances": s.upcoming},
    "Scheduled maintenances not started",
)
_route(
    "/api/v2/scheduled-maintenances/active.json",
    lambda s: {"page": s.page, "scheduled_maintenances": s.active},
    "Scheduled maintenances in progress",
)


# --- the HTML page and the feed ----------------------------------------------------------------


def _page_html(
    request: Request, session: Session, snap: public.Snapshot, message: str | None = None
) -> bytes:
    zone = snap.zone
    today = request.app.state.clock.now().date()
    history = public.history(session, [c.id for c in snap.rows], today=today)
    groups: list[tuple[str | None, list[Any]]] = []
    for c in snap.rows:
        if groups and groups[-1][0] == c.group and c.group:
            groups[-1][1].append(c)
        else:
            groups.append((c.group, [c]))
    resolved = [r for r in snap.incident_rows if r.resolved_at is not None][:20]
    open_rows = [r for r in snap.incident_rows if r.resolved_at is None]
    html = templates.get_template("status.html").render(
        page=snap.page,
        status=snap.status,
        groups=groups,
        labels=_LABELS,
        history=history,
        open_incidents=open_rows,
        past=resolved,
        maintenances=snap.maintenance_rows,
        when=lambda at: localtime.short(at, zone) if at else "",
        md=to_html,
        zone=zone,
        message=message,
    )
    return html.encode()


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
async def status_page(request: Request) -> Response:
    """The public page: banner, components by group with 90 days of history, open incidents
    with their updates, maintenance, past incidents. No JavaScript needed."""
    return await _serve(
        request,
        lambda session, snap: (_page_html(request, session, snap), "text/html; charset=utf-8"),
    )


@router.get("/status/feed.atom", include_in_schema=False)
async def feed(request: Request) -> Response:
    """An Atom feed of the status incidents and maintenances, newest first."""

    def build(_session: Session, snap: public.Snapshot) -> tuple[bytes, str]:
        base = snap.page["url"]
        entries = sorted(
            snap.incidents + snap.maintenances, key=lambda d: d["updated_at"], reverse=True
        )
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<feed xmlns="http://www.w3.org/2005/Atom">',
            f"<title>{escape(snap.page['name'])}</title>",
            f'<link href="{escape(base)}"/>',
            f'<link rel="self" href="{escape(base)}/feed.atom"/>',
            f"<id>{escape(base)}</id>",
            f"<updated>{snap.page['updated_at']}</updated>",
        ]
        for doc in entries[:50]:
            updates = "".join(
                f"<p><strong>{escape(u['status'])}</strong> ({u['created_at']}): "
                f"{to_html(u['body'])}</p>"
                for u in doc["incident_updates"]
            )
            parts += [
                "<entry>",
                f"<title>{escape(doc['name'])} ({escape(doc['status'])})</title>",
                f"<id>{escape(doc['shortlink'])}</id>",
                f'<link href="{escape(doc["shortlink"])}"/>',
                f"<published>{doc['created_at']}</published>",
                f"<updated>{doc['updated_at']}</updated>",
                f'<content type="html">{escape(updates)}</content>',
                "</entry>",
            ]
        parts.append("</feed>")
        return "\n".join(parts).encode(), "application/atom+xml"

    return await _serve(request, build)


# --- subscriptions -------------------------------------------------------------------------------


class _Flood:
    """Subscribe requests per client address in the last hour (per process: a flood is slowed
    where it lands; the confirmation mail itself is once per address per hour anyway)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def allow(self, address: str, limit: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10000:
                self._seen.clear()
            hits = self._seen.setdefault(address, deque())
            while hits and hits[0] < now - 3600:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            return True


def _small_page(request: Request, title: str, message: str, status_code: int = 200) -> HTMLResponse:
    html = templates.get_template("status_message.html").render(title=title, message=message)
    return HTMLResponse(html, status_code=status_code)


@router.post("/status/subscribe", include_in_schema=False)
async def subscribe(request: Request) -> Response:
    """Form field `email`: a confirmation mail goes out; mails start once it is followed."""
    flood = getattr(request.app.state, "subscribe_flood", None)
    if flood is None:
        flood = request.app.state.subscribe_flood = _Flood()
    client = request.client.host if request.client else "unknown"
    if not flood.allow(client, request.app.state.settings.subscribe_per_hour):
        return _small_page(request, "Too many requests", "Please try again in an hour.", 429)
    form = await request.form()
    email = form.get("email")
    if not isinstance(email, str) or "\x00" in email:
        return _small_page(request, "Not subscribed", "Please give an e-mail address.", 422)
    factory = request.app.state.session_factory
    now = request.app.state.clock.now()
    try:
        with factory() as session, session.begin():
            service.subscribe(
                session, email=email, now=now, base_url=request.app.state.settings.base_url
            )
    except OndutyError as exc:
        return _small_page(request, "Not subscribed", exc.message, 422)
    return _small_page(
        request,
        "Check your inbox",
        "We sent a confirmation link. Updates start once you follow it.",
    )


@router.get("/status/confirm/{token}", include_in_schema=False)
def confirm(token: str, request: Request, session: Session = Depends(get_session)) -> Response:
    try:
        service.confirm(session, token=token[:100], now=request.app.state.clock.now())
    except OndutyError as exc:
        return _small_page(request, "Link not valid", exc.message, 404)
    session.commit()
    return _small_page(request, "Subscribed", "You will get an e-mail for every update.")


@router.get("/status/unsubscribe/{token}", include_in_schema=False)
def unsubscribe_form(token: str, request: Request) -> Response:
    """A page with one button: a GET must not unsubscribe (mail scanners follow links)."""
    html = templates.get_template("status_message.html").render(
        title="Unsubscribe", message="Stop e-mails about this status page?", unsubscribe=token[:100]
    )
    return HTMLResponse(html)


@router.post("/status/unsubscribe/{token}", include_in_schema=False)
def unsubscribe(token: str, request: Request, session: Session = Depends(get_session)) -> Response:
    """The button, and RFC 8058 one-click unsubscribe from mail clients."""
    try:
        service.unsubscribe(session, token=token[:100], now=request.app.state.clock.now())
    except OndutyError as exc:
        return _small_page(request, "Link not valid", exc.message, 404)
    session.commit()
    return _small_page(request, "Unsubscribed", "You will get no more e-mails from us.")
