"""Reminders of overdue work that is not a page: a postmortem not published by its due date
and a runbook task still open past its due date remind their owner once a working day (the
organisation's days, from the start of its working hours), as NOTICE outbox rows: they never
wake anyone at night and never wait behind a mass mailing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.notify import outbox
from onduty.people.models import ContactMethod, Organization, Person
from onduty.postmortems import service as postmortems_service
from onduty.runbooks.models import RunbookTask

EVENT = "reminder"
# A reminder is read, not acted on at once: e-mail first, then Slack, then the rest.
PREFERRED = ("email", "slack", "webhook", "sms", "voice")


def remind_overdue(session: Session, *, now: datetime, base_url: str = "") -> int:
    """Queue today's reminders; return how many were new. Each row's key names the day in the
    organisation's zone, so running twice (another engine, a lease handover) queues once."""
    org = session.scalars(select(Organization)).first()
    zone = org.timezone if org else "UTC"
    days = org.working_days if org else ["mon", "tue", "wed", "thu", "fri"]
    start = org.working_start if org else "09:00"
    local = localtime.to_local(now, zone)
    if not localtime.is_working_day(now, zone, days) or local.strftime("%H:%M") < start:
        return 0
    today = local.date().isoformat()
    base = base_url.rstrip("/")
    items: list[outbox.OutboxItem] = []
    for pm in postmortems_service.overdue(session, now=now):
        due = localtime.plain(pm.due_at, zone)
        text = (
            f"The postmortem of incident {pm.incident_id} was due {due} ({zone}) and is "
            f"{pm.status.replace('_', ' ')}: {base}/incidents/{pm.incident_id}/postmortem"
        )
        items += _item(
            session, pm.owner_id, f"remind:postmortem:{pm.id}:{today}", pm.incident_id, text, now
        )
    for task in session.scalars(
        select(RunbookTask).where(RunbookTask.status == "open", RunbookTask.due_at < now)
    ):
        due = localtime.plain(task.due_at, zone)
        text = (
            f"Runbook {task.runbook_id} needs fixing since incident {task.incident_id} (due "
            f"{due} {zone}): {task.missing or 'see the verdict'}. {base}/runbooks/{task.runbook_id}"
        )
        items += _item(
            session,
            task.owner_id,
            f"remind:runbook-task:{task.id}:{today}",
            task.incident_id,
            text,
            now,
        )
    return len(outbox.enqueue_many(session, items, now=now))


def _item(
    session: Session, person_id: str | None, key: str, incident_id: int, text: str, now: datetime
) -> list[outbox.OutboxItem]:
    person = session.get(Person, person_id) if person_id else None
    if person is None:
        return []
    method = _method(list(person.contact_methods))
    if method is None:
        return []
    return [
        outbox.OutboxItem(
            key=key,
            event=EVENT,
            due_at=now,
            person_id=person.id,
            contact_method_id=method.id,
            channel=method.type,
            priority=outbox.NOTICE,
            incident_id=incident_id,
            text=text,
        )
    ]


def _method(methods: list[ContactMethod]) -> ContactMethod | None:
    for kind in PREFERRED:
        for method in methods:
            if method.type == kind:
                return method
    return None
