"""Twilio SMS and voice over its REST API (httpx, form fields), plus pure helpers for the
inbound side: SMS reply codes, key presses and TwiML answers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from onduty.notify import render
from onduty.notify._http import TRANSPORT_ERRORS, error_for_status, error_for_transport
from onduty.notify.channels.base import (
    ACTION_VOICE_GATHER,
    Address,
    IncidentAction,
    Message,
    PermanentError,
    Receipt,
    RetryableError,
)

API_VERSION: Final = "2010-04-01"
E164: Final = re.compile(r"\+[1-9]\d{6,14}")
PERMANENT_CODES: Final = frozenset(
    {
        20003,  # authentication failed
        21211,  # invalid 'To' number
        21214,  # 'To' number cannot be reached
        21217,  # phone number does not appear to be valid
        21408,  # no permission to send to this region
        21610,  # recipient unsubscribed (replied STOP)
        21612,  # 'To' number not reachable via this 'From'
        21614,  # 'To' is not a mobile number
        13223,  # voice: invalid phone number format
        13224,  # voice: invalid phone number
        21215,  # voice: geographic permission missing
    }
)
"""Twilio error codes that no retry fixes; any other 4xx is permanent too, these are named
so the log can say why."""
RETRYABLE_CODES: Final = frozenset({20429, 20500, 20503})
MAX_TWIML: Final = 4000  # Twilio's limit for the inline `Twiml` parameter
_SMS_REPLY = re.compile(
    r"#?(?P<number>\d{1,9})\s*(?P<action>a|ack|acknowledge|r|res|resolve)", re.IGNORECASE
)


class _TwilioAPI:
    """POSTs form fields to one Twilio account's REST resources."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        base_url: str,
        timeout_s: float,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self._root = f"{base_url.rstrip('/')}/{API_VERSION}/Accounts/{account_sid}"
        # One client for every send (thread-safe, keep-alive, the CA bundle loaded once).
        self._client = httpx.Client(
            auth=httpx.BasicAuth(account_sid, auth_token),
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
        )

    def create(self, resource: str, form: dict[str, str]) -> Receipt:
        url = f"{self._root}/{resource}.json"
        try:
            response = self._client.post(url, data=form, headers={"Accept": "application/json"})
        except TRANSPORT_ERRORS as exc:
            raise error_for_transport(exc, "Twilio") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.is_success:
            return Receipt(provider_id=body.get("sid"), detail=str(body.get("status", "")))
        code = body.get("code")
        reason = f"Twilio {response.status_code} error {code}: {body.get('message', '')}".strip()
        if code in RETRYABLE_CODES:
            raise RetryableError(reason)
        raise error_for_status(response, reason, str(code) if code is not None else None)


class _TwilioChannel:
    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        base_url: str = "https://api.twilio.com",
        timeout_s: float = 10,
        status_callback_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._api = _TwilioAPI(
            account_sid=account_sid,
            auth_token=auth_token,
            base_url=base_url,
            timeout_s=timeout_s,
            transport=transport,
        )
        self._from = from_number
        self._status_callback_url = status_callback_url

    def _base_form(self, message: Message, address: Address) -> dict[str, str]:
        if not E164.fullmatch(address.value):
            raise PermanentError(f"not an E.164 phone number: {address.value!r}", code="21211")
        form = {"To": address.value, "From": self._from}
        if self._status_callback_url:
            # Twilio has no idempotency key; putting ours in the callback URL ties its delivery
            # reports (and any duplicate's) back to the outbox row.
            form["StatusCallback"] = _with_query(
                self._status_callback_url, idempotency_key=message.idempotency_key
            )
        return form


class TwilioSMSChannel(_TwilioChannel):
    """Sends an SMS (`Messages.json`, form fields `To`, `From`, `Body`, HTTP Basic auth).

    The body carries reply codes (`42A` acknowledges #42, `42R` resolves it; see
    `parse_sms_reply`) and the signed acknowledge link when it fits.
    Duplicates: Twilio's REST API has no idempotency header, so a retry after a timeout whose
    request did reach Twilio sends a second SMS; the key travels only in `StatusCallback`.
    Outcomes: 201 gives the `SM…` sid; 429, 5xx and network errors are retryable; 4xx such as
    21211 (invalid number), 21614 (not a mobile) and 21610 (unsubscribed) are permanent.
    """

    type = "sms"

    def send(self, message: Message, address: Address) -> Receipt:
        form = self._base_form(message, address)
        form["Body"] = render.sms_body(message)
        return self._api.create("Messages", form)


class TwilioVoiceChannel(_TwilioChannel):
    """Places a call (`Calls.json`) with inline TwiML that reads the page and, when the message
    has a `voice_gather` action URL, gathers one key: 1 acknowledges, 2 resolves. Twilio posts
    the key as `Digits` to that URL (see `parse_voice_digits`, `twiml_response`).

    Duplicates and outcomes as for `TwilioSMSChannel` (a repeat rings the phone twice).
    """

    type = "voice"

    def send(self, message: Message, address: Address) -> Receipt:
        form = self._base_form(message, address)
        form["Twiml"] = call_twiml(message, message.actions.get(ACTION_VOICE_GATHER))
        return self._api.create("Calls", form)


def call_twiml(message: Message, gather_url: str | None) -> str:
    """Return the TwiML for an outbound call: the page, then a one-key menu if `gather_url`.

    Without a gather URL (or with nothing left to do, e.g. a resolved notice) the call just
    reads the message twice.
    """
    script = render.voice_script(message)
    prompt = render.voice_prompt(message)
    root = ET.Element("Response")
    if gather_url and prompt:
        gather = ET.SubElement(
            root,
            "Gather",
            {"numDigits": "1", "action": gather_url, "method": "POST", "timeout": "10"},
        )
        ET.SubElement(gather, "Say", {"loop": "2"}).text = f"{script} {prompt}"
        ET.SubElement(root, "Say").text = "No key was pressed. Goodbye."
    else:
        ET.SubElement(root, "Say", {"loop": "2"}).text = script
    twiml = ET.tostring(root, encoding="unicode")
    if len(twiml) > MAX_TWIML:
        raise PermanentError(f"call script is {len(twiml)} characters; Twilio allows {MAX_TWIML}")
    return twiml


def parse_sms_reply(body_text: str) -> tuple[int, IncidentAction] | None:
    """Parse an SMS reply such as `42A`, `42 r` or `#42 ack`; None when it is not a code.

    Returns:
        `(incident number, "acknowledge" | "resolve")`.
    """
    match = _SMS_REPLY.fullmatch(body_text.strip())
    if match is None:
        return None
    action: IncidentAction = "acknowledge" if match["action"].lower().startswith("a") else "resolve"
    return int(match["number"]), action


def parse_voice_digits(digits: str) -> IncidentAction | None:
    """Map the `Digits` of a gather callback to an action; None for any other key."""
    for action, key in render.VOICE_DIGITS.items():
        if digits.strip() == key:
            return action
    return None


def twiml_response(*, say: str | None = None, sms: str | None = None) -> str:
    """Return a TwiML document answering a Twilio webhook.

    `say` speaks (for a voice gather callback), `sms` replies with a text (for an inbound SMS);
    neither gives an empty `<Response />`, which tells Twilio to do nothing.
    """
    root = ET.Element("Response")
    if say is not None:
        ET.SubElement(root, "Say").text = say
    if sms is not None:
        ET.SubElement(root, "Message").text = sms
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))
