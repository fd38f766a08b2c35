"""Delivery, the one path every outbox row takes: claim due rows (in notify/outbox.py's order),
prepare each inside the claim (a person's message with its signed links, or a target's call),
send it outside any transaction through its channel or target, and record the outcome.
Transient failures retry with backoff; a person's permanent failure falls through to their next
contact method; throttles delay, never drop."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from onduty.config import Settings
from onduty.incidents import jira_sync
from onduty.incidents.models import Incident, PriorityPolicy
from onduty.incidents.timeline import timeline
from onduty.notify import links, outbox, signing
from onduty.notify import models as ob
from onduty.notify.channels import (
    ACTION_ACKNOWLEDGE,
    ACTION_RESOLVE,
    ACTION_STATUS_PAGE,
    ACTION_VOICE_GATHER,
    Address,
    Channel,
    ChannelError,
    IncidentInfo,
    Message,
    PermanentError,
    RetryableError,
    channel_for,
)
from onduty.notify.targets import Call, Target, target_for
from onduty.people.models import ContactMethod, Person
from onduty.runbooks import service as runbooks_service
from onduty.services.models import Service

log = logging.getLogger("onduty.engine.deliver")

THROTTLE_WINDOW = timedelta(minutes=15)
LINK_LIFETIME = timedelta(hours=24)
AFTER_WAIT = timedelta(seconds=2)  # how long a call waits for the one it follows, each time
UNCERTAIN = (
    "an engine stopped before the provider answered; resending with the same idempotency key"
)


@dataclass(frozen=True)
class Prepared:
    """A claimed row, ready to send: a person's `message` and `address`, or a target's `call`,
    built inside the claim. `via` is the channel type or the target name."""

    row_id: int
    incident_id: int | None
    via: str
    page: bool
    claimed_by: str
    message: Message | None = None
    address: Address | None = None
    call: Call | None = None

    def who(self) -> dict[str, Any]:
        """How the timeline names the recipient."""
        if self.message is not None:
            return {"via": self.via, "person": self.message.recipient}
        return {"via": self.via}


def _timeline(
    session: Session, incident_id: int | None, now: datetime, kind: str, **data: Any
) -> None:
    if incident_id is not None:
        channel = f"notify:{data.get('via', '')}"
        timeline(session, incident_id, now=now, kind=kind, actor="engine", channel=channel, **data)


def claim(
    session: Session,
    *,
    now: datetime,
    settings: Settings,
    claimed_by: str,
    limit: int = 50,
    others: int | None = None,
) -> list[Prepared]:
    """Claim up to `limit` due rows for the engine instance `claimed_by` (at most `others` of
    them not pages) and make them ready to send, in the caller's transaction.

    A page whose incident was acknowledged or resolved meanwhile is cancelled; a message over
    its contact method's throttle is postponed (never dropped); the rest are held `sending`
    with a deadline and one more attempt."""
    rows = outbox.claimable(
        session, now=now, limit=limit, others=limit if others is None else others
    )
    loaded = _people(session, [row.id for row in rows if row.target is None])
    out: list[Prepared] = []
    claimed_per_method: Counter[int] = Counter()
    for row in rows:
        page = row.priority == outbox.PAGE
        if row.target is not None:
            payload = row.payload or {}
            if row.target == jira_sync.TARGET:
                verdict, value = jira_sync.ready(session, row, now)
                if verdict == "wait":
                    outbox.postpone(row, until=value)
                    continue
                if verdict == "skip":
                    outbox.skip(row, reason=value)
                    continue
                payload = value
            else:
                after = _after(session, row, now)
                if after is None:
                    continue
                payload = after
            outbox.hold(row, now=now, claimed_by=claimed_by)
            call = Call(row.event, payload, row.rule_key)
            out.append(Prepared(row.id, row.incident_id, row.target, page, claimed_by, call=call))
            continue
        person, method, incident, _service = loaded[row.id]
        if (
            incident is not None
            and incident.status != "triggered"
            and row.event in outbox.PAGE_EVENTS
        ):
            outbox.skip(row, reason=f"skipped: incident is {incident.status}")
            continue
        postponed = _throttled(session, row, settings, claimed_per_method[method.id], now)
        if postponed is not None:
            outbox.postpone(row, until=postponed)
            continue
        claimed_per_method[method.id] += 1
        message = _message(session, row, person, settings, now)
        secret = None
        if method.type == "webhook":
            secret = signing.webhook_key(settings.secret_key, method.id, method.secret)
        address = Address(method.type, method.address, secret)
        outbox.hold(row, now=now, claimed_by=claimed_by)
        out.append(
            Prepared(
                row.id,
                row.incident_id,
                method.type,
                page,
                claimed_by,
                message=message,
                address=address,
            )
        )
    session.flush()
    return out


def _after(session: Session, row: ob.OutboxMessage, now: datetime) -> dict[str, Any] | None:
    """A target call's payload, with `parent` set to the receipt (`provider_id`) of the row
    its `after` key names: a reply in a Slack thread needs its parent's channel and ts. Until
    the parent is sent the row waits (postponed, never dropped); if the parent failed or was
    cancelled, the row is skipped. Such rows of one incident and target also go one at a
    time, in the order they were queued (a thread's replies stay in order), and a row marked
    `latest_only` (an edit of the whole message) is skipped when a newer one of its kind is
    queued. None when the row is not to be sent now."""
    payload = dict(row.payload or {})
    after = payload.get("after")
    if not after:
        return payload
    same = (
        ob.OutboxMessage.target == row.target,
        ob.OutboxMessage.incident_id == row.incident_id,
    )
    if payload.get("latest_only"):
        newer = session.scalar(
            select(ob.OutboxMessage.id)
            .where(*same, ob.OutboxMessage.event == row.event, ob.OutboxMessage.id > row.id)
            .limit(1)
        )
        if newer is not None:
            outbox.skip(row, reason=f"skipped: superseded by outbox row {newer}")
            return None
    earlier = session.scalar(
        select(ob.OutboxMessage.id)
        .where(
            *same,
            ob.OutboxMessage.id < row.id,
            ob.OutboxMessage.status.in_((ob.PENDING, ob.SENDING)),
        )
        .limit(1)
    )
    if earlier is not None:
        outbox.postpone(row, until=now + AFTER_WAIT)
        return None
    parent = session.execute(
        select(ob.OutboxMessage.status, ob.OutboxMessage.provider_id).where(
            ob.OutboxMessage.rule_key == after
        )
    ).first()
    if parent is None or parent.status in (ob.FAILED, ob.CANCELLED):
        outbox.skip(row, reason=f"skipped: {after} was not sent")
        return None
    if parent.status != ob.SENT or not parent.provider_id:
        outbox.postpone(row, until=now + AFTER_WAIT)
        return None
    payload["parent"] = parent.provider_id
    return payload


def _people(session: Session, row_ids: list[int]) -> dict[int, Any]:
    """Everything the people's messages of these rows need, in one query: (person, contact
    method, incident, service) by row id. The objects stay in the session's identity map while
    the result holds them, so `_message` finds them there."""
    if not row_ids:
        return {}
    return {
        found[0]: found[1:]
        for found in session.execute(
            select(ob.OutboxMessage.id, Person, ContactMethod, Incident, Service)
            .join(Person, Person.id == ob.OutboxMessage.person_id)
            .join(ContactMethod, ContactMethod.id == ob.OutboxMessage.contact_method_id)
            .outerjoin(Incident, Incident.id == ob.OutboxMessage.incident_id)
            .outerjoin(Service, Service.id == Incident.service_id)
            .where(ob.OutboxMessage.id.in_(row_ids))
        )
    }


def note_released(session: Session, released: Sequence[outbox.Released], now: datetime) -> None:
    """Say on each incident's timeline that a message's outcome is unknown and it goes again."""
    for row in released:
        who = {"person": row.person_id} if row.person_id else {}
        _timeline(
            session, row.incident_id, now, "notify.uncertain", via=row.via, note=UNCERTAIN, **who
        )


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


def _throttle_limit(settings: Settings, channel: str | None) -> int | None:
    return {"sms": settings.sms_per_15m, "voice": settings.voice_per_15m}.get(channel or "")


def _asks_for_status_page(session: Session, incident: Incident) -> bool:
    """Its priority asks for a status-page incident (SPEC §1 rule 6). Whether one is open
    already is told by the link's page: no query on the path of every page for it."""
    policy = session.get(PriorityPolicy, incident.priority)  # the session's identity map
    return bool(policy is not None and policy.status_page and incident.status != "resolved")


