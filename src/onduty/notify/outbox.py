"""The outbox API: the one way to queue an outbound message (to a person's contact method, or a
call to an external system) and the rules its rows follow: claim order (pages first), claims
held by an engine instance, release of claims whose holder died, and recording outcomes with
retry and backoff. Building and sending the messages is engine/deliver.py's."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from sqlalchemy import Select, Table, select, update
from sqlalchemy.orm import Session

from onduty.db import dialect, wake
from onduty.notify.models import (
    CANCELLED,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    OutboxMessage,
)

if TYPE_CHECKING:  # the channels package loads every adapter (httpx, Jinja2): not at import
    from onduty.notify.channels.base import ChannelError

# Claims take lower numbers first: pages before everything else, mass mailings last.
PAGE, NOTICE, BULK = 0, 1, 2
PRIORITIES = (PAGE, NOTICE, BULK)
PAGE_EVENTS = ("incident.triggered", "incident.escalated")
MAX_ATTEMPTS = 3
# After the third attempt (targets that allow more, such as Jira) the waits keep growing.
BACKOFF = (
    timedelta(seconds=10),
    timedelta(seconds=30),
    timedelta(seconds=90),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=30),
    timedelta(hours=1),
)
# How long a claim may stay `sending` when its holder is not known to be dead: longer than any
# adapter's timeout, so the last safety net for a holder that stopped mid-send unnoticed.
SEND_DEADLINE = timedelta(seconds=60)
RETRYING, SUPERSEDED = "retrying", "superseded"

_TABLE = cast(Table, OutboxMessage.__table__)


@dataclass(frozen=True)
class OutboxItem:
    """One message to queue. `key` is its idempotency key: enqueueing a key that is queued
    already does nothing, so a job that runs twice (another engine, a retry) queues once.

    For a person: `person_id`, `contact_method_id` and `channel` (the method's type); `event` is
    one of notify.channels.EVENTS. For an external system: `target` (a name in the target
    registry) and its JSON `payload`; `event` is one of the target's kinds. `priority` defaults
    to PAGE for pages and NOTICE otherwise; BULK is for fan-out to many (subscribers)."""

    key: str
    event: str
    due_at: datetime
    person_id: str | None = None
    contact_method_id: int | None = None
    channel: str | None = None
    target: str | None = None
    payload: dict[str, Any] | None = None
    priority: int | None = None
    incident_id: int | None = None
    notification_id: int | None = None
    step: int | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        person = (self.person_id, self.contact_method_id, self.channel)
        if self.target is None and None in person:
            raise ValueError("an outbox item for a person needs person, contact method, channel")
        if self.target is not None and (any(v is not None for v in person) or not self.payload):
            raise ValueError("an outbox item for a target has a payload and no person")
        if self.priority is not None and self.priority not in PRIORITIES:
            raise ValueError(f"an outbox item's priority is one of {PRIORITIES}")
        if not self.key or len(self.key) > 200:
            raise ValueError("an outbox item's key is 1 to 200 characters")

    def row(self, now: datetime) -> dict[str, Any]:
        priority = self.priority
        if priority is None:
            priority = PAGE if self.event in PAGE_EVENTS else NOTICE
        return {
            "rule_key": self.key,
            "event": self.event,
            "priority": priority,
            "incident_id": self.incident_id,
            "notification_id": self.notification_id,
            "person_id": self.person_id,
            "contact_method_id": self.contact_method_id,
            "channel": self.channel,
            "target": self.target,
            "payload": self.payload,
            "step": self.step,
            "text": self.text,
            "status": PENDING,
            "due_at": self.due_at,
            "attempts": 0,
            "created_at": now,
        }


def enqueue_many(session: Session, items: Sequence[OutboxItem], *, now: datetime) -> list[int]:
    """Queue `items` in the caller's transaction, in one statement; returns the ids of the rows
    made (an item whose key is queued already makes none)."""
    if not items:
        return []
    insert = dialect.insert_new(session, _TABLE).returning(_TABLE.c.id)
    wake.announce(session)  # engines in other processes deliver it at once
    return list(session.scalars(insert, [item.row(now) for item in items]))


def enqueue_bulk(session: Session, items: Sequence[OutboxItem], *, now: datetime) -> None:
    """Queue many `items` (a fan-out to subscribers) without reading their ids back: without
    RETURNING, PostgreSQL's driver sends the rows as one pipelined batch (10,000 rows in a
    fraction of the time `enqueue_many` takes); keys queued already are skipped alike."""
    if items:
        session.execute(dialect.insert_new(session, _TABLE), [item.row(now) for item in items])


def enqueue(session: Session, item: OutboxItem, *, now: datetime) -> int | None:
    """Queue one item; its row id, or None if its key was queued already."""
    made = enqueue_many(session, [item], now=now)
    return made[0] if made else None


def cancel_pages(session: Session, *, incident_id: int, now: datetime) -> int:
    """Cancel an incident's pages not sent yet (it was acknowledged or resolved); other messages
    about it still go. Returns how many were cancelled."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.incident_id == incident_id,
            OutboxMessage.status == PENDING,
            OutboxMessage.event.in_(PAGE_EVENTS),
        )
        .values(status=CANCELLED, last_error=f"cancelled at {now:%H:%M:%S}Z: stopped")
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- claims -----------------------------------------------------------------------------------


