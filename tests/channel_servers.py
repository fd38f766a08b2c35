"""Local stand-ins for the notification providers, on 127.0.0.1: each records the requests it
gets and answers in the provider's wire format (Slack Web API, Twilio REST, a webhook receiver,
and a real SMTP server from aiosmtpd)."""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message as HeaderMap
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    """Return a port nothing listens on right now (also used as a 'connection refused' target)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Recorded:
    """One HTTP request as the server saw it."""

    method: str
    path: str
    query: str
    headers: HeaderMap
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True, strict_parsing=True))

    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, **headers: str) -> Reply:
        return cls(
            status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers}
        )


class RecordingServer:
    """A threaded HTTP server on 127.0.0.1 and a free port; use as a context manager.

    Subclasses implement `answer`; `fail_next` queues scripted replies that come first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._scripted: deque[Reply] = deque()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                parts = urlsplit(self.path)
                request = Recorded(
                    self.command, parts.path, parts.query, self.headers, self.rfile.read(length)
                )
                reply = owner._record(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST  # Jira's reads, and a site an http check probes, record alike

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval keeps shutdown (one per test) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def fail_next(self, reply: Reply, count: int = 1) -> None:
        with self._lock:
            self._scripted.extend([reply] * count)

    def answer(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def _record(self, request: Recorded) -> Reply:
        with self._lock:
            self._requests.append(request)
            scripted = self._scripted.popleft() if self._scripted else None
        return scripted or self.answer(request)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Site(RecordingServer):
    """A web site an http check probes: answers `reply` (200 "ok" unless changed)."""

    def __init__(self) -> None:
        super().__init__()
        self.reply = Reply(200, b"all systems ok")

    def answer(self, request: Recorded) -> Reply:
        return self.reply


class WebhookReceiver(RecordingServer):
    """A person's webhook endpoint: answers 200 to anything unless told otherwise."""

    def answer(self, request: Recorded) -> Reply:
        return Reply.json(200, {"received": True})


class JiraServer(RecordingServer):
    """Jira Cloud REST v3 as onduty uses it (FORMATS §7), with basic auth (e-mail + API token):
    create an issue, search by JQL (`project = "X" AND labels = "y"`), comment, list and do
    transitions, read an issue's status. Every transition of `WORKFLOW` is offered from any
    status but the one it leads to. `delay` (seconds) makes every answer that late."""

    WORKFLOW = (("11", "In Progress"), ("21", "Assigned to developer"), ("31", "Done"))

    def __init__(self, email: str, token: str) -> None:
        super().__init__()
        self.credentials = (email, token)
        self.issues: dict[str, dict[str, Any]] = {}  # key -> {fields, status, comments}
        self.delay = 0.0

    def url_of(self, key: str) -> str:
        return f"{self.url}/rest/api/3/issue/{key}"

    def answer(self, request: Recorded) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        if request.basic_auth() != self.credentials:
            return Reply.json(401, {"errorMessages": ["Client must be authenticated"]})
        path, method = request.path, request.method
        if (method, path) == ("POST", "/rest/api/3/issue"):
            fields = request.json()["fields"]
            key = f"{fields['project']['key']}-{len(self.issues) + 1}"
            self.issues[key] = {"fields": fields, "status": "To Do", "comments": []}
            issue_id = str(10000 + len(self.issues))
            return Reply.json(201, {"id": issue_id, "key": key, "self": self.url_of(issue_id)})
        if (method, path) == ("POST", "/rest/api/3/search/jql"):
            jql = request.json()["jql"]
            project, label = (v for v in jql.split('"')[1::2])
            found = [
                {"id": key, "key": key}
                for key, issue in self.issues.items()
                if issue["fields"]["project"]["key"] == project
                and label in issue["fields"].get("labels", [])
            ]
            return Reply.json(200, {"issues": found[:1], "isLast": True})
        parts = path.removeprefix("/rest/api/3/issue/").split("/")
        issue = self.issues.get(parts[0])
        if issue is None:
            return Reply.json(404, {"errorMessages": ["Issue does not exist"]})
        tail = parts[1] if len(parts) > 1 else ""
        if (method, tail) == ("POST", "comment"):
            issue["comments"].append(request.json()["body"])
            return Reply.json(201, {"id": str(len(issue["comments"]))})
        if (method, tail) == ("GET", "transitions"):
            offered = [
                {"id": i, "name": name, "to": {"id": i, "name": name}}
                for i, name in self.WORKFLOW
                if name != issue["status"]
            ]
            return Reply.json(200, {"expand": "transitions", "transitions": offered})
        if (method, tail) == ("POST", "transitions"):
            wanted = request.json()["transition"]["id"]
            names = dict(self.WORKFLOW)
            if wanted not in names or names[wanted] == issue["status"]:
                return Reply.json(400, {"errorMessages": ["Transition is not valid"]})
            issue["status"] = names[wanted]
            return Reply(204)
        if (method, tail) == ("GET", ""):
            return Reply.json(
                200, {"key": parts[0], "fields": {"status": {"name": issue["status"]}}}
            )
        return Reply.json(404, {"errorMessages": [f"no route {method} {path}"]})


class SlackServer(RecordingServer):
    """Slack's Web API: `chat.postMessage`, `chat.update` and `views.open` (HTTP 200 JSON with
    `ok`, as Slack answers), and the `response_url` of slash commands and interactions
    (`/response/...`: HTTP 200 `ok`, text/plain, as hooks.slack.com answers).

    `destinations` maps a user or channel id we may post to onto the conversation id Slack
    reports back (a DM to user U… is posted in conversation D…). `messages` keeps each posted
    message by (conversation, ts), so chat.update and thread replies are checked against what
    exists; `triggers` are the trigger ids views.open accepts.
    """

    def __init__(self, token: str, destinations: dict[str, str]) -> None:
        super().__init__()
        self.token = token
        self.destinations = destinations
        self._ts = itertools.count(100)
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.triggers: set[str] = set()

    def calls(self, method: str) -> list[Any]:
        """The JSON arguments of every call of one Web API method, in order."""
        return [r.json() for r in self.requests if r.path == f"/api/{method}"]

    def responses(self) -> list[Any]:
        return [r.json() for r in self.requests if r.path.startswith("/response/")]

    def answer(self, request: Recorded) -> Reply:
        if request.path.startswith("/response/"):
            body = request.json()
            if not body.get("text") and not body.get("blocks"):
                return Reply(400, b"no_text", {"Content-Type": "text/plain"})
            return Reply(200, b"ok", {"Content-Type": "text/plain"})
        method = request.path.removeprefix("/api/")
        if method not in ("chat.postMessage", "chat.update", "views.open"):
            return Reply.json(200, {"ok": False, "error": "unknown_method"})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply.json(200, {"ok": False, "error": "invalid_auth"})
        args = request.json()
        if method == "views.open":
            if args.get("trigger_id") not in self.triggers:
                return Reply.json(200, {"ok": False, "error": "expired_trigger_id"})
            view = {"id": "V0ONDUTY1", **args.get("view", {})}
            return Reply.json(200, {"ok": True, "view": view})
        if not args.get("text") and not args.get("blocks"):
            return Reply.json(200, {"ok": False, "error": "no_text"})
        channel = self.destinations.get(args.get("channel", ""))
        if channel is None:
            return Reply.json(200, {"ok": False, "error": "channel_not_found"})
        if method == "chat.update" or args.get("thread_ts"):
            ts = args.get("ts") if method == "chat.update" else args.get("thread_ts")
            if (channel, ts) not in self.messages:
                return Reply.json(200, {"ok": False, "error": "message_not_found"})
        if method == "chat.update":
            self.messages[(channel, args["ts"])] = args
            return Reply.json(200, {"ok": True, "channel": channel, "ts": args["ts"]})
        ts = f"1767225500.{next(self._ts):06d}"
        self.messages[(channel, ts)] = args
        message = {"type": "message", "text": args.get("text"), "ts": ts, "bot_id": "B0ONDUTY1"}
        return Reply.json(200, {"ok": True, "channel": channel, "ts": ts, "message": message})


class TwilioServer(RecordingServer):
    """Twilio's REST API: `Messages.json` and `Calls.json` of one account.

    Like Twilio's test credentials, `+15005550001` is an invalid number (21211) and
    `+15005550009` is not a mobile (21614); `unsubscribed` numbers answer 21610.
    """

    INVALID = "+15005550001"
    NOT_MOBILE = "+15005550009"

    def __init__(self, account_sid: str, auth_token: str, unsubscribed: set[str] | None = None):
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.unsubscribed = unsubscribed or set()
        self._ids = itertools.count(1)

    @staticmethod
    def error(status: int, code: int, message: str) -> Reply:
        return Reply.json(
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def answer(self, request: Recorded) -> Reply:
        root = f"/2010-04-01/Accounts/{self.account_sid}/"
        if not request.path.startswith(root):
            return self.error(404, 20404, "The requested resource was not found")
        if request.basic_auth() != (self.account_sid, self.auth_token):
            return self.error(401, 20003, "Authenticate")
        resource = request.path.removeprefix(root)
        form = request.form()
        to = form.get("To", "")
        if to == self.INVALID:
            return self.error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to == self.NOT_MOBILE and resource == "Messages.json":
            return self.error(400, 21614, f"'To' number {to} is not a valid mobile number")
        if to in self.unsubscribed:
            return self.error(400, 21610, "Attempt to send to unsubscribed recipient")
        if resource == "Messages.json" and form.get("Body"):
            sid = f"SM{next(self._ids):032x}"
            extra = {"body": form["Body"], "num_segments": "1", "direction": "outbound-api"}
        elif resource == "Calls.json" and (form.get("Twiml") or form.get("Url")):
            sid = f"CA{next(self._ids):032x}"
            extra = {"direction": "outbound-api"}
        else:
            return self.error(400, 21602, "Message body or TwiML is required")
        data = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": form.get("From"),
            "status": "queued",
            "api_version": "2010-04-01",
            **extra,
        }
        return Reply.json(201, data)


@dataclass
class SmtpHandler:
    """aiosmtpd handler that records envelopes, or answers RCPT with a fixed reply."""

    rcpt_reply: str | None = None
    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 OK: queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((data.login.decode(), data.password.decode()))
            if data.password == b"smtp-pass":
                return AuthResult(success=True)
        # handled=False makes aiosmtpd answer 535 itself.
        return AuthResult(success=False, handled=False)


@contextmanager
def smtp_server(handler: SmtpHandler) -> Iterator[int]:
    """Run a real SMTP server (aiosmtpd) on 127.0.0.1 and yield its port."""
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=handler.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


class IntercomServer(RecordingServer):
    """Intercom's REST API for replies and notes (FORMATS §6): `POST /conversations/{id}/reply`
    with a Bearer token answers 200 with the conversation; a wrong token 401 and an unknown
    conversation 404, each with Intercom's `error.list` body."""

    def __init__(self, token: str, conversations: set[str]) -> None:
        super().__init__()
        self.token = token
        self.conversations = conversations

    def answer(self, request: Recorded) -> Reply:
        def error(status: int, code: str, message: str) -> Reply:
            errors = [{"code": code, "message": message}]
            return Reply.json(
                status, {"type": "error.list", "request_id": "req-1", "errors": errors}
            )

        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return error(401, "unauthorized", "Access Token Invalid")
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "conversations" or parts[2] != "reply":
            return error(404, "not_found", "Resource Not Found")
        if parts[1] not in self.conversations:
            return error(404, "not_found", "Resource Not Found")
        body = request.json()
        if body.get("type") != "admin" or body.get("message_type") not in ("comment", "note"):
            return error(400, "parameter_invalid", "message_type or type is invalid")
        return Reply.json(200, {"type": "conversation", "id": parts[1], "state": "open"})
