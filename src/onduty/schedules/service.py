"""Who is on call: loads rotas, overrides and time off, asks the pure arithmetic, and manages
overrides, swaps and time off (conflicts refused under a per-team row lock), each change with
its audit record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.audit import service as audit
from onduty.db import config_version, wake
from onduty.db.memo import forget, remembered
from onduty.durations import format_duration
from onduty.errors import Conflict, InvalidInput, NotFound
from onduty.people.models import Organization, Person, SupportLevel, Team
from onduty.schedules import rotation, spec
from onduty.schedules.models import Override, Rota, TimeOff

# Overrides and time off further than this from the asked window cannot change its answer.
_HORIZON = timedelta(days=400)


@dataclass(frozen=True)
class OnCall:
    team: str
    slot: str
    person: str | None
    start: datetime
    end: datetime
    source: str


@dataclass
class TeamSchedule:
    """A team's rota with the overrides and time off that bear on a window."""

    team_id: str
    rota: rotation.RotaSpec
    overrides: tuple[rotation.Override, ...]
    time_off: tuple[rotation.TimeOff, ...]

    @cached_property
    def index(self) -> rotation.Schedule:
        """The arithmetic's indexed schedule, built once per TeamSchedule."""
        return rotation.Schedule(self.rota, self.overrides, self.time_off)

    def on_call_at(self, at: datetime) -> dict[str, rotation.Shift]:
        return self.index.on_call_at(at)

    def shifts(self, slot: str, start: datetime, end: datetime) -> list[rotation.Shift]:
        return self.index.shifts(slot, start, end)


def _changed(session: Session) -> None:
    """Who is on call changed: this transaction reads it afresh, and every engine wakes at
    commit (a step due now may page someone else)."""
    _forget(session)
    config_version.bump(session)
    wake.announce(session)


def _rota(session: Session, team_id: str, *, lock: bool = False) -> Rota:
    query = select(Rota).where(Rota.team_id == team_id)
    if lock:
        # Serialises override writes per team on PostgreSQL; SQLite already has one writer.
        query = query.with_for_update()
    rota = session.scalars(query).first()
    if rota is None:
        if session.get(Team, team_id) is None:
            raise NotFound(f"no team with id {team_id!r}", "team")
        raise NotFound(f"team {team_id!r} has no rota", "team")
    return rota


def load_schedule(
    session: Session, *, team_id: str, start: datetime, end: datetime
) -> TeamSchedule:
    """The team's schedule with every override and time off touching [start - horizon, end)."""
    rota = _rota(session, team_id)
    lo, hi = start - _HORIZON, end + _HORIZON
    overrides = session.scalars(
        select(Override)
        .where(Override.team_id == team_id, Override.end > lo, Override.start < hi)
        .order_by(Override.id)
    )
    people = {p.person_id for s in rota.slots for p in s.people}
    time_off = session.scalars(
        select(TimeOff)
        .where(TimeOff.person_id.in_(people), TimeOff.end > lo, TimeOff.start < hi)
        .order_by(TimeOff.id)
    )
    return TeamSchedule(
        team_id=team_id,
        rota=spec.from_row(rota),
        overrides=tuple(
            rotation.Override(slot=o.slot, person=o.person_id, start=o.start, end=o.end)
            for o in overrides
        ),
        time_off=tuple(
            rotation.TimeOff(person=t.person_id, start=t.start, end=t.end) for t in time_off
        ),
    )


def team_ids(session: Session) -> list[str]:
    return list(session.scalars(select(Rota.team_id).order_by(Rota.team_id)))


def time_zones(session: Session) -> tuple[str, dict[str, str]]:
    """The organisation's time zone, and each team's: its rota's, else the organisation's."""
    org = session.scalars(select(Organization)).first()
    default = org.timezone if org else "UTC"
    rotas = {team: zone for team, zone in session.execute(select(Rota.team_id, Rota.timezone))}
    return default, {t: rotas.get(t, default) for t in session.scalars(select(Team.id))}


