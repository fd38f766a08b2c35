"""Lint checks that need the rota arithmetic: gaps in the next weeks (e.g. through time off), a
person on call in two teams at once, and more consecutive shifts than a team allows. A rota that
has not started yet is simply not on call: a notice, unless a service would then page nobody."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from onduty import localtime
from onduty.policy.derive import person_zone, team_zone
from onduty.policy.loader import PathT
from onduty.policy.schema import LEVELS, PolicyFile, TeamIn
from onduty.schedules import rotation
from onduty.schedules.spec import hhmm, window

HORIZON = timedelta(weeks=8)
Say = Callable[[PathT, str], None]


def specs(policy: PolicyFile) -> dict[str, rotation.RotaSpec]:
    """Each team's rota as the arithmetic's RotaSpec."""
    out = {}
    for team in policy.teams:
        if team.rota is None:
            continue
        out[team.id] = rotation.RotaSpec(
            timezone=team_zone(policy, team),
            handoff_weekday=localtime.WEEKDAYS[team.rota.handoff.day],
            handoff_time=hhmm(team.rota.handoff.time),
            start=team.rota.start,
            length=team.rota.length,
            slots=tuple(
                rotation.SlotSpec(
                    name=name,
                    people=tuple(slot.people),
                    windows=tuple(window(list(w.days), w.start, w.end) for w in slot.windows),
                )
                for name, slot in team.rota.slots.items()
            ),
        )
    return out


def check(policy: PolicyFile, error: Say, warning: Say, notice: Say, *, now: datetime) -> None:
    """Report coverage problems in [now, now + 8 weeks). Skips teams that earlier checks flag."""
    known = {p.id for p in policy.people}
    people = {p.id: p for p in policy.people}
    start, end = now, now + HORIZON
    time_off = tuple(
        rotation.TimeOff(
            person=t.person,
            start=localtime.to_utc(t.start, person_zone(policy, people.get(t.person))),
            end=localtime.to_utc(t.end, person_zone(policy, people.get(t.person))),
        )
        for t in policy.time_off
        if t.end > t.start
    )
    busy: list[tuple[str, str, rotation.Shift]] = []  # (team index path, team id, shift)
    waiting = {t for t, spec in specs(policy).items() if _first(spec) > now}
    for ti, team in enumerate(policy.teams):
        if team.rota is None or any(
            not s.people or set(s.people) - known for s in team.rota.slots.values()
        ):
            continue  # already an error; the arithmetic would only repeat it
        spec = specs(policy)[team.id]
        zone = spec.timezone
        overrides = tuple(
            rotation.Override(
                slot=o.slot,
                person=o.person,
                start=localtime.to_utc(o.start, zone),
                end=localtime.to_utc(o.end, zone),
            )
            for o in policy.overrides
            if o.team == team.id and o.slot in team.rota.slots and o.end > o.start
        )
        first = _first(spec)
        # Past the rota's start and everyone's time off, the rota names somebody: a gap that
        # reaches the end of the 8 weeks is followed that far, to name its real end.
        settled = max([end, first, *(t.end for t in time_off)]) + spec.length
        for name, slot in team.rota.slots.items():
            shifts = rotation.shifts(spec, name, start, end, overrides, time_off)
            path: PathT = ("teams", ti, "rota", "slots", name)
            if not slot.windows:
                gaps = _gaps(rotation.shifts(spec, name, start, settled, overrides, time_off))
                gaps = [(a, b) for a, b in gaps if a < end]
                where = f"team {team.id!r} slot {name!r} has nobody on call from"
                early = next(((a, b) for a, b in gaps if b <= first), None)
                if early is not None:
                    a, b = early
                    starts = "" if b == first else f" at {localtime.plain(first, zone)}"
                    message = f"{where} {localtime.plain(a, zone)} to {localtime.plain(b, zone)}"
                    message += f" (before its rota starts{starts})"
                    # Not on call yet: a notice, unless a service would then page nobody.
                    silent = _paging_nobody(policy, team.id, name, waiting)
                    if silent:
                        error(path, f"{message}: {' and '.join(silent)} would page nobody")
                    else:
                        notice(path, message)
                later = next(((a, b) for a, b in gaps if b > first), None)
                if later is not None:
                    a, b = later
                    then = "before its rota starts, then " if a < first else ""
                    error(
                        path,
                        f"{where} {localtime.plain(a, zone)} to {localtime.plain(b, zone)} "
                        f"({then}time off with nobody to cover)",
                    )
            busy.extend((f"{ti}", team.id, s) for s in shifts if s.person)
            limit = team.rota.max_consecutive
            if limit:
                _consecutive(spec, name, shifts, limit, team.id, path, warning, zone)
    _two_teams(busy, policy, error)


def _gaps(shifts: list[rotation.Shift]) -> list[tuple[datetime, datetime]]:
    """Each stretch with nobody on call, whole: shifts are cut at every handoff."""
    out: list[tuple[datetime, datetime]] = []
    for s in shifts:
        if s.person is not None:
            continue
        if out and out[-1][1] == s.start:
            out[-1] = (out[-1][0], s.end)
        else:
            out.append((s.start, s.end))
    return out


def _paging_nobody(policy: PolicyFile, team_id: str, slot: str, waiting: set[str]) -> list[str]:
    """The services that rely on this team (or name this slot) whose escalation policy would
    reach nobody while the rotas of the `waiting` teams have not started."""
    teams = {t.id: t for t in policy.teams}
    people = {p.id for p in policy.people}
    policies = {p.id: p for p in policy.escalation_policies}
    out = []
    for service in policy.services:
        ep = policies.get(service.escalation_policy or "")
        if ep is None:
            continue  # an error of its own
        targets = [t for step in ep.steps for t in step.notify]
        if service.team != team_id and f"slot:{team_id}/{slot}" not in targets:
            continue
        team = teams.get(service.team)
        if not any(_reaches(t, team, people, waiting) for t in targets):
            out.append(f"service {service.id!r} (escalation policy {ep.id!r})")
    return out


def _reaches(target: str, team: TeamIn | None, people: set[str], waiting: set[str]) -> bool:
    """Whether an escalation target of `team`'s service can name somebody before the rotas of
    the `waiting` teams start."""
    kind, _, ref = target.partition(":")
    if kind == "person":
        return ref in people
    if kind in LEVELS:
        return team is not None and bool(getattr(team.support, kind))
    if kind == "slot":
        return ref.partition("/")[0] not in waiting
    return team is not None and team.id not in waiting  # primary, secondary, team


def _first(spec: rotation.RotaSpec) -> datetime:
    return rotation.handoff_instants(spec, *_around(spec))[0]


def _around(spec: rotation.RotaSpec) -> tuple[datetime, datetime]:
    begin = localtime.local_to_utc(spec.start, spec.handoff_time, localtime.zone(spec.timezone))
    return begin - timedelta(days=1), begin + timedelta(days=spec.length.days + 1)


def _consecutive(
    spec: rotation.RotaSpec,
    slot: str,
    shifts: list[rotation.Shift],
    limit: int,
    team: str,
    path: PathT,
    warning: Say,
    zone: str,
) -> None:
    # Count rotation periods in a row in which the same person holds the slot at the handoff.
    if not shifts:
        return
    instants = rotation.handoff_instants(spec, shifts[0].start, shifts[-1].end)
    holders = []
    for at in instants:
        holder = next((s.person for s in shifts if s.start <= at < s.end), None)
        holders.append(holder)
    run, previous = 0, None
    for at, holder in zip(instants, holders, strict=True):
        run = run + 1 if holder is not None and holder == previous else 1
        previous = holder
        if holder is not None and run > limit:
            warning(
                path,
                f"team {team!r} slot {slot!r}: {holder} is on call {run} periods in a row from "
                f"{localtime.plain(at, zone)}, more than max_consecutive: {limit}",
            )
            return


def _two_teams(busy: list[tuple[str, str, rotation.Shift]], policy: PolicyFile, error: Say) -> None:
    by_person: dict[str, list[tuple[str, str, rotation.Shift]]] = {}
    for entry in busy:
        assert entry[2].person is not None
        by_person.setdefault(entry[2].person, []).append(entry)
    people = {p.id: i for i, p in enumerate(policy.people)}
    for person, entries in by_person.items():
        entries.sort(key=lambda e: e[2].start)
        for i, (_, team_a, a) in enumerate(entries):
            clash = next(
                (
                    (team_b, b)
                    for _, team_b, b in entries[i + 1 :]
                    if team_b != team_a and b.start < a.end and a.start < b.end
                ),
                None,
            )
            if clash is not None:
                team_b, b = clash
                when = max(a.start, b.start)
                error(
                    ("people", people.get(person, 0), "id"),
                    f"{person} is on call in two teams at once ({team_a}/{a.slot} and "
                    f"{team_b}/{b.slot}) from {localtime.plain(when, 'UTC')}Z",
                )
                break
