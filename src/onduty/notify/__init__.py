"""Outbound messages: the outbox (outbox.py, the one way to queue a message to a person or a
call to an external system), channel-agnostic messages, their rendering and signing, the
channels (people's contact methods) and the targets (external systems). The engine's delivery
path (engine/deliver.py) claims outbox rows and sends them through a channel or a target."""

from __future__ import annotations

from onduty.notify import render, signing
from onduty.notify.channels import (
    ACTION_ACKNOWLEDGE,
    ACTION_RESOLVE,
    ACTION_VOICE_GATHER,
    CHANNEL_TYPES,
    EVENTS,
    Address,
    Channel,
    ChannelError,
    FakeChannel,
    IncidentInfo,
    Message,
    PermanentError,
    Receipt,
    RetryableError,
    SentMessage,
    build_channels,
    channel_for,
)
from onduty.notify.signing import SignatureError

__all__ = [
    "ACTION_ACKNOWLEDGE",
    "ACTION_RESOLVE",
    "ACTION_VOICE_GATHER",
    "CHANNEL_TYPES",
    "EVENTS",
    "Address",
    "Channel",
    "ChannelError",
    "FakeChannel",
    "IncidentInfo",
    "Message",
    "PermanentError",
    "Receipt",
    "RetryableError",
    "SentMessage",
    "SignatureError",
    "build_channels",
    "channel_for",
    "render",
    "signing",
]
