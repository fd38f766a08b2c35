"""What the HTTP adapters (webhook and Twilio channels, the http target) share: checking a
destination URL and translating httpx errors and statuses into retryable or permanent ones."""

from __future__ import annotations

import json

import httpx

from onduty.notify.channels.base import ChannelError, PermanentError, Receipt, RetryableError
from onduty.notify.signing import IDEMPOTENCY_HEADER, WEBHOOK_SIGNATURE_HEADER, sign_webhook

RETRYABLE_STATUS = frozenset({408, 425, 429})


def retry_after(response: httpx.Response) -> float | None:
    """Return the `Retry-After` delay in seconds, if given as a number (dates are ignored:
    adapters have no clock, and the caller's backoff covers it)."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def error_for_status(
    response: httpx.Response, reason: str, code: str | None = None
) -> ChannelError:
    """Classify a non-2xx answer: 408/425/429 and 5xx are retryable, the rest permanent."""
    status = response.status_code
    if status in RETRYABLE_STATUS or status >= 500:
        return RetryableError(reason, retry_after=retry_after(response))
    return PermanentError(reason, code=code or str(status))


TRANSPORT_ERRORS = (httpx.HTTPError, httpx.InvalidURL)
"""What an httpx call raises before an answer; `httpx.InvalidURL` is not an `HTTPError`."""


def error_for_transport(exc: Exception, what: str) -> ChannelError:
    """Classify an httpx exception raised before any answer arrived."""
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.InvalidURL):
        # Our request is malformed (bad scheme, bad header): sending it again cannot help.
        return PermanentError(f"{what}: invalid request: {exc}")
    # Timeouts, refused connections, resets, DNS failures: the provider may be fine soon.
    return RetryableError(f"{what}: {type(exc).__name__}: {exc}")


def checked_url(value: str, what: str) -> httpx.URL:
    """Parse an http(s) destination with a host name.

    Raises:
        PermanentError: it is not one (sending again cannot help).
    """
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise PermanentError(f"{what} address is not a valid URL: {exc}") from exc
    if url.scheme not in ("https", "http"):
        raise PermanentError(f"{what} address is not an http(s) URL: {value!r}")
    if not url.host or any(c in url.host for c in " %"):
        raise PermanentError(f"{what} address has no host name: {value!r}")
    return url


def post_signed_json(
    client: httpx.Client,
    url: httpx.URL,
    document: object,
    *,
    secret: str,
    idempotency_key: str,
    what: str,
    user_agent: str,
) -> Receipt:
    """POST `document` as compact JSON, signed in X-Onduty-Signature with `secret` and carrying
    its idempotency key: what a person's webhook and the generic http target both send."""
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": user_agent,
        WEBHOOK_SIGNATURE_HEADER: sign_webhook(body, secret),
        IDEMPOTENCY_HEADER: idempotency_key,
    }
    try:
        response = client.post(url, content=body, headers=headers)
    except TRANSPORT_ERRORS as exc:
        raise error_for_transport(exc, what) from exc
    if response.is_success:
        return Receipt(provider_id=None, detail=f"HTTP {response.status_code}")
    raise error_for_status(response, f"{what} answered HTTP {response.status_code}")