def on_call_at(session: Session, *, at: datetime, team_id: str | None = None) -> list[OnCall]:
    """Who is on call in each slot of one team (or every team) at `at`, with the whole shift."""
    out = []
    for team in [team_id] if team_id else team_ids(session):
        schedule = load_schedule(session, team_id=team, start=at, end=at)
        for slot, shift in schedule.on_call_at(at).items():
            out.append(OnCall(team, slot, shift.person, shift.start, shift.end, shift.source))
    return out


def upcoming_shifts(
    session: Session, *, team_id: str, start: datetime, end: datetime
) -> dict[str, list[rotation.Shift]]:
    schedule = load_schedule(session, team_id=team_id, start=start, end=end)
    return {s.name: schedule.shifts(s.name, start, end) for s in schedule.rota.slots}


_ON_CALL = "schedules.on_call"


_PRELOADED = "schedules.preloaded"
_TIME_OFF = "schedules.time_off"


def preload(
    session: Session, *, start: datetime, end: datetime, teams: Sequence[str] | None = None
) -> None:
    """Load every team's schedule for [start, end] once, for the rest of the transaction: a
    dry-run asks who is on call at each step's instant, the paging check at hundreds of
    instants of one week. `teams` limits it (default: every team); nothing is done when a
    loaded window covers this one already, for those teams."""
    wanted = list(teams) if teams is not None else team_ids(session)
    known = session.info.get(f"memo.{_PRELOADED}")
    if known is not None and known[0] <= start and end <= known[1]:  # noqa: SIM102
        if all(team in known[2] for team in wanted):
            return
    loaded = {team: load_schedule(session, team_id=team, start=start, end=end) for team in wanted}
    session.info[f"memo.{_PRELOADED}"] = (start, end, loaded)


def _on_call(session: Session, team_id: str, at: datetime) -> dict[str, rotation.Shift]:
    """Who is on call in each slot, remembered for the rest of the transaction (the engine
    runs a batch of steps at one instant, mostly for a few teams). Writers of overrides, swaps
    and time off in this module forget it."""

    def make() -> dict[str, rotation.Shift]:
        start, end, loaded = session.info.get(f"memo.{_PRELOADED}", (None, None, {}))
        schedule: TeamSchedule | None = loaded.get(team_id)
        if schedule is None or not start <= at <= end:
            schedule = load_schedule(session, team_id=team_id, start=at, end=at)
        return schedule.on_call_at(at)

    return remembered(session, _ON_CALL, (team_id, at), make)


def _forget(session: Session) -> None:
    forget(session, _ON_CALL)
    forget(session, _PRELOADED)
    forget(session, _TIME_OFF)


def on_call_sources(session: Session, *, team_id: str, at: datetime) -> dict[str, str]:
    """Per person on call in the team at `at`, why: "rota", "override" or "cover" (covering
    someone's time off); what the dry-run tells people next to each page."""
    return {
        shift.person: shift.source
        for shift in _on_call(session, team_id, at).values()
        if shift.person is not None
    }


def away(session: Session, *, person_id: str, at: datetime) -> bool:
    """Whether the person has time off at `at` (their time off read once per transaction)."""
    windows = remembered(
        session,
        _TIME_OFF,
        person_id,
        lambda: [
            (start, end)
            for start, end in session.execute(
                select(TimeOff.start, TimeOff.end).where(TimeOff.person_id == person_id)
            )
        ],
    )
    return any(start <= at < end for start, end in windows)


