"""Outbound notification channels: the `Channel` protocol, its adapters, registry and fake."""

from __future__ import annotations

from onduty.notify.channels.base import (
    ACTION_ACKNOWLEDGE,
    ACTION_RESOLVE,
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
