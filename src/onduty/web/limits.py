"""What every request is checked for before any route sees it: a URL without NUL characters
(PostgreSQL cannot compare text holding one), and the one limit on bodies, `max_body_bytes`,
against the declared Content-Length and against the bytes actually received, so a chunked or
lying sender is cut off just past the limit instead of being read to the end."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onduty.web.errors import body


def too_large(limit: int) -> str:
    return f"the body is over the limit of {limit // 1024} KiB"


class RequestLimits:
    """A pure ASGI middleware (Starlette's BaseHTTPMiddleware would buffer the body first).

    The limit is read from the app's settings on each request, like every other setting the
    web layer reads."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope["query_string"]
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            answer = body("the URL must not contain a NUL character", None)
            await JSONResponse(answer, status_code=400)(scope, receive, send)
            return
        limit: int = scope["app"].state.settings.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await JSONResponse(body(too_large(limit), None), status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's read of the body: FastAPI passes an
                    # HTTPException through, and the app's handler answers it as JSON.
                    raise HTTPException(413, too_large(limit))
            return message

        await self.app(scope, counted, send)