def responders(
    session: Session, *, team_id: str, discipline: str | None, target: str, at: datetime
) -> list[str]:
    """People an escalation target names at `at` (SPEC §6.1), in a stable order.

    `primary` is the on-call person of the incident's discipline (the first slot when the
    discipline is unknown); `secondary` the on-call people of the other slots; `team` everyone
    on call; `L1`-`L3` the support level; `person:<id>` and `slot:<team>/<slot>` as written.
    """
    kind, _, ref = target.partition(":")
    if kind == "person":
        exists = remembered(
            session, "schedules.people", ref, lambda: session.get(Person, ref) is not None
        )
        return [ref] if exists else []
    if kind in ("L1", "L2", "L3"):
        return list(
            remembered(
                session,
                "schedules.support",
                (team_id, kind),
                lambda: list(
                    session.scalars(
                        select(SupportLevel.person_id)
                        .where(SupportLevel.team_id == team_id, SupportLevel.level == kind)
                        .order_by(SupportLevel.position)
                    )
                ),
            )
        )
    if kind == "slot":
        other_team, _, slot = ref.partition("/")
        now = _on_call(session, other_team, at)
        person = now[slot].person if slot in now else None
        return [person] if person else []
    now = _on_call(session, team_id, at)
    slots = list(now)
    primary_slot = discipline if discipline in now else (slots[0] if slots else None)
    if kind == "primary":
        chosen = [primary_slot] if primary_slot else []
    elif kind == "secondary":
        chosen = [s for s in slots if s != primary_slot]
    else:  # team
        chosen = slots
    seen: list[str] = []
    for slot in chosen:
        person = now[slot].person
        if person and person not in seen:
            seen.append(person)
    return seen


# --- overrides, swaps, time off ---------------------------------------------------------------


def _check_window(start: datetime, end: datetime, longest: timedelta | None) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start and end need a time zone offset", "start")
    if end <= start:
        raise InvalidInput("end must be after start", "end")
    if longest is not None and end - start > longest:
        raise InvalidInput(
            f"the window is longer than the most allowed, {format_duration(longest)}", "end"
        )


def list_overrides(
    session: Session,
    *,
    team_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Override]:
    query = select(Override).order_by(Override.start, Override.id)
    if team_id:
        query = query.where(Override.team_id == team_id)
    if start:
        query = query.where(Override.end > start)
    if end:
        query = query.where(Override.start < end)
    return list(session.scalars(query))


def _window(row: Override | TimeOff) -> dict[str, str]:
    return {"start": row.start.isoformat(), "end": row.end.isoformat()}


def _override_doc(row: Override) -> dict[str, str | None]:
    return {"team": row.team_id, "slot": row.slot, "person": row.person_id, **_window(row)}


def create_override(
    session: Session,
    *,
    team_id: str,
    slot: str,
    person_id: str,
    start: datetime,
    end: datetime,
    now: datetime,
    reason: str | None = None,
    created_by: str | None = None,
    audited: bool = True,
    longest: timedelta | None = None,
) -> Override:
    """Give `slot` to `person_id` for [start, end); `created_by` is the actor. A swap passes
    `audited=False`: it records its two overrides as one change.

    Raises:
        InvalidInput: the window is empty or longer than `longest` (no limit when None).
        Conflict: another override already holds an overlapping part of the same slot.
    """
    _check_window(start, end, longest)
    rota = _rota(session, team_id, lock=True)
    if slot not in {s.name for s in rota.slots}:
        raise NotFound(f"team {team_id!r} has no slot {slot!r}", "slot")
    if session.get(Person, person_id) is None:
        raise NotFound(f"no person with id {person_id!r}", "person")
    clash = session.scalars(
        select(Override).where(
            Override.team_id == team_id,
            Override.slot == slot,
            Override.start < end,
            Override.end > start,
        )
    ).first()
    if clash is not None:
        raise Conflict(
            f"override {clash.id} already gives {team_id}/{slot} to {clash.person_id} from "
            f"{clash.start:%Y-%m-%d %H:%M}Z to {clash.end:%Y-%m-%d %H:%M}Z",
            "start",
        )
    row = Override(
        team_id=team_id,
        slot=slot,
        person_id=person_id,
        start=start,
        end=end,
        reason=reason,
        created_by=created_by,
        created_at=now,
        managed=False,
    )
    _changed(session)
    session.add(row)
    session.flush()
    if audited:
        audit.record(
            session,
            actor=created_by or audit.SYSTEM,
            action="override.create",
            object_type="override",
            object_id=str(row.id),
            at=now,
            after={**_override_doc(row), "reason": reason},
        )
    return row


