"""The target contract: a call to an external system that is not a person (an HTTP endpoint;
Jira, Intercom and Statuspage subscribers next), made from an outbox row, and how it ends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from onduty.notify.channels.base import Receipt


@dataclass(frozen=True)
class Call:
    """What to do (`event`: one of the target's own kinds), with what (`payload`, the JSON the
    enqueuer stored), and the idempotency key the external system can recognise a repeat by:
    the enqueue's key, the same on every attempt and after a crash."""

    event: str
    payload: Mapping[str, Any]
    idempotency_key: str

    def __post_init__(self) -> None:
        if not self.idempotency_key:
            raise ValueError("idempotency_key must not be empty")


class Target(Protocol):
    """One external system. The contract is `Channel`'s (notify/channels/base.py): `send`
    returns a `Receipt` once the system accepted the call, raises `RetryableError` when trying
    again may work and `PermanentError` when it never will, nothing else; it blocks, bounded by
    the adapter's timeout, is safe from several threads and safe to repeat with the same
    idempotency key. Targets are not people, so a permanent failure ends the row: there is no
    next contact method to fall through to."""

    name: str

    def send(self, call: Call) -> Receipt:
        """Make `call`; see the class docstring for outcomes."""
        ...
