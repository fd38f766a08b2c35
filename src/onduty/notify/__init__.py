"""Outbound messages: the outbox (outbox.py, the one way to queue a message to a person or a
call to an external system), channel-agnostic messages, their rendering and signing, the
channels (people's contact methods) and the targets (external systems). The engine's delivery
path (engine/deliver.py) claims outbox rows and sends them through a channel or a target.

The names below are imported on first use, not with the package: importing the outbox models
(`onduty.notify.models`, wanted by every incident command) must not load Jinja2, httpx and
every channel adapter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
_MODULES = {"render", "signing"}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"onduty.notify.{name}")
    if name == "SignatureError":
        return importlib.import_module("onduty.notify.signing").SignatureError
    if name in __all__:
        return getattr(importlib.import_module("onduty.notify.channels"), name)
    raise AttributeError(f"module 'onduty.notify' has no attribute {name!r}")
