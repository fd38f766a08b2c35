"""The dry-run: who would be notified, when and how, if an incident of a service and a priority
arrived at an instant and nobody acknowledged it. It walks the policy with the engine's own
code (the triage's paging decision, the policy snapshot, escalation/plan.py, the rota's
`responders` and each person's notification rules), reading and writing nothing else.

Also the paging check behind `onduty policy lint --paging`: a dry-run at every hour of the
coming week for every service at P1, reporting when nobody would be reached within the
acknowledgement timeout, or only through channels this server cannot send on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.bounds import check_instant
from onduty.db.memo import remembered
from onduty.errors import InvalidInput, NotFound
from onduty.escalation import plan
from onduty.escalation import service as escalation_service
from onduty.incidents.priority import PRIORITIES
from onduty.incidents.triage import Triage
from onduty.people.models import ContactMethod, Organization, Person
from onduty.schedules import service as schedules_service
from onduty.services.models import Service

PAGE, NOBODY, UNREACHABLE, BACKLOG, EXHAUSTED = (
    "page",
    "nobody",
    "unreachable",
    "backlog",
    "exhausted",
)
ROTA_TARGETS = ("primary", "secondary", "team")


@dataclass(frozen=True)
class Entry:
    """One line of the dry-run, in time order. `kind` is `page` (a message to `person` through
    `via`, a contact-method type, named `contact_method`), `nobody` (a step whose targets named
    nobody: skipped at once), `unreachable` (a person paged who has no notification rule),
    `backlog` (the page waits for working hours) or `exhausted` (the policy ran out). `step` is
    1-based, `repeat` 0 for the first run of the policy."""

    kind: str
    at: datetime
    offset_seconds: int
    step: int | None = None
    repeat: int | None = None
    person: str | None = None
    via: str | None = None
    contact_method: str | None = None
    targets: tuple[str, ...] = ()
    target: str | None = None
    event: str | None = None
    note: str = ""


@dataclass
class DryRun:
    service: str
    team: str
    priority: str
    discipline: str | None
    asked_at: datetime
    starts_at: datetime  # later than asked_at when a P3/P4 waits for working hours
    backlog: bool
    team_zone: str
    zones: dict[str, str] = field(default_factory=dict)  # person -> their time zone
    entries: list[Entry] = field(default_factory=list)


def dry_run(
    session: Session,
    *,
    service_id: str,
    at: datetime,
    priority: str = "P1",
    discipline: str | None = None,
) -> DryRun:
    """Walk the service's escalation policy for an incident of `priority` arriving at `at`.

    Raises:
        NotFound: no such service.
        InvalidInput: the priority is not P1-P4, or `at` has no time zone.
    """
    if priority not in PRIORITIES:
        raise InvalidInput(f"priority must be one of {', '.join(PRIORITIES)}", "priority")
    if at.tzinfo is None:
        raise InvalidInput("the instant needs a time zone offset", "at")
    try:
        check_instant(at)
    except ValueError as exc:
        raise InvalidInput(f"the instant {exc}", "at") from None
    service = session.get(Service, service_id)
    if service is None:
        raise NotFound(f"no service with id {service_id!r}", "service")
    team_id, chosen = service.team_id, discipline or service.discipline
    # The same decisions the engine makes, in its order: triage's paging decision (ingest),
    # the policy snapshot (start_escalations), then each step (run_step).
    backlog, starts = Triage.of(session).paging(priority, at)
    _policy_id, policy = escalation_service.service_snapshot(session, service.id)
    org_zone, team_zones = remembered(
        session, "dryrun.zones", None, lambda: schedules_service.time_zones(session)
    )
    result = DryRun(
        service=service.id,
        team=team_id,
        priority=priority,
        discipline=chosen,
        asked_at=at,
        starts_at=starts,
        backlog=backlog,
        team_zone=team_zones.get(team_id, org_zone),
    )

    def entry(kind: str, when: datetime, **fields: object) -> None:
        offset = int((when - at).total_seconds())
        result.entries.append(Entry(kind, when, offset, **fields))  # type: ignore[arg-type]

    if backlog:
        entry(BACKLOG, starts, note=f"{priority} outside working hours waits in the backlog")
    # Every step's instant lies within the policy's length: one schedule load per team.
    steps = policy.get("steps", [])
    length = sum(int(s["wait_s"]) for s in steps) * (int(policy.get("repeat", 0)) + 1)
    if _has_rota(session, team_id):
        schedules_service.preload(
            session, start=starts, end=starts + timedelta(seconds=length), teams=[team_id]
        )
    step, cycle, now = 0, 0, starts
    while True:
        instant = now

        def resolve(target: str, instant: datetime = instant) -> list[str]:
            return schedules_service.responders(
                session, team_id=team_id, discipline=chosen, target=target, at=instant
            )

        outcome = plan.advance(policy, step=step, cycle=cycle, at=now, resolve=resolve)
        for skipped in outcome.nobody:
            entry(
                NOBODY,
                now,
                step=skipped.step + 1,
                repeat=skipped.cycle,
                targets=skipped.targets,
                note=f"{', '.join(skipped.targets)}: nobody; the next step runs at once",
            )
        step, cycle = outcome.step, outcome.cycle
        run = outcome.run
        if run is None:
            entry(EXHAUSTED, now, note="the policy ran out: nobody else is paged")
            break
        for person_id, target in run.people:
            note = _why(session, team_id, target, person_id, now)
            rules = escalation_service.rules(session, person_id)
            common = {
                "step": run.step + 1,
                "repeat": run.cycle,
                "person": person_id,
                "targets": run.targets,
                "target": target,
                "event": run.event,
            }
            if not rules:
                entry(UNREACHABLE, now, note=_join(note, "no contact method"), **common)
            for _i, rule, due in plan.rule_times(rules, now):
                entry(
                    PAGE,
                    due,
                    via=rule.channel,
                    contact_method=_method_name(session, rule.method_id),
                    note=note,
                    **common,
                )
        now = run.next_at
    result.entries.sort(key=lambda e: (e.at, _ORDER[e.kind]))
    zones = remembered(
        session,
        "dryrun.person_zones",
        None,
        lambda: {i: z for i, z in session.execute(select(Person.id, Person.timezone))},
    )
    for person in {e.person for e in result.entries if e.person}:
        result.zones[person] = zones.get(person) or org_zone
    return result


def _has_rota(session: Session, team_id: str) -> bool:
    return team_id in remembered(
        session, "dryrun.rotas", None, lambda: set(schedules_service.team_ids(session))
    )


_ORDER = {BACKLOG: 0, NOBODY: 1, PAGE: 2, UNREACHABLE: 2, EXHAUSTED: 3}


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _method_name(session: Session, method_id: int) -> str | None:
    names = remembered(
        session,
        "dryrun.method_names",
        None,
        lambda: {i: n for i, n in session.execute(select(ContactMethod.id, ContactMethod.name))},
    )
    return names.get(method_id)


def _why(session: Session, team_id: str, target: str, person: str, at: datetime) -> str:
    """What the rota did to put this person here: an override, or covering time off; and
    time off the engine does not skip (support levels and named people are not rota slots)."""
    kind, _, ref = target.partition(":")
    if kind in ROTA_TARGETS or kind == "slot":
        team = ref.partition("/")[0] if kind == "slot" else team_id
        source = schedules_service.on_call_sources(session, team_id=team, at=at).get(person)
        return {"override": "override", "cover": "covering someone's time off"}.get(
            source or "", ""
        )
    if schedules_service.away(session, person_id=person, at=at):
        return "has time off, paged anyway (not a rota slot)"
    return ""


# --- the paging check -------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """A run of hours in which a P1 of `service` would not reach a person in time."""

    service: str
    start: datetime
    end: datetime  # the last hour checked in the run
    problem: str
    zone: str  # the team's


def paging_gaps(
    session: Session,
    *,
    start: datetime,
    channels: frozenset[str],
    hours: int = 7 * 24,
    priority: str = "P1",
) -> tuple[timedelta, list[Gap]]:
    """Dry-run every hour from `start` for `hours` hours for every service at `priority`, and
    return the `ack_timeout` and where nobody would be paged within it, or only people whose
    messages go through channels not in `channels` (those this server can send on)."""
    org = session.scalars(select(Organization)).first()
    ack = timedelta(seconds=org.ack_timeout_s if org else 300)
    # Steps of the last instant run past the week by the policy's length; a day covers it.
    schedules_service.preload(session, start=start, end=start + timedelta(hours=hours + 24))
    gaps: list[Gap] = []
    for service_id in session.scalars(select(Service.id).order_by(Service.id)):
        open_gap: Gap | None = None
        for hour in range(hours):
            at = start + timedelta(hours=hour)
            run = dry_run(session, service_id=service_id, at=at, priority=priority)
            problem = _problem(run, ack, channels)
            if open_gap is not None and problem == open_gap.problem:
                open_gap = Gap(service_id, open_gap.start, at, problem, run.team_zone)
                continue
            if open_gap is not None:
                gaps.append(open_gap)
            open_gap = Gap(service_id, at, at, problem, run.team_zone) if problem else None
        if open_gap is not None:
            gaps.append(open_gap)
    return ack, gaps


def _problem(run: DryRun, ack: timedelta, channels: frozenset[str]) -> str:
    limit = run.asked_at + ack
    pages = [e for e in run.entries if e.kind == PAGE and e.at <= limit]
    if not pages:
        paged = sorted(
            {e.person or "" for e in run.entries if e.kind == UNREACHABLE and e.at <= limit}
        )
        if paged:
            return f"reaches only {', '.join(paged)}, who has no contact method"
        return "reaches nobody"
    if not any(e.via in channels for e in pages):
        vias = sorted({f"{e.person} by {e.via}" for e in pages})
        return f"reaches only {', '.join(vias)}: no such channel is configured"
    return ""


def documents(run: DryRun) -> list[dict[str, object]]:
    """The entries as the API serves them (and the CLI prints with --json): instants in UTC,
    plus each one's local time in the team's zone and in the person's own."""
    docs: list[dict[str, object]] = []
    for e in run.entries:
        zone = run.zones.get(e.person or "", run.team_zone)
        docs.append(
            {
                "at": e.at.isoformat(),
                "offset_seconds": e.offset_seconds,
                "step": e.step,
                "repeat": e.repeat,
                "person": e.person,
                "via": e.via,
                "kind": e.kind,
                "contact_method": e.contact_method,
                "target": e.target,
                "targets": list(e.targets),
                "event": e.event,
                "note": e.note,
                "team_zone": run.team_zone,
                "local_time": localtime.iso(e.at, run.team_zone),
                "person_zone": zone if e.person else None,
                "person_local_time": localtime.iso(e.at, zone) if e.person else None,
            }
        )
    return docs
