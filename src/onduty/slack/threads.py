"""Each incident in its team's Slack channel: one message, posted when the incident is made
and edited in place (chat.update) to show its current state and who holds it, and a thread
under it where every change is posted. Everything goes through the outbox to the `slack`
target (notify/targets/slack.py), in the transaction that made the change.

`post_event` is the one function other features call to say something in an incident's
thread (a status-page update, a handover to a developer): it posts the line and refreshes the
message. A team without `slack_channel` gets nothing, at the cost of one query per
transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.db.memo import remembered
from onduty.incidents.models import Incident
from onduty.notify import outbox
from onduty.people.models import Person, Team
from onduty.services.models import Service

TARGET = "slack"


def parent_key(incident_id: int) -> str:
    """The outbox key of the incident's message in its channel; its receipt (`channel:ts`) is
    what replies thread under and updates edit."""
    return f"slack:{incident_id}:message"


def channels(session: Session) -> dict[str, str]:
    """Team id -> Slack channel id, for the teams that have one (read once per transaction)."""
    return remembered(
        session,
        "slack.channels",
        None,
        lambda: {
            team: str(channel)
            for team, channel in session.execute(
                select(Team.id, Team.slack_channel).where(Team.slack_channel.is_not(None))
            )
        },
    )


def card(session: Session, incident: Incident | dict[str, Any], note: str = "") -> dict[str, Any]:
    """What the channel message shows (rendered by notify/render.py's `incident_card`)."""
    row = incident if isinstance(incident, dict) else _row(incident)
    service = session.get(Service, row["service_id"])
    holder = row.get("resolved_by") or row.get("acknowledged_by")
    if holder:
        person = session.get(Person, holder)
        verb = "resolved" if row.get("resolved_by") else "acknowledged"
        holder = f"{person.name if person else holder} ({verb})"
    return {
        "id": row["id"],
        "number": row["number"],
        "title": row["title"],
        "priority": row["priority"],
        "status": row["status"],
        "service": service.name if service else row["service_id"],
        "team": row["team_id"],
        "held_by": holder,
        "note": note,
    }


def _row(incident: Incident) -> dict[str, Any]:
    return {
        key: getattr(incident, key)
        for key in (
            "id",
            "number",
            "title",
            "priority",
            "status",
            "service_id",
            "team_id",
            "acknowledged_by",
            "resolved_by",
        )
    }


def _message(incident_id: int, channel: str, shown: dict[str, Any], now: datetime) -> Any:
    return outbox.OutboxItem(
        key=parent_key(incident_id),
        event="slack.post",
        due_at=now,
        target=TARGET,
        payload={"channel": channel, "card": shown},
        incident_id=incident_id,
        priority=outbox.NOTICE,
    )


def announce(session: Session, rows: Sequence[dict[str, Any]], *, now: datetime) -> int:
    """Post new incidents (rows as `triage.insert_incidents` made them, with their `id`) in
    their teams' channels; returns how many were queued."""
    known = channels(session)
    items = []
    for row in rows:
        channel = known.get(row["team_id"])
        if channel is None:
            continue
        note = ""
        if row.get("backlog"):
            note = (
                f"Waiting in the backlog for working hours ({row['page_due_at']:%Y-%m-%d %H:%M}Z)"
            )
        items.append(_message(row["id"], channel, card(session, row, note), now))
    return len(outbox.enqueue_many(session, items, now=now))


def post_event(
    session: Session, *, incident: Incident, text: str, now: datetime, key: str | None = None
) -> bool:
    """Say `text` in the incident's thread and refresh its message; False (nothing queued)
    when its team has no channel. `key` makes the post idempotent for a job that may run
    twice (default: unique per call). Runs in the caller's transaction, so the post goes only
    if the change it reports commits.

    Other features call this, e.g. a status-page update::

        threads.post_event(session, incident=incident, now=now, key=f"status:{update.id}",
                           text=f"Status page: {update.status} - {update.body}")
    """
    channel = channels(session).get(incident.team_id)
    if channel is None:
        return False
    shown = card(session, incident)
    key = key or uuid.uuid4().hex
    after = parent_key(incident.id)
    items = [
        # The message first, in case the incident predates the team's channel (a no-op when
        # it was posted already: same key).
        _message(incident.id, channel, shown, now),
        outbox.OutboxItem(
            key=f"slack:{incident.id}:{key}",
            event="slack.post",
            due_at=now,
            target=TARGET,
            payload={"channel": channel, "text": text, "after": after},
            incident_id=incident.id,
            priority=outbox.NOTICE,
        ),
        outbox.OutboxItem(
            key=f"slack:{incident.id}:{key}:update",
            event="slack.update",
            due_at=now,
            target=TARGET,
            payload={"card": shown, "after": after, "latest_only": True},
            incident_id=incident.id,
            priority=outbox.NOTICE,
        ),
    ]
    outbox.enqueue_many(session, items, now=now)
    return True


def post_to_channel(session: Session, *, team_id: str, text: str, key: str, now: datetime) -> int:
    """A line in the team's channel, not about one incident (shift starts and ends); 1 if it
    was queued, 0 when the team has no channel or `key` was queued already."""
    channel = channels(session).get(team_id)
    if channel is None:
        return 0
    made = outbox.enqueue(
        session,
        outbox.OutboxItem(
            key=f"slack:channel:{key}"[:200],
            event="slack.post",
            due_at=now,
            target=TARGET,
            payload={"channel": channel, "text": text},
            priority=outbox.NOTICE,
        ),
        now=now,
    )
    return 0 if made is None else 1
