"""Slack: chat.postMessage (Block Kit with acknowledge/resolve buttons) through `slack_sdk`."""

from __future__ import annotations

import math
from typing import Any, Final

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from onduty.notify import render
from onduty.notify.channels.base import (
    Address,
    ChannelError,
    Message,
    PermanentError,
    Receipt,
    RetryableError,
)

# Slack's `error` strings that a retry can cure. Anything else answered with HTTP 200 and
# ok=false is a problem with the request, token or address, and so permanent.
RETRYABLE_ERRORS: Final = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)
METADATA_EVENT_TYPE: Final = "onduty_notification"


class SlackChannel:
    """Posts a direct message (address = user id) or a channel message (address = channel id).

    Duplicates: chat.postMessage takes no idempotency key, so a repeat after an ambiguous
    failure posts twice; the key travels in the message `metadata` (event type
    `onduty_notification`), so a repeat can be recognised and cleaned up.
    The receipt's `provider_id` is `"<channel>:<ts>"`, what chat.update needs later to mark the
    message acknowledged. Outcomes: `ratelimited`/HTTP 429 (with `Retry-After`), 5xx and
    network errors are retryable; `channel_not_found`, `not_in_channel`, `invalid_auth`,
    `user_not_found` and other `ok: false` errors are permanent.
    """

    type = "slack"

    def __init__(
        self, *, token: str, base_url: str = "https://slack.com/api/", timeout_s: float = 10
    ) -> None:
        self._client = WebClient(
            token=token,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=max(1, math.ceil(timeout_s)),
            # The outbox owns retries (with backoff and across engine restarts); the SDK's own
            # connection-error retry would double them and hide the outcome.
            retry_handlers=[],
        )

    def send(self, message: Message, address: Address) -> Receipt:
        if not address.value or any(c.isspace() for c in address.value):
            raise PermanentError(f"not a Slack user or channel id: {address.value!r}")
        text, blocks = render.slack_message(message)
        payload: dict[str, Any] = {"idempotency_key": message.idempotency_key}
        if message.incident is not None:
            payload["incident_id"] = message.incident.id
        try:
            response = self._client.chat_postMessage(
                channel=address.value,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
                metadata={"event_type": METADATA_EVENT_TYPE, "event_payload": payload},
            )
        except SlackApiError as exc:
            raise _classify(exc) from exc
        except SlackClientError as exc:
            raise PermanentError(f"Slack request could not be built: {exc}") from exc
        except OSError as exc:
            # urllib's URLError, refused connections and socket timeouts are all OSErrors.
            raise RetryableError(f"Slack unreachable: {type(exc).__name__}: {exc}") from exc
        channel = str(response.get("channel", address.value))
        ts = str(response.get("ts", ""))
        return Receipt(provider_id=f"{channel}:{ts}", detail=f"posted to {channel}")


def _classify(exc: SlackApiError) -> ChannelError:
    response = exc.response
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error", "")) or f"HTTP {status}"
    if status == 429 or status >= 500 or error in RETRYABLE_ERRORS:
        header = response.headers.get("Retry-After") or response.headers.get("retry-after")
        try:
            delay = float(header) if header else None
        except ValueError:
            delay = None
        return RetryableError(f"Slack: {error}", retry_after=delay)
    return PermanentError(f"Slack: {error}", code=error)
