"""The generic `http` target: a signed JSON POST to a URL the enqueuer chose."""

from __future__ import annotations

import httpx

from onduty.notify._http import checked_url, post_signed_json
from onduty.notify.channels.base import PermanentError, Receipt
from onduty.notify.targets.base import Call

USER_AGENT = "onduty-http/1"


class HttpTarget:
    """POSTs `{"event", "idempotency_key", "data"}` as JSON to `payload["url"]`, where `data` is
    `payload["body"]`, signed like our webhooks (`X-Onduty-Signature`, with the configured
    secret) and carrying `X-Onduty-Idempotency-Key`. 2xx is success; 408, 425, 429, 5xx and
    network errors are retryable; other statuses (redirects too) and a payload without a valid
    URL are permanent."""

    name = "http"

    def __init__(
        self, *, secret: str, timeout_s: float = 10, transport: httpx.BaseTransport | None = None
    ):
        self._secret = secret
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), transport=transport)

    def send(self, call: Call) -> Receipt:
        url = call.payload.get("url")
        if not isinstance(url, str):
            raise PermanentError("http target payload has no url")
        checked = checked_url(url, "http target")
        document = {
            "event": call.event,
            "idempotency_key": call.idempotency_key,
            "data": call.payload.get("body"),
        }
        return post_signed_json(
            self._client,
            checked,
            document,
            secret=self._secret,
            idempotency_key=call.idempotency_key,
            what="http target",
            user_agent=USER_AGENT,
        )
