"""Notices to a person (NOTICE priority, not pages): a daily check falling due, a handover
report, a reminder. Sent to the person's first notification rule's contact method (their
preferred way to be told), else their first contact method, like shift-start notices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from onduty.notify import outbox
from onduty.people.models import Person


def notice(
    session: Session, *, person_id: str, key: str, event: str, text: str, now: datetime
) -> bool:
    """Queue `text` for `person_id` once per `key` (the outbox's idempotency key); False when
    the person cannot be reached or the key was queued already."""
    person = session.get(Person, person_id)
    if person is None or not person.contact_methods:
        return False
    rules = person.notification_rules
    method = rules[0].contact_method if rules else person.contact_methods[0]
    made = outbox.enqueue(
        session,
        outbox.OutboxItem(
            key=key[:200],
            event=event,
            due_at=now,
            person_id=person.id,
            contact_method_id=method.id,
            channel=method.type,
            priority=outbox.NOTICE,
            text=text,
        ),
        now=now,
    )
    return made is not None
