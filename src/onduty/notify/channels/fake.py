"""A recording channel for tests and the demo: keeps what was sent, fails on request."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from onduty.notify.channels.base import (
    Address,
    Channel,
    ChannelError,
    Message,
    PermanentError,
    Receipt,
    RetryableError,
)


@dataclass(frozen=True)
class SentMessage:
    """One accepted send, in the order it happened."""

    message: Message
    address: Address
    receipt: Receipt


class FakeChannel:
    """A `Channel` that records instead of sending; safe to share between engine threads.

    `fail_next(n, ...)` makes the next n sends raise; failed attempts are counted in
    `attempts` but not recorded in `sent`. Like a real provider without idempotency, a second
    send with the same key is recorded again, so tests can assert exactly-once behaviour of the
    caller with `duplicates()`.
    """

    def __init__(self, type: str = "fake") -> None:
        self.type = type
        self._lock = threading.Lock()
        self._sent: list[SentMessage] = []
        self._failures: deque[ChannelError] = deque()
        self._attempts = 0

    def send(self, message: Message, address: Address) -> Receipt:
        with self._lock:
            self._attempts += 1
            if self._failures:
                raise self._failures.popleft()
            receipt = Receipt(provider_id=f"{self.type}-{len(self._sent) + 1}", detail="recorded")
            self._sent.append(SentMessage(message, address, receipt))
            return receipt

    def fail_next(
        self,
        count: int = 1,
        *,
        permanent: bool = False,
        reason: str = "simulated failure",
        retry_after: float | None = None,
    ) -> None:
        """Make the next `count` sends raise `PermanentError` or `RetryableError`."""
        with self._lock:
            for _ in range(count):
                error: ChannelError = (
                    PermanentError(reason, code="fake")
                    if permanent
                    else RetryableError(reason, retry_after=retry_after)
                )
                self._failures.append(error)

    @property
    def sent(self) -> list[SentMessage]:
        """A copy of every accepted send, oldest first."""
        with self._lock:
            return list(self._sent)

    @property
    def attempts(self) -> int:
        """How many times `send` was called, failures included."""
        with self._lock:
            return self._attempts

    def take(self) -> list[SentMessage]:
        """Return the recorded sends and forget them (for "expect this, then nothing else")."""
        with self._lock:
            sent, self._sent = self._sent, []
            return sent

    def duplicates(self) -> list[str]:
        """Return the idempotency keys that were accepted more than once."""
        with self._lock:
            keys = [s.message.idempotency_key for s in self._sent]
        return sorted({k for k in keys if keys.count(k) > 1})

    def reset(self) -> None:
        """Forget sends, attempts and pending failures."""
        with self._lock:
            self._sent.clear()
            self._failures.clear()
            self._attempts = 0


if TYPE_CHECKING:
    _conforms: Channel = FakeChannel()
