"""Admission of inbound alert requests: which integration a request is for, whether it is within
the integration's rate limit, and its signals (parsed by the integration's type); the admitted
ones of a group-committed batch are stored together by `ingest_many`. Nothing here speaks HTTP:
the intake router turns each `Outcome` into an answer."""

from __future__ import annotations

import threading
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from onduty import intake
from onduty.clock import Clock
from onduty.config import Settings
from onduty.incidents.ingest import IngestResult, ingest_many
from onduty.services import service as services_service
from onduty.services.models import Integration


class RateLimiter:
    """A fixed one-minute window per integration, counted in this process only: with several
    API processes each allows the limit, so set it per process accordingly. A request is
    counted once: its verdict is kept while it lives, so the rerun of a failed batch (see
    db/group_commit.py) neither counts it again nor changes its answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[int, int] = {}
        self._verdicts: weakref.WeakKeyDictionary[object, bool] = weakref.WeakKeyDictionary()

    def allow(self, request: object, integration_id: int, limit: int, now: datetime) -> bool:
        window = int(now.timestamp() // 60)
        with self._lock:
            if request in self._verdicts:
                return self._verdicts[request]
            if window != self._window:
                self._window, self._counts = window, {}
            used = self._counts.get(integration_id, 0)
            allowed = used < limit
            if allowed:
                self._counts[integration_id] = used + 1
            self._verdicts[request] = allowed
            return allowed


@dataclass(frozen=True, eq=False)  # by identity: the rate limiter keeps a verdict per request
class Inbound:
    """A request waiting for the writer: a body for `/integrations/{key}` (parsed on the writer,
    where the integration's type and mapping are known), or a PagerDuty event (parsed first:
    its routing key is in the body)."""

    key: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    event: intake.Signal | None = None


def pagerduty_event(body: bytes, headers: dict[str, str]) -> Inbound:
    """A PagerDuty Events API v2 request; raises `intake.IntakeError` for a bad body. An event
    without a dedup key gets one here, once, so a rerun of its batch keeps it."""
    signal = intake.parse("pagerduty", body, headers)[0]
    if signal.dedup_key is None:
        signal = intake.with_generated_key(signal, uuid.uuid4().hex)
    return Inbound(signal.routing_key or "", event=signal)


@dataclass(frozen=True)
class Refused:
    """Why a request stores nothing: its key is no integration's (or not of the right type),
    it is over the rate limit, its body is unreadable as a whole, or a field is wrong."""

    reason: Literal["unknown_key", "rate_limited", "unreadable", "invalid"]
    message: str
    field: str | None = None


@dataclass(frozen=True)
class Stored:
    signals: list[intake.Signal]
    result: IngestResult


Outcome = Refused | Stored


@dataclass(frozen=True)
class Admission:
    """The batch function of intake's group commit: `store(session, batch)`."""

    clock: Clock
    settings: Settings
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def store(self, session: Session, batch: list[Inbound]) -> list[Outcome]:
        """Each request refused, or admitted and stored with the others in one `ingest_many`."""
        now = self.clock.now()
        # Holding the services keeps them in the session's identity map, where ingest finds
        # them without a query.
        known = services_service.integrations_by_key(session, (inbound.key for inbound in batch))
        outcomes: list[Outcome | None] = [None] * len(batch)
        admitted: list[tuple[int, Integration, list[intake.Signal]]] = []
        for n, inbound in enumerate(batch):
            integration = known[inbound.key][0] if inbound.key in known else None
            verdict = self._admit(integration, inbound, now)
            if isinstance(verdict, Refused):
                outcomes[n] = verdict
            else:
                admitted.append((n, *verdict))
        results = ingest_many(
            session, [(integration, signals) for _, integration, signals in admitted], now=now
        )
        for (n, _, signals), result in zip(admitted, results, strict=True):
            outcomes[n] = Stored(signals, result)
        return [outcome for outcome in outcomes if outcome is not None]

    def _admit(
        self, integration: Integration | None, inbound: Inbound, now: datetime
    ) -> Refused | tuple[Integration, list[intake.Signal]]:
        pagerduty = inbound.event is not None
        if integration is None or (integration.type == "pagerduty") != pagerduty:
            if pagerduty:
                return Refused(
                    "unknown_key", "no pagerduty integration has this routing_key", "routing_key"
                )
            return Refused("unknown_key", "no integration has this key", "key")
        limit = integration.rate_limit or self.settings.integration_rate_limit
        if not self.limiter.allow(inbound, integration.id, limit, now):
            message = "this integration is over its rate limit"
            return Refused(
                "rate_limited", message if pagerduty else message + "; retry in a minute"
            )
        if inbound.event is not None:
            return integration, [inbound.event]
        try:
            signals = intake.parse(
                integration.type, inbound.body, inbound.headers, config=integration.config
            )
        except intake.IntakeError as exc:
            return Refused("unreadable" if exc.field is None else "invalid", exc.message, exc.field)
        return integration, signals
