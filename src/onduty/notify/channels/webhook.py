"""Webhook contact methods: a signed JSON POST (SPEC §6.3) to the person's own URL."""

from __future__ import annotations

import json

import httpx

from onduty.notify import render
from onduty.notify._http import (
    TRANSPORT_ERRORS,
    checked_url,
    error_for_status,
    error_for_transport,
)
from onduty.notify.channels.base import Address, Message, PermanentError, Receipt
from onduty.notify.signing import (
    IDEMPOTENCY_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    sign_webhook,
)

USER_AGENT = "onduty-webhook/1"


class WebhookChannel:
    """POSTs `render.webhook_payload` as JSON, signed with the contact method's secret.

    Headers: `X-Onduty-Signature: sha256=<hex HMAC-SHA256 of the raw body>` and
    `X-Onduty-Idempotency-Key` (also in the body as `idempotency_key`). Duplicates: a repeat
    after an ambiguous failure carries the same key, and receivers are expected to drop it.
    2xx is success; 408, 429, 5xx and network errors are retryable; any other status
    (redirects included: they are not followed) is permanent.
    """

    type = "webhook"

    def __init__(self, *, timeout_s: float = 10, transport: httpx.BaseTransport | None = None):
        # One client for every send: it is thread-safe, keeps connections alive, and building
        # one loads the CA bundle (tens of milliseconds, most of a page's cost).
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), transport=transport)

    def send(self, message: Message, address: Address) -> Receipt:
        url = checked_url(address.value, "webhook")
        if not address.secret:
            # The caller derives a secret when the contact method has none; unsigned bodies
            # would let anyone forge a page, so refusing is safer than sending.
            raise PermanentError("webhook contact method has no signing secret")
        body = json.dumps(
            render.webhook_payload(message), separators=(",", ":"), ensure_ascii=False
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            WEBHOOK_SIGNATURE_HEADER: sign_webhook(body, address.secret),
            IDEMPOTENCY_HEADER: message.idempotency_key,
        }
        try:
            response = self._client.post(url, content=body, headers=headers)
        except TRANSPORT_ERRORS as exc:
            raise error_for_transport(exc, "webhook") from exc
        if response.is_success:
            return Receipt(provider_id=None, detail=f"HTTP {response.status_code}")
        raise error_for_status(response, f"webhook answered HTTP {response.status_code}")
