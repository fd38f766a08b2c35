"""The worker loop. Each tick reads the clock once and runs every job in its own transaction;
a job that fails is logged and the others still run. Work is claimed row by row, so several
engines can share one PostgreSQL database; periodic jobs run only under the lease."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from onduty.clock import Clock
from onduty.config import Settings
from onduty.db import dialect
from onduty.engine import deliver
from onduty.engine.audit import audit
from onduty.escalation import service as escalation_service
from onduty.escalation.models import EscalationState
from onduty.incidents.models import Incident
from onduty.notify import models as ob
from onduty.notify.channels import Channel
from onduty.people.models import Person
from onduty.schedules import service as schedules_service
from onduty.schedules.rotation import Handoff

log = logging.getLogger("onduty.engine")
LEASE_TTL = timedelta(seconds=30)
LEASE = "periodic"
STEP_BATCHES, STEP_BATCH = 4, 50


class Engine:
    """Runs the jobs. `tick()` does one pass (tests call it after advancing a FakeClock);
    `run()` loops until `stop()`, waking early when `wake()` is called (a new incident)."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        clock: Clock,
        channels: Mapping[str, Channel],
        *,
        holder: str | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.clock = clock
        self.channels = channels
        self.holder = holder or f"engine-{uuid.uuid4().hex[:8]}"
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="onduty-deliver")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.last_audit: dict[str, int] = {}
        self.jobs: list[tuple[str, Callable[[datetime], int]]] = [
            ("start_escalations", self.start_escalations),
            ("run_steps", self.run_steps),
            ("deliver", self.deliver),
            ("periodic", self.periodic),
        ]

    # --- the loop ---------------------------------------------------------------------------

    def tick(self, *, periodic: bool = True) -> dict[str, int]:
        now = self.clock.now()
        done = {}
        for name, job in self.jobs:
            if name == "periodic" and not periodic:
                continue
            try:
                done[name] = job(now)
            except Exception:
                log.exception("engine job %s failed", name)
                done[name] = -1
        return done

    def run(self) -> None:
        """Tick until stopped. A wake (a new incident) runs the paging jobs at once; the
        periodic ones (lease, shift notices, auditor) run once per tick interval at most."""
        interval = self.settings.engine_tick.total_seconds()
        last_periodic = float("-inf")
        try:
            while not self._stop.is_set():
                periodic = time.monotonic() - last_periodic >= interval
                if periodic:
                    last_periodic = time.monotonic()
                done = self.tick(periodic=periodic)
                if not any(n > 0 for n in done.values()):
                    self._wake.wait(max(0.0, last_periodic + interval - time.monotonic()))
                self._wake.clear()
        finally:
            self._pool.shutdown(wait=True)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    # --- jobs -------------------------------------------------------------------------------

    def start_escalations(self, now: datetime) -> int:
        """Incidents that should page now and have no escalation for their generation: new
        ones, reopened ones, and P3/P4 from the backlog once working hours start."""
        with self.session_factory() as session, session.begin():
            query = dialect.claim(
                session,
                select(Incident)
                .outerjoin(EscalationState, EscalationState.incident_id == Incident.id)
                .where(
                    Incident.status == "triggered",
                    Incident.page_due_at <= now,
                    or_(
                        EscalationState.incident_id.is_(None),
                        EscalationState.generation != Incident.generation,
                    ),
                )
                .order_by(Incident.id)
                .limit(100),
                of=Incident,
            )
            incidents = list(session.scalars(query))
            for incident in incidents:
                state = escalation_service.start(session, incident=incident, now=now)
                # The first step at once, in this transaction: a new page must not wait for
                # another claim of its state.
                escalation_service.run_step(session, incident=incident, state=state, now=now)
            return len(incidents)

    def run_steps(self, now: datetime) -> int:
        """Due steps, in a few concurrent batches: each batch claims its own rows (SKIP LOCKED
        on PostgreSQL), so round trips to the database overlap; SQLite runs them in turn."""
        return sum(self._pool.map(lambda _: self._run_step_batch(now), range(STEP_BATCHES)))

    def _run_step_batch(self, now: datetime) -> int:
        count = 0
        with self.session_factory() as session, session.begin():
            states = list(
                session.scalars(
                    dialect.claim(session, escalation_service.due_states(now=now, limit=STEP_BATCH))
                )
            )
            for state in states:
                incident = session.scalars(
                    dialect.lock(session, select(Incident).where(Incident.id == state.incident_id))
                ).one()
                if incident.status != "triggered" or incident.generation != state.generation:
                    # Fenced: acknowledged, resolved or reopened since this was scheduled.
                    state.finished, state.next_at = True, None
                    continue
                escalation_service.run_step(session, incident=incident, state=state, now=now)
                count += 1
        return count

    def deliver(self, now: datetime) -> int:
        with self.session_factory() as session, session.begin():
            claimed = deliver.claim(session, now=now)
        # Sends overlap (a slow provider must not hold up the others); each records its own
        # outcome in its own transaction.
        list(
            self._pool.map(
                lambda item: deliver.deliver_one(
                    self.session_factory, self.channels, self.settings, item, now
                ),
                claimed,
            )
        )
        return len(claimed)

    def periodic(self, now: datetime) -> int:
        if not self.hold_lease(now):
            return 0
        count = self.shift_notices(now)
        with self.session_factory() as session:
            self.last_audit = audit(session, now=now, tick=self.settings.engine_tick)
        return count

    # --- lease and periodic jobs ------------------------------------------------------------

    def hold_lease(self, now: datetime) -> bool:
        """Take or renew the periodic-job lease; False if another engine holds a live one."""
        with self.session_factory() as session, session.begin():
            result = session.execute(
                update(ob.EngineLease)
                .where(
                    ob.EngineLease.name == LEASE,
                    or_(ob.EngineLease.holder == self.holder, ob.EngineLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + LEASE_TTL, heartbeat_at=now)
            )
            if getattr(result, "rowcount", 0):
                return True
            if session.get(ob.EngineLease, LEASE) is not None:
                return False
            try:
                with session.begin_nested():
                    session.add(
                        ob.EngineLease(
                            name=LEASE,
                            holder=self.holder,
                            expires_at=now + LEASE_TTL,
                            heartbeat_at=now,
                        )
                    )
            except IntegrityError:
                return False
            return True

    def shift_notices(self, now: datetime) -> int:
        """`oncall.shift_started` to each incoming person, once per handoff (the outbox row's
        unique key makes a second engine, or a lease handover, a no-op)."""
        since = now - max(self.settings.engine_tick * 5, timedelta(minutes=5))
        count = 0
        with self.session_factory() as session, session.begin():
            for team_id in schedules_service.team_ids(session):
                for handoff in schedules_service.handoffs(
                    session, team_id=team_id, start=since, end=now + timedelta(microseconds=1)
                ):
                    count += _shift_notice(session, team_id, handoff, now)
        return count


def _shift_notice(session: Session, team_id: str, handoff: Handoff, now: datetime) -> int:
    person = session.get(Person, handoff.person)
    if person is None or not person.contact_methods:
        return 0
    rules = person.notification_rules
    method = rules[0].contact_method if rules else person.contact_methods[0]
    row = ob.OutboxMessage(
        rule_key=f"shift:{team_id}:{handoff.slot}:{handoff.person}:{handoff.at:%Y%m%dT%H%M%SZ}",
        event="oncall.shift_started",
        person_id=person.id,
        contact_method_id=method.id,
        channel=method.type,
        text=f"Your on-call shift for {team_id}/{handoff.slot} has started.",
        status=ob.PENDING,
        due_at=now,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return 0
    return 1
