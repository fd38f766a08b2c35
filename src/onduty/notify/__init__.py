"""Notifications: channel-agnostic messages, their rendering and signing, and the channels.

The outbox and delivery worker (the callers of `Channel.send`) live beside this, later.
"""

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
