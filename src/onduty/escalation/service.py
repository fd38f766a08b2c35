"""The step executor: starting an incident's escalation (policy snapshot), running a due step
(targets resolved through the rota at that instant, one notification per person, personal rules
expanded into the outbox), stopping on acknowledge/resolve, and escalating on request."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from onduty.db import dialect
from onduty.db.config_version import configured
from onduty.escalation.models import EscalationPolicy, EscalationState, Notification
from onduty.incidents.models import Incident
from onduty.incidents.timeline import timeline
from onduty.notify import outbox
from onduty.people.models import ContactMethod, NotificationRule
from onduty.schedules import service as schedules_service
from onduty.services.models import Service


def _timeline(session: Session, incident: Incident, now: datetime, kind: str, **data: Any) -> None:
    timeline(session, incident, now=now, kind=kind, actor="engine", channel="engine", **data)


def snapshot(session: Session, service: Service) -> tuple[str | None, dict[str, Any]]:
    """The service's escalation policy as it is now, frozen into the incident's state."""
    policy = (
        session.get(EscalationPolicy, service.escalation_policy_id)
        if service.escalation_policy_id
        else None
    )
    if policy is None:
        return None, {"repeat": 0, "steps": []}
    steps = [{"notify": list(s.targets), "wait_s": s.wait_s} for s in policy.steps]
    return policy.id, {"repeat": policy.repeat, "steps": steps}


def _service_snapshot(session: Session, service_id: str) -> tuple[str | None, dict[str, Any]]:
    def make() -> tuple[str | None, dict[str, Any]]:
        service = session.get(Service, service_id)
        assert service is not None
        return snapshot(session, service)

    policy_id, policy = configured(session, "escalation.snapshot", service_id, make)
    return policy_id, copy.deepcopy(policy)


def start(session: Session, *, incident: Incident, now: datetime) -> EscalationState:
    """Begin (or, after a reopen, restart) escalation at step 0, due now."""
    policy_id, policy = _service_snapshot(session, incident.service_id)
    state = session.get(EscalationState, incident.id)
    if state is None:
        state = EscalationState(incident_id=incident.id)
        session.add(state)
    state.policy_id, state.policy = policy_id, policy
    state.step, state.cycle, state.next_at = 0, 0, now
    state.generation, state.finished = incident.generation, False
    session.flush()
    return state


def stop(session: Session, *, incident_id: int, now: datetime) -> int:
    """Acknowledge or resolve: no further steps, and pages not yet sent are cancelled. Runs in
    the caller's transaction (the one that changes the incident). Returns the rows cancelled."""
    session.execute(
        update(EscalationState)
        .where(EscalationState.incident_id == incident_id)
        .values(finished=True, next_at=None)
    )
    return outbox.cancel_pages(session, incident_id=incident_id, now=now)


def escalate_now(session: Session, *, incident: Incident, now: datetime) -> None:
    """Manual escalation: the next step runs at once."""
    state = session.get(EscalationState, incident.id)
    if state is None or state.generation != incident.generation:
        start(session, incident=incident, now=now)
        return
    if state.finished:
        # The policy ran out: start over from its first step, as a new cycle.
        state.finished, state.step, state.cycle = False, 0, state.cycle + 1
    state.next_at = now


def run_step(
    session: Session, *, incident: Incident, state: EscalationState, now: datetime
) -> None:
    """Run the due step. A step whose targets name nobody is written on the timeline and falls
    through to the next one at once: never silence."""
    steps = state.policy.get("steps", [])
    repeat = int(state.policy.get("repeat", 0))
    while True:
        if state.step >= len(steps):
            if state.cycle < repeat and steps:
                state.cycle, state.step = state.cycle + 1, 0
                continue
            state.finished, state.next_at = True, None
            _timeline(session, incident, now, "escalation.exhausted", cycles=state.cycle + 1)
            return
        step = steps[state.step]
        people: list[tuple[str, str]] = []
        for target in step["notify"]:
            for person in schedules_service.responders(
                session,
                team_id=incident.team_id,
                discipline=incident.discipline,
                target=target,
                at=now,
            ):
                if person not in (p for p, _ in people):
                    people.append((person, target))
        if not people:
            _timeline(
                session,
                incident,
                now,
                "escalation.nobody",
                step=state.step + 1,
                cycle=state.cycle,
                targets=step["notify"],
            )
            state.step += 1
            continue
        event = (
            "incident.triggered" if (state.step, state.cycle) == (0, 0) else "incident.escalated"
        )
        for person_id, target in people:
            notify(
                session,
                incident=incident,
                state=state,
                person_id=person_id,
                target=target,
                event=event,
                now=now,
            )
        _timeline(
            session,
            incident,
            now,
            "escalation.step",
            step=state.step + 1,
            cycle=state.cycle,
            notified=[p for p, _ in people],
            targets=step["notify"],
        )
        state.step += 1
        state.next_at = now + timedelta(seconds=int(step["wait_s"]))
        return


def notify(
    session: Session,
    *,
    incident: Incident,
    state: EscalationState,
    person_id: str,
    target: str,
    event: str,
    now: datetime,
) -> int | None:
    """Page one person for this step: the notification row (unique per step, so a second
    engine cannot write it twice) and one outbox row per personal notification rule."""
    notification_id = session.execute(
        dialect.insert_new(session, Notification)
        .values(
            incident_id=incident.id,
            generation=state.generation,
            cycle=state.cycle,
            step=state.step,
            person_id=person_id,
            target=target,
            created_at=now,
        )
        .returning(Notification.id)
    ).scalar()
    if notification_id is None:
        return None  # written already (by another engine)
    items = [
        outbox.OutboxItem(
            key=f"n{notification_id}:r{i}:cm{method_id}",
            event=event,
            due_at=now + timedelta(seconds=after_s),
            person_id=person_id,
            contact_method_id=method_id,
            channel=channel,
            incident_id=incident.id,
            notification_id=notification_id,
            step=state.step + 1,
        )
        for i, (method_id, channel, after_s) in enumerate(_rules(session, person_id))
    ]
    outbox.enqueue_many(session, items, now=now)  # one statement for all of them
    return int(notification_id)


def _rules(session: Session, person_id: str) -> list[tuple[int, str, int]]:
    """The person's notification rules as (contact method id, channel, delay in seconds)."""

    def make() -> list[tuple[int, str, int]]:
        rows = session.execute(
            select(ContactMethod.id, ContactMethod.type, NotificationRule.after_s)
            .join(ContactMethod, ContactMethod.id == NotificationRule.contact_method_id)
            .where(NotificationRule.person_id == person_id)
            .order_by(NotificationRule.after_s, NotificationRule.id)  # as Person's relationship
        )
        return [(method_id, channel, after_s) for method_id, channel, after_s in rows]

    return configured(session, "escalation.rules", person_id, make)


def due_states(*, now: datetime, limit: int = 100) -> Select[EscalationState]:
    return (
        select(EscalationState)
        .where(EscalationState.finished.is_(False), EscalationState.next_at <= now)
        .order_by(EscalationState.next_at)
        .limit(limit)
    )


def next_due() -> Select[datetime | None]:
    """When the earliest unfinished escalation's next step is due (NULL if none is)."""
    return select(func.min(EscalationState.next_at)).where(EscalationState.finished.is_(False))
