"""HMAC signatures: the keys and signatures of our outbound webhooks and calls, and verifying
Slack's and Twilio's requests to us.

Pure: bytes, secrets and an injected `now` in; a signature string out, or `SignatureError`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

WEBHOOK_SIGNATURE_HEADER = "X-Onduty-Signature"
IDEMPOTENCY_HEADER = "X-Onduty-Idempotency-Key"
SLACK_TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SLACK_SIGNATURE_HEADER = "X-Slack-Signature"
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
SLACK_REPLAY_WINDOW = timedelta(minutes=5)

TwilioParams = Mapping[str, str] | Iterable[tuple[str, str]]


class SignatureError(ValueError):
    """A request's signature is missing, malformed, stale or wrong; the message says which."""


def derive_key(server_secret: str, purpose: str) -> str:
    """A signing key for one purpose, derived from the server secret (hex HMAC-SHA256 of the
    purpose): a receiver is given this, never the server secret itself."""
    return hmac.new(server_secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def webhook_key(server_secret: str, method_id: int, own_secret: str | None) -> str:
    """The key a webhook contact method's bodies are signed with: the method's own secret, or
    one derived from the server secret and the method's id."""
    return own_secret or derive_key(server_secret, f"webhook:{method_id}")


def sign_webhook(body: bytes, secret: str) -> str:
    """Return the `X-Onduty-Signature` value for `body`: `sha256=` + hex HMAC-SHA256."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_webhook(body: bytes, secret: str, signature: str | None) -> None:
    """Check an `X-Onduty-Signature` header against the raw body (what receivers do).

    Raises:
        SignatureError: the header is missing or does not match.
    """
    if not signature:
        raise SignatureError(f"missing {WEBHOOK_SIGNATURE_HEADER} header")
    if not hmac.compare_digest(sign_webhook(body, secret), signature.strip()):
        raise SignatureError(f"{WEBHOOK_SIGNATURE_HEADER} does not match the body")


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Return Slack's v0 signature: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def verify_slack_request(
    signing_secret: str,
    body: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    now: datetime,
) -> None:
    """Verify a request from Slack (slash command, interactivity, events) on its raw body.

    A timestamp more than five minutes from `now`, in either direction, is refused: a captured
    request cannot be replayed later, and a clock far ahead is as suspect as one behind. (Slack's
    `ssl_check=1` probes carry no signature; the route answers those before calling this.)

    Raises:
        SignatureError: a header is missing or malformed, the timestamp is outside the window,
            or the signature does not match.
    """
    if not timestamp or not signature:
        raise SignatureError(f"missing {SLACK_TIMESTAMP_HEADER} or {SLACK_SIGNATURE_HEADER}")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError(f"{SLACK_TIMESTAMP_HEADER} is not a Unix time") from None
    if abs(now.timestamp() - sent_at) > SLACK_REPLAY_WINDOW.total_seconds():
        raise SignatureError(f"{SLACK_TIMESTAMP_HEADER} is outside the 5-minute replay window")
    if not signature.startswith("v0="):
        raise SignatureError(f"{SLACK_SIGNATURE_HEADER} is not a v0 signature")
    if not hmac.compare_digest(slack_signature(signing_secret, timestamp, body), signature):
        raise SignatureError(f"{SLACK_SIGNATURE_HEADER} does not match the body")


def twilio_signature(auth_token: str, url: str, params: TwilioParams) -> str:
    """Return Twilio's `X-Twilio-Signature` for a form POST to `url`.

    Base64 of HMAC-SHA1(auth token, URL + each parameter's name and value, sorted by name),
    over the decoded values; a name given twice contributes each value, values sorted too
    (as Twilio's own `RequestValidator` does).
    """
    pairs = params.items() if isinstance(params, Mapping) else params
    grouped: dict[str, set[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, set()).add(value)
    payload = url + "".join(
        name + value for name in sorted(grouped) for value in sorted(grouped[name])
    )
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_twilio_request(
    auth_token: str, url: str, params: TwilioParams, signature: str | None
) -> None:
    """Verify a Twilio webhook (SMS reply, voice gather, status callback).

    `url` is the full public URL Twilio called, query included. Twilio signs it with or without
    the default port depending on the product, so both spellings are accepted.

    Raises:
        SignatureError: the header is missing or matches neither spelling of the URL.
    """
    if not signature:
        raise SignatureError(f"missing {TWILIO_SIGNATURE_HEADER} header")
    pairs = list(params.items() if isinstance(params, Mapping) else params)
    for candidate in _url_port_variants(url):
        if hmac.compare_digest(twilio_signature(auth_token, candidate, pairs), signature):
            return
    raise SignatureError(f"{TWILIO_SIGNATURE_HEADER} does not match the request")


def _url_port_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    variants = [url]
    if default is None or parts.hostname is None:
        return variants
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    if parts.port is None:
        netloc = f"{prefix}{host}:{default}"
    elif parts.port == default:
        netloc = f"{prefix}{host}"
    else:
        return variants
    variants.append(urlunsplit(parts._replace(netloc=netloc)))
    return variants
