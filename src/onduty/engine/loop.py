"""The worker loop. Each tick reads the clock once and runs every job in its own transaction;
a job that fails is logged and the others still run. Work is claimed row by row, so several
engines can share one PostgreSQL database; each renews its instance's heartbeat every tick and
gives back the outbox claims of engines found dead; periodic jobs run only under the lease."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from onduty.checks import probe as check_probe
from onduty.checks import service as checks_service
from onduty.clock import Clock
from onduty.config import Settings
from onduty.db import dialect, wake
from onduty.engine import deliver, instance
from onduty.engine import reminders as reminder_job
from onduty.engine.audit import audit
from onduty.engine.deliver import Prepared
from onduty.engine.instance import Identity
from onduty.escalation import service as escalation_service
from onduty.escalation.models import EscalationState
from onduty.handover import service as handover_service
from onduty.incidents.models import Incident
from onduty.notify import models as ob
from onduty.notify import outbox
from onduty.notify.channels import Channel
from onduty.notify.targets import Target
from onduty.people.models import Person
from onduty.postmortems import service as postmortems_service
from onduty.schedules import service as schedules_service
from onduty.schedules.rotation import Handoff
from onduty.slack import threads as slack_threads
from onduty.statuspage import service as statuspage_service

log = logging.getLogger("onduty.engine")
LEASE_TTL = timedelta(seconds=30)
LEASE = "periodic"
STEP_BATCHES, STEP_BATCH = 4, 50
SENDERS = 16  # sends in flight at once
PAGE_RESERVE = 4  # senders only pages may use, so a mass mailing never makes a page wait
INSTANCE_TTL = timedelta(seconds=15)  # an engine silent this long (or 3 ticks) is dead
MIN_SLEEP = 0.02  # seconds
DRAFTS_LOOK_BACK = timedelta(days=7)  # incidents resolved before postmortems existed get none
PROBERS = 8  # http check probes in flight at once


class Engine:
    """Runs the jobs. `tick()` does one pass (tests call it after advancing a FakeClock);
    `run()` loops until `stop()`, waking early when `wake()` is called (a new incident).
    `identity` is this engine instance (the process's own by default; tests pass another)."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        clock: Clock,
        channels: Mapping[str, Channel],
        *,
        holder: str | None = None,
        targets: Mapping[str, Target] | None = None,
        identity: Identity | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.clock = clock
        self.channels = channels
        self.targets = targets or {}
        self.identity = identity or instance.this_process()
        self.holder = holder or self.identity.id
        self.instance_ttl = max(INSTANCE_TTL, settings.engine_tick * 3)
        self._send_pool = ThreadPoolExecutor(SENDERS, thread_name_prefix="onduty-send")
        self._step_pool = ThreadPoolExecutor(STEP_BATCHES, thread_name_prefix="onduty-steps")
        self._probe_pool = ThreadPoolExecutor(PROBERS, thread_name_prefix="onduty-probe")
        self._waits_for_probes = True  # tick() waits for them; run() does not
        self._lock = threading.Lock()
        self._in_flight = 0  # claimed rows not yet sent
        self._others_in_flight = 0  # of which not pages
        self._send_wake = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.last_audit: dict[str, int] = {}
        self.jobs: list[tuple[str, Callable[[datetime], int]]] = [
            ("heartbeat", self.heartbeat),
            ("start_escalations", self.start_escalations),
            ("run_steps", self.run_steps),
            ("deliver", self.deliver),
            ("periodic", self.periodic),
        ]

    # --- the loop ---------------------------------------------------------------------------

    def tick(self) -> dict[str, int]:
        """Every job once, in order, deliveries waited for (what tests drive a FakeClock by)."""
        now = self.clock.now()
        return {name: self._job(name, job, now) for name, job in self.jobs}

    def _job(self, name: str, job: Callable[[datetime], int], now: datetime) -> int:
        try:
            return job(now)
        except Exception:
            log.exception("engine job %s failed", name)
            return -1

    def run(self) -> None:
        """Until stopped, on three threads so none waits for another: this one runs the paging
        jobs, at once when woken (a new incident) and at least every tick; deliveries have
        their own and do not wait for their sends, so a slow provider never holds up a page;
        the heartbeat and the periodic jobs (lease, shift notices, auditor) run on a third, once
        per tick, the heartbeat first (so a restarted engine resends its predecessor's claims at
        once)."""
        self._waits_for_probes = False
        threads = [
            threading.Thread(target=self._deliver_loop, name="onduty-deliver-loop"),
            threading.Thread(target=self._periodic_loop, name="onduty-periodic"),
        ]
        bind = self.session_factory.kw.get("bind")
        if bind is not None and bind.dialect.name == "postgresql":
            # Other processes' commits (API workers, other engines) wake this one at once.
            listener = functools.partial(wake.listen, bind, self.wake, self._stop)
            threads.append(threading.Thread(target=listener, name="onduty-listen", daemon=True))
        for thread in threads:
            thread.start()
        interval = self.settings.engine_tick.total_seconds()
        try:
            while not self._stop.is_set():
                now = self.clock.now()
                busy = self._job("start_escalations", self.start_escalations, now) > 0
                busy |= self._job("run_steps", self.run_steps, now) > 0
                if busy:
                    self._send_wake.set()
                else:
                    self._wake.wait(self._until_next_step(interval))
                self._wake.clear()
        finally:
            self.stop()
            for thread in threads:
                thread.join(timeout=5)  # the listener returns within its poll interval
            self._send_pool.shutdown(wait=True)
            self._step_pool.shutdown(wait=True)
            self._probe_pool.shutdown(wait=True)
            self._retire()

    def _until_next_step(self, interval: float) -> float:
        """Seconds to sleep: until the earliest step falls due, so steps run on time whatever
        the tick, but at least MIN_SLEEP (due rows another engine holds must not make this
        one spin) and at most a tick."""
        try:
            with self.session_factory() as session:
                due = session.scalar(escalation_service.next_due())
        except Exception:
            log.exception("could not read when the next step is due")
            return interval
        if due is None:
            return interval
        wait = (due - self.clock.now()).total_seconds()
        return float(min(interval, max(MIN_SLEEP, wait)))

    def _deliver_loop(self) -> None:
        interval = self.settings.engine_tick.total_seconds()
        while not self._stop.is_set():
            now = self.clock.now()
            claimed = self._job("deliver", lambda at: self.deliver(at, wait=False), now)
            if claimed <= 0:
                self._send_wake.wait(interval)
            self._send_wake.clear()

    def _periodic_loop(self) -> None:
        interval = self.settings.engine_tick.total_seconds()
        while not self._stop.is_set():
            self._job("heartbeat", self.heartbeat, self.clock.now())
            self._job("periodic", self.periodic, self.clock.now())
            self._stop.wait(interval)

    def _retire(self) -> None:
        """Stopped, every send finished: this instance holds no claim any more."""
        try:
            with self.session_factory() as session, session.begin():
                instance.retire(session, [self.identity.id])
        except Exception:
            log.exception("could not remove this engine's heartbeat")

    def wake(self) -> None:
        """Something to do now: a new incident (paging) or a message queued by a request
        (delivery; a Slack modal's trigger expires in 3 seconds)."""
        self._wake.set()
        self._send_wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._send_wake.set()

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
        """Due steps. One batch first; when it was full, more in a few concurrent batches, each
        claiming its own rows (SKIP LOCKED on PostgreSQL), so round trips to the database
        overlap (SQLite runs them in turn)."""
        done = self._run_step_batch(now)
        if done < STEP_BATCH:
            return done
        more = self._step_pool.map(lambda _: self._run_step_batch(now), range(STEP_BATCHES))
        return done + sum(more)

    def _run_step_batch(self, now: datetime) -> int:
        with self.session_factory() as session, session.begin():
            states = list(
                session.scalars(
                    dialect.claim(session, escalation_service.due_states(now=now, limit=STEP_BATCH))
                )
            )
            # Their incidents, locked in one statement, in id order (as every locker takes
            # them) so two batches cannot deadlock.
            ids = sorted(state.incident_id for state in states)
            incidents = {
                incident.id: incident
                for incident in session.scalars(
                    dialect.lock(session, select(Incident).where(Incident.id.in_(ids)))
                    .order_by(Incident.id)
                    .execution_options(populate_existing=True)
                )
            }
            for state in states:
                incident = incidents[state.incident_id]
                if incident.status != "triggered" or incident.generation != state.generation:
                    # Fenced: acknowledged, resolved or reopened since this was scheduled.
                    state.finished, state.next_at = True, None
                    continue
                escalation_service.run_step(session, incident=incident, state=state, now=now)
        return len(states)  # fenced ones too: the batch's size says whether more may be due

    def deliver(self, now: datetime, *, wait: bool = True) -> int:
        """Claim due outbox rows, as many as there are free senders, and send them; each send
        records its own outcome in its own transaction, and sends overlap (a slow provider must
        not hold up the others)."""
        with self._lock:
            free = SENDERS - self._in_flight
            others = SENDERS - PAGE_RESERVE - self._others_in_flight
        if free <= 0:
            return 0
        with self.session_factory() as session, session.begin():
            claimed = deliver.claim(
                session,
                now=now,
                settings=self.settings,
                claimed_by=self.identity.id,
                limit=min(50, free),
                others=max(0, min(50, others)),
            )
        with self._lock:
            self._in_flight += len(claimed)
            self._others_in_flight += sum(1 for item in claimed if not item.page)
        sends = [self._send_pool.submit(self._send, item, now) for item in claimed]
        if wait:
            futures.wait(sends)
        return len(claimed)

    def _send(self, item: Prepared, now: datetime) -> None:
        try:
            deliver.send(self.session_factory, self.channels, self.targets, item, now)
        except Exception:
            log.exception("delivery of outbox row %s failed", item.row_id)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._others_in_flight -= 0 if item.page else 1
            self._send_wake.set()

    def heartbeat(self, now: datetime) -> int:
        """Renew this instance's heartbeat; give back the outbox claims of instances found dead
        (and any claim past its deadline) so they are sent again now, with the same idempotency
        key. Returns how many claims were given back."""
        with self.session_factory() as session, session.begin():
            instance.renew(session, self.identity, now=now, ttl=self.instance_ttl)
            dead = [
                row.id
                for row in session.scalars(select(ob.EngineInstance))
                if instance.gone(row, self.identity, now)
            ]
            released = outbox.release(session, now=now, holders=dead)
            instance.retire(session, dead)
            deliver.note_released(session, released, now)
        for row in released:
            log.warning("outbox row %s: its engine stopped mid-send; sending it again", row.id)
        if released:
            self._send_wake.set()
        return len(released)

    def periodic(self, now: datetime) -> int:
        if not self.hold_lease(now):
            return 0
        count = self.shift_notices(now)
        count += self.postmortem_drafts(now)
        count += self.reminders(now)
        count += self._job("status_page", self.status_page, now)
        count += self._job("checks", self.checks, now)
        count += self._job("handovers", self.handovers, now)
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

    def status_page(self, now: datetime) -> int:
        """Maintenances that start or complete now, and status incidents whose owner has gone
        quiet (a reminder, then L1 paged): statuspage/service.py."""
        base = self.settings.base_url
        with self.session_factory() as session, session.begin():
            changed = statuspage_service.run_maintenances(session, now=now, base_url=base)
            changed += statuspage_service.enforce_updates(session, now=now, base_url=base)
        if changed:
            self._send_wake.set()
        return changed

    def checks(self, now: datetime) -> int:
        """Daily checks: checklists due or missed and heartbeats late (one transaction), then
        the http probes due, run on their own threads outside any transaction (a slow site
        must not hold the periodic jobs), each outcome recorded in its own."""
        with self.session_factory() as session, session.begin():
            count = checks_service.run_due(session, now=now)
            probes = checks_service.claim_probes(session, now=now)
        if count:
            self.wake()  # an alert was raised: start its escalation now
        runs = [self._probe_pool.submit(self._probe, p) for p in probes]
        if self._waits_for_probes:
            futures.wait(runs)
        return count + len(probes)

    def handovers(self, now: datetime) -> int:
        """Weekly handovers at each team's handoff (once: unique per team and instant), and
        the reminders of unacknowledged ones."""
        base = self.settings.base_url
        with self.session_factory() as session, session.begin():
            made = handover_service.generate_due(session, now=now, base_url=base)
            made += handover_service.remind(session, now=now, base_url=base)
        if made:
            self._send_wake.set()
        return made

    def _probe(self, probe: check_probe.Probe) -> None:
        outcome = check_probe.run(probe)
        try:
            with self.session_factory() as session, session.begin():
                checks_service.record_probe(session, outcome, now=self.clock.now())
        except Exception:
            log.exception("could not record the probe of check %s", probe.check_id)
        self.wake()

    def shift_notices(self, now: datetime) -> int:
        """At each handoff: the incoming person's shift start, the outgoing person's shift end
        and a line in the team's Slack channel, once per handoff (the outbox rows' unique keys
        make a second engine, or a lease handover, a no-op)."""
        since = now - max(self.settings.engine_tick * 5, timedelta(minutes=5))
        count = 0
        with self.session_factory() as session, session.begin():
            for team_id in schedules_service.team_ids(session):
                for handoff in schedules_service.handoffs(
                    session, team_id=team_id, start=since, end=now + timedelta(microseconds=1)
                ):
                    count += _shift_notice(session, team_id, handoff, now)
        return count

    def postmortem_drafts(self, now: datetime) -> int:
        """Drafts for incidents resolved where no draft was opened at once (by a monitor,
        Slack, SMS, the command line), within a tick of their resolution."""
        with self.session_factory() as session, session.begin():
            since = now - DRAFTS_LOOK_BACK
            found = postmortems_service.missing_drafts(session, since=since)
            for incident in found:
                postmortems_service.open_draft(
                    session,
                    incident=incident,
                    now=now,
                    due_days=self.settings.postmortem_due_days,
                )
            return len(found)

    def reminders(self, now: datetime) -> int:
        """Overdue postmortems and runbook tasks: a notice to each owner once a working day."""
        with self.session_factory() as session, session.begin():
            return reminder_job.remind_overdue(session, now=now, base_url=self.settings.base_url)


def _shift_notice(session: Session, team_id: str, handoff: Handoff, now: datetime) -> int:
    """The incoming person's `oncall.shift_started`, the outgoing person's
    `oncall.shift_ended`, and a line in the team's Slack channel (if it has one); each keyed
    by the handoff, so a second engine queues none of them again. Returns the rows made."""
    stamp = f"{handoff.at:%Y%m%dT%H%M%SZ}"
    where = f"{team_id}/{handoff.slot}"
    made = _to_person(
        session,
        handoff.person,
        key=f"shift:{team_id}:{handoff.slot}:{handoff.person}:{stamp}",
        event="oncall.shift_started",
        text=f"Your on-call shift for {where} has started.",
        now=now,
    )
    incoming = session.get(Person, handoff.person)
    name = incoming.name if incoming else handoff.person
    line = f":calendar: {where}: {name} is on call now"
    if handoff.previous and handoff.previous != handoff.person:
        made += _to_person(
            session,
            handoff.previous,
            key=f"shift-end:{team_id}:{handoff.slot}:{handoff.previous}:{stamp}",
            event="oncall.shift_ended",
            text=f"Your on-call shift for {where} has ended; {name} takes over.",
            now=now,
        )
        outgoing = session.get(Person, handoff.previous)
        line += f", taking over from {outgoing.name if outgoing else handoff.previous}"
    made += slack_threads.post_to_channel(
        session, team_id=team_id, text=line + ".", key=f"shift:{where}:{stamp}", now=now
    )
    return made


def _to_person(
    session: Session, person_id: str, *, key: str, event: str, text: str, now: datetime
) -> int:
    """A notice to the person's first rule's contact method (else their first method)."""
    person = session.get(Person, person_id)
    if person is None or not person.contact_methods:
        return 0
    rules = person.notification_rules
    method = rules[0].contact_method if rules else person.contact_methods[0]
    made = outbox.enqueue(
        session,
        outbox.OutboxItem(
            key=key,
            event=event,
            due_at=now,
            person_id=person.id,
            contact_method_id=method.id,
            channel=method.type,
            text=text,
        ),
        now=now,
    )
    return 0 if made is None else 1
