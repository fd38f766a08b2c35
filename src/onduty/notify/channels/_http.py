"""Shared httpx error translation for the HTTP adapters (webhook, Twilio)."""

from __future__ import annotations

import httpx

from onduty.notify.channels.base import ChannelError, PermanentError, RetryableError

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