def _message(
    session: Session, row: ob.OutboxMessage, person: Person, settings: Settings, now: datetime
) -> Message:
    incident = session.get(Incident, row.incident_id) if row.incident_id else None
    info, actions = None, {}
    base = settings.base_url.rstrip("/")
    if incident is not None:
        service = session.get(Service, incident.service_id)
        runbooks = runbooks_service.matched(session, incident)
        info = IncidentInfo(
            id=str(incident.id),
            number=incident.number,
            title=incident.title,
            priority=incident.priority,
            status=incident.status,
            service=service.name if service else incident.service_id,
            team=incident.team_id,
            url=f"{base}/incidents/{incident.id}",
            runbook_url=f"{base}/runbooks/{runbooks[0].id}" if runbooks else None,
            runbook_title=runbooks[0].title if runbooks else None,
            runbook_short_url=f"{base}/rb/{incident.id}" if runbooks else None,
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
        if _asks_for_status_page(session, incident):
            token = links.sign(
                settings.secret_key,
                action=links.STATUS_PAGE,
                incident_id=incident.id,
                generation=incident.generation,
                recipient=person.id,
                expires=now + LINK_LIFETIME,
            )
            actions[ACTION_STATUS_PAGE] = f"{base}/actions/status/{token}"
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
    targets: Mapping[str, Target],
    prepared: Prepared,
    now: datetime,
) -> str:
    """Send one prepared row and record the outcome; returns the row's status after it (or
    `retrying`, or `superseded` when its claim was given back and taken again meanwhile)."""
    # The send happens outside any transaction: a slow provider holds no lock.
    error: ChannelError | None = None
    receipt = None
    max_attempts = outbox.MAX_ATTEMPTS
    try:
        if prepared.call is not None:
            target = target_for(targets, prepared.via)
            max_attempts = getattr(target, "max_attempts", max_attempts)
            receipt = target.send(prepared.call)
        else:
            assert prepared.message is not None and prepared.address is not None
            channel = channel_for(channels, prepared.via)
            receipt = channel.send(prepared.message, prepared.address)
    except (RetryableError, PermanentError) as exc:
        error = exc
    except Exception as exc:
        log.exception("%s raised an unexpected error", prepared.via)
        error = RetryableError(f"unexpected error: {exc}")
    with session_factory() as session, session.begin():
        if receipt is not None:  # the common case, in two statements
            outbox.record_sent(
                session, row_id=prepared.row_id, now=now, provider_id=receipt.provider_id
            )
            _timeline(
                session,
                prepared.incident_id,
                now,
                "notify.sent",
                **prepared.who(),
                outbox=prepared.row_id,
            )
            call, incident_id = prepared.call, prepared.incident_id
            if call is not None and incident_id is not None and prepared.via == jira_sync.TARGET:
                jira_sync.answered(
                    session, incident_id, call.event, receipt.provider_id, receipt.detail, now
                )
            return ob.SENT
        assert error is not None
        outcome, row = outbox.record_failure(
            session,
            row_id=prepared.row_id,
            claimed_by=prepared.claimed_by,
            now=now,
            error=error,
            max_attempts=max_attempts,
        )
        if outcome != ob.FAILED or row is None:
            return outcome
        if prepared.via == jira_sync.TARGET and row.incident_id is not None:
            jira_sync.gave_up(session, row.incident_id, row.event, now)
        _timeline(
            session,
            row.incident_id,
            now,
            "notify.failed",
            **prepared.who(),
            error=str(error),
            outbox=row.id,
        )
        if row.person_id is not None:
            fall_through(session, row, now)
        return row.status


