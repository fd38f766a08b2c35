"""The `intercom` target: a reply or an internal note on an Intercom conversation through
Intercom's REST API (`POST /conversations/{id}/reply`, FORMATS §6)."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx

from onduty.notify._http import TRANSPORT_ERRORS, checked_url, error_for_status, error_for_transport
from onduty.notify.channels.base import PermanentError, Receipt
from onduty.notify.targets.base import Call

API_VERSION = "2.11"


class IntercomTarget:
    """Posts `payload` {conversation_id, message_type: comment|note, body} as the configured
    admin. 2xx is success (the conversation comes back; its id is the receipt); 429 and 5xx
    retry; 401/403/404 are permanent. Intercom has no idempotency key: a crash between its
    answer and our commit posts the reply twice, which the outbox's claims make rare."""

    name = "intercom"

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        admin_id: str,
        timeout_s: float = 10,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base = str(checked_url(base_url, "Intercom base URL")).rstrip("/")
        self._token, self._admin = token, admin_id
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), transport=transport)

    def send(self, call: Call) -> Receipt:
        conversation = call.payload.get("conversation_id")
        body = call.payload.get("body")
        kind = call.payload.get("message_type", "comment")
        if not isinstance(conversation, str) or not conversation or not isinstance(body, str):
            raise PermanentError("intercom payload needs conversation_id and body")
        if kind not in ("comment", "note"):
            raise PermanentError(f"intercom message_type {kind!r} is neither comment nor note")
        document = {"message_type": kind, "type": "admin", "admin_id": self._admin, "body": body}
        url = f"{self._base}/conversations/{quote(conversation, safe='')}/reply"
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Intercom-Version": API_VERSION,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        try:
            response = self._client.post(url, content=json.dumps(document), headers=headers)
        except TRANSPORT_ERRORS as exc:
            raise error_for_transport(exc, "Intercom") from exc
        if response.is_success:
            return Receipt(provider_id=conversation, detail=f"HTTP {response.status_code}")
        raise error_for_status(response, f"Intercom answered HTTP {response.status_code}")
