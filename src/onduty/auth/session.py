"""Browser sessions as signed cookies (HMAC-SHA256 with the server secret), each carrying its own
CSRF token and its login's session epoch (a session whose epoch is no longer the login's has
ended). Pure: the caller passes the secret and the instant."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

COOKIE = "onduty_session"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class BrowserSession:
    login_id: int
    epoch: int
    expires: datetime
    csrf: str


def _sign(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def issue(secret: str, *, login_id: int, epoch: int, now: datetime) -> tuple[str, BrowserSession]:
    session = BrowserSession(login_id, epoch, now + LIFETIME, secrets.token_urlsafe(24))
    raw = json.dumps(
        {"l": login_id, "v": epoch, "e": int(session.expires.timestamp()), "c": session.csrf}
    ).encode()
    payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{payload}.{_sign(secret, payload.encode())}", session


def read(secret: str, cookie: str | None, *, now: datetime) -> BrowserSession | None:
    """The session in `cookie`, or None if it is missing, forged or expired."""
    if not cookie or "." not in cookie:
        return None
    payload, _, mac = cookie.rpartition(".")
    if not hmac.compare_digest(_sign(secret, payload.encode()), mac):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        expires = datetime.fromtimestamp(int(data["e"]), tz=now.tzinfo)
        session = BrowserSession(int(data["l"]), int(data["v"]), expires, str(data["c"]))
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires > now else None


def csrf_matches(session: BrowserSession, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(session.csrf, token)