def undelivered(session: Session, *, row_id: int, reason: str, now: datetime) -> int | None:
    """A provider's later report that a sent message never reached the person (Twilio's
    status callback): the row fails and the person is paged on their next contact method at
    once, not after the step's wait. Returns the new row's id (None: nothing to do, or no
    method left). A repeated report does nothing."""
    row = outbox.record_undelivered(session, row_id=row_id, reason=reason)
    if row is None:
        return None
    _timeline(
        session,
        row.incident_id,
        now,
        "notify.failed",
        via=row.channel,
        person=row.person_id,
        error=reason,
        outbox=row.id,
    )
    return fall_through(session, row, now)


def fall_through(session: Session, row: ob.OutboxMessage, now: datetime) -> int | None:
    """After a permanent failure, page the same person on their next contact method that this
    notification has not used yet (their rules' order first, then the rest); returns the new
    row's id."""
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
    made = outbox.enqueue(
        session,
        outbox.OutboxItem(
            key=f"{row.rule_key}:fallback:cm{nxt.id}",
            event=row.event,
            due_at=now,
            person_id=person.id,
            contact_method_id=nxt.id,
            channel=nxt.type,
            priority=row.priority,
            incident_id=row.incident_id,
            notification_id=row.notification_id,
            step=row.step,
            text=row.text,
        ),
        now=now,
    )
    if made is not None:
        _timeline(
            session,
            row.incident_id,
            now,
            "notify.fallthrough",
            person=row.person_id,
            via=row.channel,
            next=nxt.type,
        )
    return made
