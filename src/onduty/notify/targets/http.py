"""The generic `http` target: a signed JSON POST to a URL the enqueuer chose."""

from __future__ import annotations

import json

import httpx

from onduty.notify._http import (
    TRANSPORT_ERRORS,
    checked_url,
    error_for_status,
    error_for_transport,
)
from onduty.notify.channels.base import PermanentError, Receipt
from onduty.notify.signing import IDEMPOTENCY_HEADER, WEBHOOK_SIGNATURE_HEADER, sign_webhook
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
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            WEBHOOK_SIGNATURE_HEADER: sign_webhook(body, self._secret),
            IDEMPOTENCY_HEADER: call.idempotency_key,
        }
        try:
            response = self._client.post(checked, content=body, headers=headers)
        except TRANSPORT_ERRORS as exc:
            raise error_for_transport(exc, "http target") from exc
        if response.is_success:
            return Receipt(provider_id=None, detail=f"HTTP {response.status_code}")
        raise error_for_status(response, f"http target answered HTTP {response.status_code}")