def due(*, now: datetime, limit: int) -> Select[OutboxMessage]:
    """Pending rows due by `now`, pages first, then by due time. `ix_outbox_due` (status,
    due_at) reads exactly the due rows, never those waiting for a later time (delayed rules,
    backoffs, throttles); the order by priority is a sort of the due rows."""
    return (
        select(OutboxMessage)
        .where(OutboxMessage.status == PENDING, OutboxMessage.due_at <= now)
        .order_by(OutboxMessage.priority, OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
    )


def claimable(session: Session, *, now: datetime, limit: int, others: int) -> list[OutboxMessage]:
    """Due rows to claim, locked for the caller's transaction (skipping rows another engine is
    claiming), in one query: at most `limit`, pages first, of which at most `others` are not
    pages. Within a priority they are taken round-robin across incidents, so one incident's
    long queue does not hold back another's first page."""
    rows = session.scalars(dialect.claim(session, due(now=now, limit=limit * 4)))
    chosen: list[OutboxMessage] = []
    for priority, group in groupby(rows, key=lambda row: row.priority):
        room = limit - len(chosen) if priority == PAGE else min(limit - len(chosen), others)
        queues: dict[int | None, deque[OutboxMessage]] = defaultdict(deque)
        for row in group:
            queues[row.incident_id].append(row)
        before = len(chosen)
        while room > 0 and queues:
            for key in list(queues):
                if room > 0:
                    chosen.append(queues[key].popleft())
                    room -= 1
                if not queues[key]:
                    del queues[key]
        if priority != PAGE:
            others -= len(chosen) - before
    return chosen


def hold(row: OutboxMessage, *, now: datetime, claimed_by: str) -> None:
    """Mark a claimed row `sending` for the engine instance `claimed_by`, one attempt more."""
    row.status, row.claimed_by = SENDING, claimed_by
    row.deadline = now + SEND_DEADLINE
    row.attempts += 1


def postpone(row: OutboxMessage, *, until: datetime) -> None:
    row.status, row.deadline, row.due_at = PENDING, None, until


def skip(row: OutboxMessage, *, reason: str) -> None:
    row.status, row.deadline, row.last_error = CANCELLED, None, reason


class Released(NamedTuple):
    """A claim given back for another attempt with the same idempotency key."""

    id: int
    incident_id: int | None
    person_id: str | None
    via: str  # the channel or the target


def release(session: Session, *, now: datetime, holders: Collection[str]) -> list[Released]:
    """Give back the claims held by the dead engine instances `holders`, and any claim past its
    deadline, as pending rows (their due time is past, so the next claim takes them first within
    their priority). The provider may or may not have got them: they are sent again with the
    same idempotency key, at least once and never silently."""
    result = session.execute(
        update(_TABLE)
        .where(
            _TABLE.c.status == SENDING,
            (_TABLE.c.deadline < now) | _TABLE.c.claimed_by.in_(list(holders)),
        )
        .values(status=PENDING, deadline=None, claimed_by=None)
        .returning(
            _TABLE.c.id, _TABLE.c.incident_id, _TABLE.c.person_id, _TABLE.c.channel, _TABLE.c.target
        )
    )
    return [
        Released(id, incident_id, person_id, channel or target or "")
        for id, incident_id, person_id, channel, target in result
    ]


# --- outcomes ---------------------------------------------------------------------------------


def record_sent(session: Session, *, row_id: int, now: datetime, provider_id: str | None) -> None:
    """The provider accepted the row: sent, whoever holds the claim now (a claim given back
    meanwhile is sent again with the same key; the truth is that it went)."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(status=SENT, sent_at=now, provider_id=provider_id, deadline=None)
    )


def record_undelivered(session: Session, *, row_id: int, reason: str) -> OutboxMessage | None:
    """The provider accepted a person's message and later reported it undelivered (an SMS
    `failed`/`undelivered`, a call unanswered): the row becomes failed. Returns it, or None
    when there is nothing to do (no such row, not a person's, or not `sent`: a repeated
    report)."""
    row = session.scalars(
        dialect.lock(session, select(OutboxMessage).where(OutboxMessage.id == row_id))
    ).one_or_none()
    if row is None or row.person_id is None or row.status != SENT:
        return None
    row.status, row.last_error = FAILED, reason
    return row


def record_failure(
    session: Session,
    *,
    row_id: int,
    claimed_by: str,
    now: datetime,
    error: ChannelError,
    max_attempts: int = MAX_ATTEMPTS,
) -> tuple[str, OutboxMessage | None]:
    """A send failed: retry later (a transient error, attempts left; at least the provider's
    `retry_after`) or fail the row. Applies only while `claimed_by` still holds the claim: if it
    was given back and taken again meanwhile, the newer attempt decides (SUPERSEDED).
    Returns the outcome (RETRYING, FAILED or SUPERSEDED) and the row."""
    row = session.scalars(
        dialect.lock(session, select(OutboxMessage).where(OutboxMessage.id == row_id))
    ).one_or_none()
    if row is None or row.status != SENDING or row.claimed_by != claimed_by:
        return SUPERSEDED, row
    row.last_error = str(error)
    from onduty.notify.channels.base import RetryableError

    if isinstance(error, RetryableError) and row.attempts < max_attempts:
        wait = BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
        if error.retry_after:
            wait = max(wait, timedelta(seconds=error.retry_after))
        row.status, row.deadline, row.claimed_by, row.due_at = PENDING, None, None, now + wait
        return RETRYING, row
    row.status, row.deadline = FAILED, None
    return FAILED, row
