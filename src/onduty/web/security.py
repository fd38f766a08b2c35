"""What every request and response passes through: state-changing requests that a browser says
come from another site are refused (this is what stops login CSRF, where no session exists yet
to hold a token), and every response carries the security headers."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onduty.web.errors import body
from onduty.web.ui.common import render

# No inline script or style anywhere (templates load /static files only); data: images are
# Swagger UI's icons.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",  # frame-ancestors for browsers that predate it
    "referrer-policy": "no-referrer",  # tokens travel in URLs (action links, feeds)
    "x-content-type-options": "nosniff",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSAL = "this request came from another site; onduty accepts changes only from its own pages"
REFUSAL_PAGE = (
    "This form was sent from another site, and onduty accepts forms only from its own pages. "
    "Open onduty yourself and try again there."
)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def from_another_site(headers: Headers, own_origin: str) -> bool:
    """Whether a browser says this request was made by another site's page.

    Current browsers send `Sec-Fetch-Site` on every request: only `same-origin` and `none` (the
    user's own navigation) pass; `same-site` is refused too, as a sibling subdomain is not this
    server. Older browsers send `Origin` on every POST, which must be this server's (by the
    configured base URL, or the Host the browser addressed). Programs (alert senders, Slack,
    Twilio, API clients) send neither header and pass: they authenticate by key, signature or
    token, which a browser does not add to another site's request by itself."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return False
    return origin != own_origin and urlsplit(origin).netloc != headers.get("host")


class SecurityMiddleware:
    """Plain ASGI (no per-request task, unlike BaseHTTPMiddleware): intake runs through it."""

    def __init__(self, app: ASGIApp, *, base_url: str) -> None:
        self.app = app
        self.own_origin = origin_of(base_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS and from_another_site(
            Headers(scope=scope), self.own_origin
        ):
            await _refusal(Request(scope))(scope, receive, send)
            return
        # Static files may be cached; every other answer may hold what a signed-in user saw.
        cache = None if scope["path"].startswith("/static/") else "no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if cache is not None:
                    headers.setdefault("cache-control", cache)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _refusal(request: Request) -> Response:
    """403: a page for a person whose browser sent the form, JSON for anything else."""
    if "text/html" in request.headers.get("accept", ""):
        response: Response = render(request, "error.html", None, 403, message=REFUSAL_PAGE)
    else:
        response = JSONResponse(body(REFUSAL, "origin"), status_code=403)
    for name, value in HEADERS.items():
        response.headers[name] = value
    response.headers["cache-control"] = "no-store"
    return response
