"""What the HTTP adapters (webhook and Twilio channels, the http target) share: checking a
destination URL and translating httpx errors and statuses into retryable or permanent ones."""

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
