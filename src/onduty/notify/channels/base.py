"""The channel contract: what to say (`Message`), where (`Address`), and how a send ends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal, Protocol

EVENTS: Final = (
    "incident.triggered",
    "incident.escalated",
    "incident.acknowledged",
    "incident.resolved",
    "incident.handed_over",
    "oncall.shift_started",
    "oncall.shift_ended",
    "status.update_due",
    "oncall.check_due",
    "oncall.handover",
    "test",
    "reminder",
)
"""Every `Message.event` (SPEC §6.3, and `reminder`: overdue postmortems and runbook tasks)."""

CHANNEL_TYPES: Final = ("email", "sms", "voice", "slack", "webhook")
"""Every contact-method type a channel can serve."""

ACTION_ACKNOWLEDGE: Final = "acknowledge"
ACTION_RESOLVE: Final = "resolve"
ACTION_STATUS_PAGE: Final = "status_page"
"""`Message.actions` key of the signed "post to status page" link (priorities that ask for it)."""
ACTION_VOICE_GATHER: Final = "voice_gather"
"""`Message.actions` key of the signed URL Twilio posts the pressed digit to during a call."""

IncidentAction = Literal["acknowledge", "resolve"]


@dataclass(frozen=True)
class IncidentInfo:
    """The incident as a notification shows it; `url` is its page in the web UI."""

    id: str
    number: int
    title: str
    priority: str  # "P1".."P5"
    status: str  # triggered | acknowledged | resolved
    service: str
    team: str
    url: str
    # The incident's best-matching runbook: its page, and a short link for SMS (/rb/<id>).
    runbook_url: str | None = None
    runbook_title: str | None = None
    runbook_short_url: str | None = None


@dataclass(frozen=True)
class Message:
    """What to say, channel-agnostic; `render` turns it into each channel's content.

    `idempotency_key` is the outbox row id: the same key means the same notification, so a
    receiver (or a person) can recognise a resend. `actions` holds signed, single-use URLs keyed
    by `ACTION_ACKNOWLEDGE`, `ACTION_RESOLVE` and, for voice calls, `ACTION_VOICE_GATHER`.
    """

    event: str
    idempotency_key: str
    recipient: str  # person id
    recipient_name: str
    incident: IncidentInfo | None
    step: int | None
    actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    text: str | None = None  # free text for `test` and shift notices

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"unknown event {self.event!r}; expected one of {', '.join(EVENTS)}")
        if not self.idempotency_key:
            raise ValueError("idempotency_key must not be empty")


@dataclass(frozen=True)
class Address:
    """Where to send: an e-mail address, an E.164 number, a Slack user/channel id or a URL.

    `secret` is the webhook contact method's signing secret; other types leave it None.
    """

    type: str
    value: str
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Receipt:
    """Proof of hand-over to the provider: its id for the message (for status callbacks,
    `chat.update`, support tickets) when it gives one, and a short note for the log."""

    provider_id: str | None
    detail: str = ""


class ChannelError(Exception):
    """Base of the two outcomes a failed send can have; `str()` is the reason for the log."""


class RetryableError(ChannelError):
    """A transient failure (timeout, connection refused, 408/429/5xx, SMTP 4xx): try again later.

    `retry_after` is the provider's own hint in seconds (HTTP `Retry-After`), when it gave one;
    the caller's backoff should wait at least that long.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ChannelError):
    """A failure that will never succeed as addressed (invalid number, unknown channel, rejected
    recipient, bad credentials, channel not configured): do not retry this address; fall
    through to the person's next contact method. `code` is the provider's error code, if any."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Channel(Protocol):
    """One outbound notification channel (e-mail, SMS, voice, Slack, webhook).

    Contract for `send(message, address)`, which the delivery worker calls once per outbox row:

    * Returns a `Receipt` once the provider has accepted the message. Acceptance is not delivery:
      providers that report delivery later do so through their callbacks.
    * Raises `RetryableError` when trying again may work (timeouts, refused connections, rate
      limits, 5xx, SMTP 4xx). The caller retries with backoff, honouring `retry_after`.
    * Raises `PermanentError` when it never will for this address (4xx such as an invalid
      number, `channel_not_found`, SMTP 5xx, missing secret or malformed address). The caller
      marks the row failed and falls through to the next contact method.
    * Raises nothing else: adapters translate SDK, socket and HTTP exceptions into those two.
    * Is blocking, bounded by the adapter's timeout, and safe to call from several threads.
    * Must be safe to call again with the same `message.idempotency_key` after a crash or an
      ambiguous failure (a timeout after the request left). Providers differ in what they do
      with a repeat, so each adapter documents it; in short: webhooks get the key in the body
      and in `X-Onduty-Idempotency-Key` so receivers drop repeats; e-mail derives `Message-ID`
      from it so mail clients collapse repeats; Slack and Twilio accept no idempotency key, so
      a repeat after an ambiguous failure can reach the person twice (Slack carries the key in
      the message metadata, Twilio in the status-callback URL, so a repeat is recognisable).
      At-least-once is the promise; a page seen twice beats a page lost.

    The adapter owns its provider settings and connections (given to its constructor); it keeps
    no state between calls, never touches the database or the outbox, and reads the time only
    from a `Clock` it was given.
    """

    type: str

    def send(self, message: Message, address: Address) -> Receipt:
        """Hand `message` to the provider for `address`; see the class docstring for outcomes."""
        ...
