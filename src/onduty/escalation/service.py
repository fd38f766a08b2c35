"""The step executor: starting an incident's escalation (policy snapshot), running a due step
(targets resolved through the rota at that instant, one notification per person, personal rules
expanded into the outbox), stopping on acknowledge/resolve, and escalating on request."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from onduty.db import dialect
from onduty.db.config_version import configured
from onduty.escalation import plan
from onduty.escalation.models import EscalationPolicy, EscalationState, Notification
from onduty.incidents.models import Incident
from onduty.incidents.timeline import timeline
from onduty.notify import outbox
from onduty.people.models import ContactMethod, NotificationRule
from onduty.schedules import service as schedules_service
from onduty.services.models import Service
from onduty.slack import threads as slack_threads


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


def service_snapshot(session: Session, service_id: str) -> tuple[str | None, dict[str, Any]]:
    def make() -> tuple[str | None, dict[str, Any]]:
        service = session.get(Service, service_id)
        assert service is not None
        return snapshot(session, service)

    policy_id, policy = configured(session, "escalation.snapshot", service_id, make)
    return policy_id, copy.deepcopy(policy)


def start(session: Session, *, incident: Incident, now: datetime) -> EscalationState:
    """Begin (or, after a reopen, restart) escalation at step 0, due now."""
    policy_id, policy = service_snapshot(session, incident.service_id)
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
    """Run the due step (escalation/plan.py decides which and whom). A step whose targets name
    nobody is written on the timeline and falls through to the next one at once: never
    silence."""

    def resolve(target: str) -> list[str]:
        return schedules_service.responders(
            session,
            team_id=incident.team_id,
            discipline=incident.discipline,
            target=target,
            at=now,
        )

    outcome = plan.advance(
        state.policy, step=state.step, cycle=state.cycle, at=now, resolve=resolve
    )
    for skipped in outcome.nobody:
        _timeline(
            session,
            incident,
            now,
            "escalation.nobody",
            step=skipped.step + 1,
            cycle=skipped.cycle,
            targets=list(skipped.targets),
        )
    state.step, state.cycle = outcome.step, outcome.cycle
    run = outcome.run
    if run is None:
        state.finished, state.next_at = True, None
        _timeline(session, incident, now, "escalation.exhausted", cycles=state.cycle + 1)
        slack_threads.post_event(
            session,
            incident=incident,
            text=":warning: The escalation policy ran out: nobody acknowledged.",
            now=now,
            key=f"g{incident.generation}:exhausted",
        )
        return
    for person_id, target in run.people:
        notify(
            session,
            incident=incident,
            state=state,
            step=run.step,
            person_id=person_id,
            target=target,
            event=run.event,
            now=now,
        )
    _timeline(
        session,
        incident,
        now,
        "escalation.step",
        step=run.step + 1,
        cycle=run.cycle,
        notified=[p for p, _ in run.people],
        targets=list(run.targets),
    )
    state.next_at = run.next_at
    if run.event == plan.ESCALATED:
        names = ", ".join(p for p, _ in run.people)
        slack_threads.post_event(
            session,
            incident=incident,
            text=f":arrow_double_up: Escalated: step {run.step + 1} paged {names}.",
            now=now,
            key=f"g{incident.generation}:c{run.cycle}:s{run.step}",
        )


def notify(
    session: Session,
    *,
    incident: Incident,
    state: EscalationState,
    step: int,
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
            step=step,
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
            key=f"n{notification_id}:r{i}:cm{rule.method_id}",
            event=event,
            due_at=due_at,
            person_id=person_id,
            contact_method_id=rule.method_id,
            channel=rule.channel,
            incident_id=incident.id,
            notification_id=notification_id,
            step=step + 1,
        )
        for i, rule, due_at in plan.rule_times(rules(session, person_id), now)
    ]
    outbox.enqueue_many(session, items, now=now)  # one statement for all of them
    return int(notification_id)


def rules(session: Session, person_id: str) -> list[plan.Rule]:
    """The person's notification rules, in the order they are kept (delay, then id)."""

    def make() -> list[plan.Rule]:
        rows = session.execute(
            select(ContactMethod.id, ContactMethod.type, NotificationRule.after_s)
            .join(ContactMethod, ContactMethod.id == NotificationRule.contact_method_id)
            .where(NotificationRule.person_id == person_id)
            .order_by(NotificationRule.after_s, NotificationRule.id)  # as Person's relationship
        )
        return [plan.Rule(method_id, channel, after_s) for method_id, channel, after_s in rows]

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
