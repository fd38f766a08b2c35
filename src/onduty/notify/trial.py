"""Test notifications: a message to each of a person's contact methods, queued in the outbox
like a page so that the person sees every address work, with its audit record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from onduty.audit import service as audit
from onduty.errors import NotFound
from onduty.notify import outbox
from onduty.people.models import Person

TEST_TEXT = "Test notification from onduty"


def send_test(session: Session, *, person_id: str, actor: str, now: datetime) -> int:
    """Queue a test message to each of the person's contact methods and return how many. A
    second request at the same instant finds them queued already and changes nothing."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id!r}", "person")
    methods = list(person.contact_methods)
    queued = outbox.enqueue_many(
        session,
        [
            outbox.OutboxItem(
                key=f"test:{person.id}:{method.id}:{now:%Y%m%dT%H%M%S%f}",
                event="test",
                due_at=now,
                person_id=person.id,
                contact_method_id=method.id,
                channel=method.type,
                text=TEST_TEXT,
            )
            for method in methods
        ],
        now=now,
    )
    if not queued:  # the same instant twice: that test is queued already
        return len(methods)
    audit.record(
        session,
        actor=actor,
        action="person.test_notification",
        object_type="person",
        object_id=person.id,
        at=now,
        after={"contact_methods": [c.name for c in methods]},
    )
    return len(methods)
