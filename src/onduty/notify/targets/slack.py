"""The `slack` target: what onduty posts in Slack that is not a page to one person. An incident's
message in its team's channel (`slack.post` with a `card`) and the replies in its thread
(`slack.post` with `text`), that message edited in place (`slack.update`), deferred answers to
slash commands (`slack.respond`, to the command's `response_url`) and modals (`slack.open`,
views.open with the command's `trigger_id`), all through `slack_sdk`."""

from __future__ import annotations

import math
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from onduty.notify import render
from onduty.notify.channels.base import PermanentError, Receipt, RetryableError
from onduty.notify.channels.slack import classify
from onduty.notify.targets.base import Call

EVENTS = ("slack.post", "slack.update", "slack.respond", "slack.open")


class SlackTarget:
    """Each call is one Web API method. A reply or an update names the message it belongs to:
    the outbox fills `parent` (`"<channel>:<ts>"`, the receipt of the incident's first post)
    before the call is made, so a thread never starts before its parent exists.

    Outcomes as for the Slack channel: `ratelimited`, 429, 5xx and network errors retry; other
    `ok: false` answers (`channel_not_found`, `message_not_found`, `expired_trigger_id`, ...)
    are permanent. Duplicates: the Web API takes no idempotency key, so a retry after an
    ambiguous failure may post a reply twice; an update is idempotent by nature."""

    name = "slack"

    def __init__(
        self,
        *,
        token: str,
        base_url: str = "https://slack.com/api/",
        public_url: str = "http://127.0.0.1:8000",
        timeout_s: float = 10,
    ) -> None:
        self._timeout = max(1, math.ceil(timeout_s))
        self._client = WebClient(
            token=token,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=self._timeout,
            retry_handlers=[],  # the outbox owns retries
        )
        self._public_url = public_url

    def send(self, call: Call) -> Receipt:
        payload = call.payload
        try:
            if call.event == "slack.post":
                return self._post(payload)
            if call.event == "slack.update":
                channel, ts = _parent(payload)
                text, blocks = render.incident_card(payload["card"], self._public_url)
                self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
                return Receipt(provider_id=f"{channel}:{ts}", detail="updated")
            if call.event == "slack.respond":
                return self._respond(payload)
            if call.event == "slack.open":
                self._client.views_open(trigger_id=str(payload["trigger_id"]), view=payload["view"])
                return Receipt(provider_id=None, detail="modal opened")
        except SlackApiError as exc:
            raise classify(exc) from exc
        except SlackClientError as exc:
            raise PermanentError(f"Slack request could not be built: {exc}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentError(f"slack target payload is incomplete: {exc}") from exc
        except OSError as exc:
            raise RetryableError(f"Slack unreachable: {type(exc).__name__}: {exc}") from exc
        raise PermanentError(f"slack target has no event {call.event!r}")

    def _post(self, payload: Any) -> Receipt:
        channel = str(payload["channel"])
        args: dict[str, Any] = {"channel": channel, "unfurl_links": False, "unfurl_media": False}
        if "card" in payload:
            args["text"], args["blocks"] = render.incident_card(payload["card"], self._public_url)
        else:
            args["text"] = str(payload["text"])
        if payload.get("parent"):
            channel, args["thread_ts"] = _parent(payload)
            args["channel"] = channel
        response = self._client.chat_postMessage(**args)
        posted = str(response.get("channel", channel))
        return Receipt(
            provider_id=f"{posted}:{response.get('ts', '')}", detail=f"posted to {posted}"
        )

    def _respond(self, payload: Any) -> Receipt:
        url = str(payload["url"])
        if not url.startswith(("https://", "http://")):
            raise PermanentError(f"not a response_url: {url!r}")
        answer = WebhookClient(url, timeout=self._timeout, retry_handlers=[]).send_dict(
            dict(payload["body"])
        )
        if answer.status_code == 429 or answer.status_code >= 500:
            raise RetryableError(f"Slack response_url answered HTTP {answer.status_code}")
        if answer.status_code >= 400:
            raise PermanentError(
                f"Slack response_url answered HTTP {answer.status_code}: {answer.body}"
            )
        return Receipt(provider_id=None, detail=f"answered HTTP {answer.status_code}")


def _parent(payload: Any) -> tuple[str, str]:
    channel, _, ts = str(payload["parent"]).partition(":")
    if not channel or not ts:
        raise ValueError("parent must be '<channel>:<ts>'")
    return channel, ts
