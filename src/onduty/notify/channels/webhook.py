"""Webhook contact methods: a signed JSON POST (SPEC §6.3) to the person's own URL."""

from __future__ import annotations

import httpx

from onduty.notify import render
from onduty.notify._http import checked_url, post_signed_json
from onduty.notify.channels.base import Address, Message, PermanentError, Receipt

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
        return post_signed_json(
            self._client,
            url,
            render.webhook_payload(message),
            secret=address.secret,
            idempotency_key=message.idempotency_key,
            what="webhook",
            user_agent=USER_AGENT,
        )
