"""Slack: chat.postMessage (Block Kit with acknowledge/resolve buttons) through `slack_sdk`,
and the pure reading of the `block_actions` payload those buttons send back."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs

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
            raise classify(exc) from exc
        except SlackClientError as exc:
            raise PermanentError(f"Slack request could not be built: {exc}") from exc
        except OSError as exc:
            # urllib's URLError, refused connections and socket timeouts are all OSErrors.
            raise RetryableError(f"Slack unreachable: {type(exc).__name__}: {exc}") from exc
        channel = str(response.get("channel", address.value))
        ts = str(response.get("ts", ""))
        return Receipt(provider_id=f"{channel}:{ts}", detail=f"posted to {channel}")


def classify(exc: SlackApiError) -> ChannelError:
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


# Our buttons carry the incident id as `value` (the web layer bounds it to the id column).
_INCIDENT_ID = re.compile(r"[1-9][0-9]{0,17}")
# Slack's user ids (U0ASHA, W012A3CDE) are letters and digits; `person.slack` holds 32.
_USER_ID = re.compile(r"[A-Za-z0-9]{1,32}")


BUTTONS: Final = ("acknowledge", "resolve", "escalate", "runbook")


@dataclass(frozen=True)
class SlackInteraction:
    """Who did what: Slack's user id; for `block_actions`, the (button, incident id) pairs of
    our buttons pressed; for `view_submission`, the modal's `callback_id` and its input values
    (`state.values`); and where to answer later (`response_url`, absent for modals)."""

    user: str
    actions: tuple[tuple[str, int], ...]
    kind: str = "block_actions"
    callback_id: str = ""
    values: dict[str, Any] | None = None
    response_url: str = ""


def parse_interaction(body: bytes) -> SlackInteraction:
    """Read a signed interactivity request (form field `payload`, a JSON object).

    Buttons other than ours are left out. Raises ValueError, naming what is wrong, for
    anything else that is not what Slack sends: signed is not the same as valid.
    """
    try:
        fields = parse_qs(body.decode(), strict_parsing=True)
        payload = json.loads(fields["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError):
        raise ValueError("payload must be a form field holding a JSON object") from None
    user = payload.get("user") if isinstance(payload, dict) else None
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise ValueError("payload.user.id is missing or not a Slack user id")
    response_url = payload.get("response_url", "")
    if not isinstance(response_url, str):
        raise ValueError("payload.response_url must be a string")
    if payload.get("type") == "view_submission":
        view = payload.get("view")
        state = view.get("state") if isinstance(view, dict) else None
        values = state.get("values") if isinstance(state, dict) else None
        callback = view.get("callback_id") if isinstance(view, dict) else None
        if not isinstance(values, dict) or not isinstance(callback, str):
            raise ValueError("payload.view must carry callback_id and state.values")
        return SlackInteraction(
            user=user_id, actions=(), kind="view_submission", callback_id=callback, values=values
        )
    pressed = payload.get("actions", [])
    if not isinstance(pressed, list):
        raise ValueError("payload.actions must be an array")
    actions: list[tuple[str, int]] = []
    for n, act in enumerate(pressed):
        if not isinstance(act, dict):
            raise ValueError(f"payload.actions[{n}] must be an object")
        name, value = act.get("action_id"), act.get("value")
        if name not in BUTTONS:
            continue
        if not isinstance(value, str) or not _INCIDENT_ID.fullmatch(value):
            raise ValueError(f"payload.actions[{n}].value must be an incident id")
        actions.append((str(name), int(value)))
    return SlackInteraction(user=user_id, actions=tuple(actions), response_url=response_url)
