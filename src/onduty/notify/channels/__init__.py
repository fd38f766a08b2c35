"""Outbound notification channels: the `Channel` protocol, its adapters, registry and fake.

Each name is imported from its module on first use, not with the package: the outbox needs only
`base` (its errors), and loading every adapter would load httpx, the settings and Jinja2 into
every command that touches an incident.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onduty.notify.channels.base import (
        ACTION_ACKNOWLEDGE,
        ACTION_RESOLVE,
        ACTION_STATUS_PAGE,
        ACTION_VOICE_GATHER,
        CHANNEL_TYPES,
        EVENTS,
        Address,
        Channel,
        ChannelError,
        IncidentAction,
        IncidentInfo,
        Message,
        PermanentError,
        Receipt,
        RetryableError,
    )
    from onduty.notify.channels.email import EmailChannel
    from onduty.notify.channels.fake import FakeChannel, SentMessage
    from onduty.notify.channels.registry import build_channels, channel_for
    from onduty.notify.channels.slack import SlackChannel, SlackInteraction, parse_interaction
    from onduty.notify.channels.twilio import (
        TwilioSMSChannel,
        TwilioVoiceChannel,
        call_twiml,
        parse_sms_reply,
        parse_voice_digits,
        twiml_response,
    )
    from onduty.notify.channels.webhook import WebhookChannel

__all__ = [
    "ACTION_ACKNOWLEDGE",
    "ACTION_RESOLVE",
    "ACTION_STATUS_PAGE",
    "ACTION_VOICE_GATHER",
    "CHANNEL_TYPES",
    "EVENTS",
    "Address",
    "Channel",
    "ChannelError",
    "EmailChannel",
    "FakeChannel",
    "IncidentAction",
    "IncidentInfo",
    "Message",
    "PermanentError",
    "Receipt",
    "RetryableError",
    "SentMessage",
    "SlackChannel",
    "SlackInteraction",
    "TwilioSMSChannel",
    "TwilioVoiceChannel",
    "WebhookChannel",
    "build_channels",
    "call_twiml",
    "channel_for",
    "parse_interaction",
    "parse_sms_reply",
    "parse_voice_digits",
    "twiml_response",
]

# The module each name of __all__ lives in (a test checks that every one resolves).
_MODULES = {
    "ACTION_ACKNOWLEDGE": "base",
    "ACTION_RESOLVE": "base",
    "ACTION_STATUS_PAGE": "base",
    "ACTION_VOICE_GATHER": "base",
    "Address": "base",
    "CHANNEL_TYPES": "base",
    "Channel": "base",
    "ChannelError": "base",
    "EVENTS": "base",
    "EmailChannel": "email",
    "FakeChannel": "fake",
    "IncidentAction": "base",
    "IncidentInfo": "base",
    "Message": "base",
    "PermanentError": "base",
    "Receipt": "base",
    "RetryableError": "base",
    "SentMessage": "fake",
    "SlackChannel": "slack",
    "SlackInteraction": "slack",
    "TwilioSMSChannel": "twilio",
    "TwilioVoiceChannel": "twilio",
    "WebhookChannel": "webhook",
    "build_channels": "registry",
    "call_twiml": "twilio",
    "channel_for": "registry",
    "parse_interaction": "slack",
    "parse_sms_reply": "twilio",
    "parse_voice_digits": "twilio",
    "twiml_response": "twilio",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'onduty.notify.channels' has no attribute {name!r}")
    return getattr(importlib.import_module(f"onduty.notify.channels.{module}"), name)
