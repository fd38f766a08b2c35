"""Delivery: claims due outbox rows, hands each to its channel with the row id as idempotency
key, and records the outcome. Transient failures retry with backoff (3 attempts); permanent
ones fall through to the person's next contact method; throttles delay, never drop."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from onduty.config import Settings
from onduty.db import dialect
from onduty.incidents.models import Incident
from onduty.incidents.timeline import timeline
from onduty.notify import links
from onduty.notify import models as ob
from onduty.notify.channels import (
    ACTION_ACKNOWLEDGE,
    ACTION_RESOLVE,
    ACTION_VOICE_GATHER,
    Address,
    Channel,
    IncidentInfo,
    Message,
    PermanentError,
    RetryableError,
    channel_for,
)
from onduty.people.models import ContactMethod, Person
from onduty.services.models import Service

log = logging.getLogger("onduty.engine.deliver")

MAX_ATTEMPTS = 3
BACKOFF = (timedelta(seconds=10), timedelta(seconds=30), timedelta(seconds=90))
# How long a claimed row may stay in `sending`: longer than any adapter's timeout, so a row
# still `sending` after it was claimed by an engine that died mid-send.
SEND_DEADLINE = timedelta(seconds=60)
THROTTLE_WINDOW = timedelta(minutes=15)
LINK_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class Prepared:
    """A claimed row, ready to send: the message and address are built inside the claim."""

    row_id: int
    incident_id: int | None
    channel: str
    message: Message
    address: Address
    attempts: int


def _timeline(
    session: Session, incident_id: int | None, now: datetime, kind: str, **data: Any
) -> None:
    if incident_id is not None:
        channel = f"notify:{data.get('via', '')}"
        timeline(session, incident_id, now=now, kind=kind, actor="engine", channel=channel, **data)


def claim(
    session: Session, *, now: datetime, settings: Settings, limit: int = 50
) -> list[Prepared]:
    """Take up to `limit` due rows and make them ready to send, in the caller's transaction.

    Rows are taken round-robin across incidents, so one incident's long queue does not hold
    back another's first page. A page whose incident was acknowledged or resolved meanwhile is
    cancelled; one over its contact method's throttle is postponed (never dropped); the rest
    are marked `sending` with a send deadline and one more attempt. A row found `sending` past
    its deadline was claimed by an engine that stopped before the provider answered: it is
    sent again with the same idempotency key, and the timeline says so."""
    query = dialect.claim(
        session,
        select(ob.OutboxMessage)
        .where(
            or_(
                (ob.OutboxMessage.status == ob.PENDING) & (ob.OutboxMessage.due_at <= now),
                (ob.OutboxMessage.status == ob.SENDING) & (ob.OutboxMessage.deadline < now),
            )
        )
        .order_by(ob.OutboxMessage.due_at, ob.OutboxMessage.id)
        .limit(limit * 4),
    )
    rows = list(session.scalars(query))
    queues: dict[Any, list[ob.OutboxMessage]] = defaultdict(list)
    for row in rows:
        queues[row.incident_id].append(row)
    chosen: list[ob.OutboxMessage] = []
    while len(chosen) < limit and any(queues.values()):
        for key in list(queues):
            if queues[key] and len(chosen) < limit:
                chosen.append(queues[key].pop(0))
    if not chosen:
        return []
    # Everything the messages need, in one query; the objects stay in the session's identity
    # map while `loaded` holds them, so `_message` finds them there.
    loaded = {
        found[0].id: found
        for found in session.execute(
            select(ob.OutboxMessage, Person, ContactMethod, Incident, Service)
            .join(Person, Person.id == ob.OutboxMessage.person_id)
            .join(ContactMethod, ContactMethod.id == ob.OutboxMessage.contact_method_id)
            .outerjoin(Incident, Incident.id == ob.OutboxMessage.incident_id)
            .outerjoin(Service, Service.id == Incident.service_id)
            .where(ob.OutboxMessage.id.in_([row.id for row in chosen]))
        )
    }
    out: list[Prepared] = []
    claimed_per_method: Counter[int] = Counter()
    for row in chosen:
        _row, person, method, incident, _service = loaded[row.id]
        if (
            incident is not None
            and incident.status != "triggered"
            and row.event in ("incident.triggered", "incident.escalated")
        ):
            row.status, row.deadline = ob.CANCELLED, None
            row.last_error = f"skipped: incident is {incident.status}"
            continue
        postponed = _throttled(session, row, settings, claimed_per_method[method.id], now)
        if postponed is not None:
            row.status, row.deadline, row.due_at = ob.PENDING, None, postponed
            continue
        claimed_per_method[method.id] += 1
        if row.status == ob.SENDING:
            _timeline(
                session,
                row.incident_id,
                now,
                "notify.uncertain",
                via=row.channel,
                person=row.person_id,
                note="an engine stopped before the provider answered; resending with the same "
                "idempotency key",
            )
        message = _message(session, row, person, settings, now)
        address = Address(method.type, method.address, webhook_secret(settings, method))
        row.status, row.deadline = ob.SENDING, now + SEND_DEADLINE
        row.attempts += 1
        out.append(Prepared(row.id, row.incident_id, method.type, message, address, row.attempts))
    session.flush()
    return out


def _throttled(
    session: Session, row: ob.OutboxMessage, settings: Settings, claimed: int, now: datetime
) -> datetime | None:
    """When the row may go instead, if its contact method has had its fill of messages in the
    throttle window (sent ones, and `claimed` ones of this claim not sent yet); else None."""
    limit = _throttle_limit(settings, row.channel)
    if limit is None:
        return None
    window = session.scalars(
        select(ob.OutboxMessage.sent_at)
        .where(
            ob.OutboxMessage.contact_method_id == row.contact_method_id,
            ob.OutboxMessage.status == ob.SENT,
            ob.OutboxMessage.sent_at > now - THROTTLE_WINDOW,
        )
        .order_by(ob.OutboxMessage.sent_at)
    ).all()
    if len(window) + claimed < limit:
        return None
    oldest = window[0] if len(window) >= limit and window[0] is not None else now
    return oldest + THROTTLE_WINDOW


def _throttle_limit(settings: Settings, channel: str) -> int | None:
    return {"sms": settings.sms_per_15m, "voice": settings.voice_per_15m}.get(channel)


def _message(
    session: Session, row: ob.OutboxMessage, person: Person, settings: Settings, now: datetime
) -> Message:
    incident = session.get(Incident, row.incident_id) if row.incident_id else None
    info, actions = None, {}
    base = settings.base_url.rstrip("/")
    if incident is not None:
        service = session.get(Service, incident.service_id)
        info = IncidentInfo(
            id=str(incident.id),
            number=incident.number,
            title=incident.title,
            priority=incident.priority,
            status=incident.status,
            service=service.name if service else incident.service_id,
            team=incident.team_id,
            url=f"{base}/incidents/{incident.id}",
        )
        for action, key in ((ACTION_ACKNOWLEDGE, "acknowledge"), (ACTION_RESOLVE, "resolve")):
            token = links.sign(
                settings.secret_key,
                action=key,
                incident_id=incident.id,
                generation=incident.generation,
                recipient=person.id,
                expires=now + LINK_LIFETIME,
            )
            actions[action] = f"{base}/actions/{token}"
        gather = links.sign(
            settings.secret_key,
            action=links.KEYPAD,
            incident_id=incident.id,
            generation=incident.generation,
            recipient=person.id,
            expires=now + LINK_LIFETIME,
        )
        actions[ACTION_VOICE_GATHER] = f"{base}/integrations/twilio/voice/{gather}"
    return Message(
        event=row.event,
        idempotency_key=str(row.id),
        recipient=person.id,
        recipient_name=person.name,
        incident=info,
        step=row.step,
        actions=actions,
        text=row.text,
    )


def send(
    session_factory: sessionmaker[Session],
    channels: Mapping[str, Channel],
    prepared: Prepared,
    now: datetime,
) -> str:
    """Send one prepared row and record the outcome; returns the row's status after it."""
    attempts = prepared.attempts
    # The send happens outside any transaction: a slow provider holds no lock.
    error: Exception | None = None
    receipt = None
    try:
        receipt = channel_for(channels, prepared.channel).send(prepared.message, prepared.address)
    except (RetryableError, PermanentError) as exc:
        error = exc
    except Exception as exc:
        log.exception("channel %s raised an unexpected error", prepared.channel)
        error = RetryableError(f"unexpected error: {exc}")
    with session_factory() as session, session.begin():
        if receipt is not None:  # the common case, in two statements
            session.execute(
                update(ob.OutboxMessage)
                .where(ob.OutboxMessage.id == prepared.row_id)
                .values(status=ob.SENT, sent_at=now, provider_id=receipt.provider_id, deadline=None)
            )
            _timeline(
                session,
                prepared.incident_id,
                now,
                "notify.sent",
                via=prepared.channel,
                person=prepared.message.recipient,
                outbox=prepared.row_id,
            )
            return ob.SENT
        row = session.get(ob.OutboxMessage, prepared.row_id)
        assert row is not None and error is not None
        row.last_error = str(error)
        if isinstance(error, RetryableError) and attempts < MAX_ATTEMPTS:
            wait = BACKOFF[attempts - 1]
            if error.retry_after:
                wait = max(wait, timedelta(seconds=error.retry_after))
            row.status, row.deadline, row.due_at = ob.PENDING, None, now + wait
            return "retrying"
        row.status, row.deadline = ob.FAILED, None
        _timeline(
            session,
            row.incident_id,
            now,
            "notify.failed",
            via=row.channel,
            person=row.person_id,
            error=str(error),
            outbox=row.id,
        )
        fall_through(session, row, now)
        return row.status


