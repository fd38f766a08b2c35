"""Admission of inbound alert requests: which integration a request is for, whether it is within
the integration's rate limit, and its signals (parsed by the integration's type); the admitted
ones of a group-committed batch are stored together by `ingest_many`. Nothing here speaks HTTP:
the intake router turns each `Outcome` into an answer."""

from __future__ import annotations

import collections
import threading
import uuid
import weakref
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import Engine, Table, delete
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from onduty import intake
from onduty.clock import Clock
from onduty.config import Settings
from onduty.errors import InvalidInput
from onduty.incidents import jira_sync
from onduty.incidents.ingest import IngestResult, ingest_many
from onduty.services import service as services_service
from onduty.services.models import IntakeRateWindow, Integration


class RateLimiter:
    """A fixed one-minute window per integration, on the injected clock.

    On PostgreSQL the windows are counted in the database (`intake_rate_window`), in a short
    transaction of their own, so all API processes count against one limit and no batch waits
    on another's row lock until it commits. SQLite has one API process (`serve --workers`
    needs PostgreSQL) and counts in memory. A request is counted once: its verdict is kept
    while it lives, so the rerun of a failed batch (see db/group_commit.py) neither counts it
    again nor changes its answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minute = -1
        self._counts: dict[Hashable, int] = {}
        self._verdicts: weakref.WeakKeyDictionary[object, bool] = weakref.WeakKeyDictionary()

    def allow(self, request: object, key: Hashable, limit: int, now: datetime) -> bool:
        """One request's verdict; `key` is an integration id, or anything hashable counted in
        this process only (the report form counts per client address)."""
        return self.allow_many([(request, key, limit)], now)[0]

    def allow_many(
        self,
        asks: Sequence[tuple[object, Hashable, int]],
        now: datetime,
        engine: Engine | None = None,
    ) -> list[bool]:
        """A verdict per (request, integration id, limit), in order; counted in the database
        when `engine` is a PostgreSQL one."""
        minute = int(now.timestamp() // 60)
        with self._lock:
            fresh = [ask for ask in asks if ask[0] not in self._verdicts]
            wanted = collections.Counter(integration for _, integration, _ in fresh)
            if engine is None or engine.dialect.name != "postgresql":
                totals = self._count_here(wanted, minute)
            else:
                ids = cast(Mapping[int, int], wanted)  # integration ids, in the database
                counted = _count_in_database(engine, ids, minute, new=minute != self._minute)
                totals = {cast(Hashable, k): n for k, n in counted.items()}
                self._minute = minute
            # Within a batch, requests are admitted in order up to what the limit leaves.
            used = {integration: totals[integration] - n for integration, n in wanted.items()}
            for request, integration, limit in fresh:
                self._verdicts[request] = used[integration] < limit
                used[integration] += 1
            return [self._verdicts[request] for request, _, _ in asks]

    def _count_here(self, wanted: Mapping[Hashable, int], minute: int) -> dict[Hashable, int]:
        if minute != self._minute:
            self._minute, self._counts = minute, {}
        for integration, n in wanted.items():
            self._counts[integration] = self._counts.get(integration, 0) + n
        return {integration: self._counts[integration] for integration in wanted}


def _count_in_database(
    engine: Engine, wanted: Mapping[int, int], minute: int, *, new: bool
) -> dict[int, int]:
    """Add each integration's requests to its window in one committed statement; the totals.
    A process that sees a new minute first drops windows older than the last one."""
    if not wanted:
        return {}
    table = cast(Table, IntakeRateWindow.__table__)
    values = postgresql.insert(table).values(
        [{"integration_id": i, "minute": minute, "count": n} for i, n in wanted.items()]
    )
    upsert = values.on_conflict_do_update(
        index_elements=["integration_id", "minute"],
        set_={"count": table.c.count + values.excluded.count},
    ).returning(table.c.integration_id, table.c.count)
    with engine.begin() as conn:
        if new:
            conn.execute(delete(table).where(table.c.minute < minute - 1))
        return {int(i): int(n) for i, n in conn.execute(upsert)}


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

    reason: Literal["unknown_key", "rate_limited", "unreadable", "invalid", "forged", "elsewhere"]
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
        found = [known[inbound.key][0] if inbound.key in known else None for inbound in batch]
        verdicts = iter(
            self.limiter.allow_many(
                [
                    (inbound, integration.id, self._limit(integration))
                    for inbound, integration in zip(batch, found, strict=True)
                    if integration is not None and _fits(integration, inbound)
                ],
                now,
                _engine(session),
            )
        )
        admitted: list[tuple[int, Integration, list[intake.Signal]]] = []
        for n, (inbound, integration) in enumerate(zip(batch, found, strict=True)):
            allowed = integration is not None and _fits(integration, inbound) and next(verdicts)
            if allowed and integration is not None and integration.type == "jira":
                outcomes[n] = self._jira(session, integration, inbound, now)
                continue
            verdict = self._admit(integration, inbound, allowed)
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

    def _jira(
        self, session: Session, integration: Integration, inbound: Inbound, now: datetime
    ) -> Outcome:
        """A Jira webhook: its signature checked (when a secret is set) before anything is
        stored, then applied to the incident of its issue (incidents/jira_sync.py)."""
        try:
            jira_sync.verify(inbound.body, inbound.headers, self.settings.jira_webhook_secret)
        except jira_sync.Forged as exc:
            return Refused("forged", str(exc), "X-Hub-Signature")
        try:
            data = jira_sync.parse(inbound.body)
        except InvalidInput as exc:
            reason: Literal["unreadable", "invalid"] = (
                "unreadable" if exc.field is None else "invalid"
            )
            return Refused(reason, exc.message, exc.field)
        got = jira_sync.receive(session, integration, data, inbound.headers, now)
        result = IngestResult(created=got.created, updated=got.updated, resolved=got.resolved)
        return Stored([], result)

    def _limit(self, integration: Integration) -> int:
        return integration.rate_limit or self.settings.integration_rate_limit

    def _admit(
        self, integration: Integration | None, inbound: Inbound, allowed: bool
    ) -> Refused | tuple[Integration, list[intake.Signal]]:
        pagerduty = inbound.event is not None
        if integration is None or not _fits(integration, inbound):
            if pagerduty:
                return Refused(
                    "unknown_key", "no pagerduty integration has this routing_key", "routing_key"
                )
            return Refused("unknown_key", "no integration has this key", "key")
        if not allowed:
            retry = "" if pagerduty else "; retry in a minute"
            return Refused("rate_limited", f"this integration is over its rate limit{retry}")
        if inbound.event is not None:
            return integration, [inbound.event]
        if integration.type in ELSEWHERE:
            # Not alerts: the intake router hands these to their own handler (`message` is
            # the type), which verifies the sender's signature and stores in its own way.
            return Refused("elsewhere", integration.type)
        try:
            signals = intake.parse(
                integration.type,
                inbound.body,
                inbound.headers,
                config=integration.config,
                max_alerts=self.settings.max_alerts_per_request,
            )
        except intake.IntakeError as exc:
            return Refused("unreadable" if exc.field is None else "invalid", exc.message, exc.field)
        return integration, signals


ELSEWHERE = ("intercom",)


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _fits(integration: Integration, inbound: Inbound) -> bool:
    """PagerDuty events go to pagerduty integrations only, and only they take them."""
    return (integration.type == "pagerduty") == (inbound.event is not None)