def delete_override(session: Session, *, override_id: int, actor: str, now: datetime) -> Override:
    row = session.get(Override, override_id)
    if row is None:
        raise NotFound(f"no override with id {override_id}", "id")
    _changed(session)
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="override.remove",
        object_type="override",
        object_id=str(override_id),
        at=now,
        before=_override_doc(row),
    )
    return row


def swap(
    session: Session,
    *,
    team_id: str,
    slot: str,
    first: datetime,
    second: datetime,
    now: datetime,
    created_by: str | None = None,
    longest: timedelta | None = None,
) -> tuple[Override, Override]:
    """Exchange the shifts of `slot` that cover instants `first` and `second`, atomically:
    each person takes the other's whole shift, as two overrides in the caller's transaction
    and one audit record (a person asked for one swap), each no longer than `longest`."""
    schedule = load_schedule(
        session, team_id=team_id, start=min(first, second), end=max(first, second)
    )
    if slot not in {s.name for s in schedule.rota.slots}:
        raise NotFound(f"team {team_id!r} has no slot {slot!r}", "slot")
    a = schedule.on_call_at(first)[slot]
    b = schedule.on_call_at(second)[slot]
    if a.person is None or b.person is None:
        raise InvalidInput("nobody is on call in one of the two shifts", "first")
    if a.start == b.start or a.person == b.person:
        raise InvalidInput("pick two shifts held by two different people", "second")
    reason = f"swap {a.person} <-> {b.person}"
    one = create_override(
        session,
        team_id=team_id,
        slot=slot,
        person_id=b.person,
        start=a.start,
        end=a.end,
        now=now,
        reason=reason,
        created_by=created_by,
        audited=False,
        longest=longest,
    )
    two = create_override(
        session,
        team_id=team_id,
        slot=slot,
        person_id=a.person,
        start=b.start,
        end=b.end,
        now=now,
        reason=reason,
        created_by=created_by,
        audited=False,
        longest=longest,
    )
    audit.record(
        session,
        actor=created_by or audit.SYSTEM,
        action="override.swap",
        object_type="override",
        object_id=f"{one.id},{two.id}",
        at=now,
        after={"overrides": [_override_doc(one), _override_doc(two)]},
    )
    return one, two


def create_time_off(
    session: Session,
    *,
    person_id: str,
    start: datetime,
    end: datetime,
    now: datetime,
    reason: str | None = None,
    created_by: str | None = None,
    longest: timedelta | None = None,
) -> TimeOff:
    """Take `person_id` off every rota for [start, end), no longer than `longest` if given;
    `created_by` is the actor, stored with the row and in its audit record."""
    _check_window(start, end, longest)
    if session.get(Person, person_id) is None:
        raise NotFound(f"no person with id {person_id!r}", "person")
    row = TimeOff(
        person_id=person_id,
        start=start,
        end=end,
        reason=reason,
        created_by=created_by,
        created_at=now,
        managed=False,
    )
    _changed(session)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=created_by or audit.SYSTEM,
        action="time_off.create",
        object_type="time_off",
        object_id=str(row.id),
        at=now,
        after={"person": person_id, **_window(row), "reason": reason},
    )
    return row


def fairness(
    session: Session, *, team_id: str, start: datetime, end: datetime
) -> dict[str, rotation.FairnessRow]:
    """Per person: hours on call, outside the organisation's working hours, at weekends."""
    schedule = load_schedule(session, team_id=team_id, start=start, end=end)
    org = session.scalars(select(Organization)).first()
    days = org.working_days if org else ["mon", "tue", "wed", "thu", "fri"]
    hours = spec.window(
        days, org.working_start if org else "09:00", org.working_end if org else "18:00"
    )
    return rotation.fairness(
        schedule.rota,
        start,
        end,
        schedule.overrides,
        schedule.time_off,
        working_hours=hours,
        zone=org.timezone if org else None,
    )


def handoffs(
    session: Session, *, team_id: str, start: datetime, end: datetime
) -> Sequence[rotation.Handoff]:
    """Every change of on-call person in [start, end), for `oncall.shift_started` notices."""
    schedule = load_schedule(session, team_id=team_id, start=start, end=end)
    return schedule.index.handoffs(start, end)