def webhook_secret(settings: Settings, method: ContactMethod) -> str | None:
    """The key a webhook body is signed with: the contact method's own secret, or one derived
    from the server secret and the method's id (never the server secret itself)."""
    if method.type != "webhook":
        return None
    if method.secret:
        return method.secret
    mac = hmac.new(settings.secret_key.encode(), f"webhook:{method.id}".encode(), hashlib.sha256)
    return mac.hexdigest()


def fall_through(session: Session, row: ob.OutboxMessage, now: datetime) -> ob.OutboxMessage | None:
    """After a permanent failure, page the same person on their next contact method that this
    notification has not used yet (their rules' order first, then the rest)."""
    person = session.get(Person, row.person_id)
    assert person is not None
    used = {row.contact_method_id}
    if row.notification_id is not None:
        used |= set(
            session.scalars(
                select(ob.OutboxMessage.contact_method_id).where(
                    ob.OutboxMessage.notification_id == row.notification_id
                )
            )
        )
    order = [r.contact_method for r in person.notification_rules] + list(person.contact_methods)
    nxt = next((m for m in order if m.id not in used), None)
    if nxt is None:
        _timeline(
            session,
            row.incident_id,
            now,
            "notify.unreachable",
            person=row.person_id,
            via=row.channel,
        )
        return None
    fallback = ob.OutboxMessage(
        rule_key=f"{row.rule_key}:fallback:cm{nxt.id}",
        event=row.event,
        incident_id=row.incident_id,
        notification_id=row.notification_id,
        person_id=row.person_id,
        contact_method_id=nxt.id,
        channel=nxt.type,
        step=row.step,
        text=row.text,
        status=ob.PENDING,
        due_at=now,
        created_at=now,
    )
    session.add(fallback)
    _timeline(
        session,
        row.incident_id,
        now,
        "notify.fallthrough",
        person=row.person_id,
        via=row.channel,
        next=nxt.type,
    )
    session.flush()
    return fallback
