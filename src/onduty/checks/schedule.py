"""When a checklist falls due: its occurrences are local dates in the team's zone, due at the
check's `at` and late after its `deadline`, turned into UTC by the rota's rule for local times
(`localtime.local_to_utc`), so they are exact across DST changes. Pure: no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from onduty import localtime


@dataclass(frozen=True)
class Occurrence:
    day: date  # the local date
    due: datetime  # UTC
    deadline: datetime  # UTC


def _days(spec: dict[str, Any]) -> set[int]:
    days = spec.get("days")
    return set(range(7)) if not days else {localtime.WEEKDAYS[d] for d in days}


def occurrence(spec: dict[str, Any], zone: str, day: date) -> Occurrence:
    hour, minute = (int(x) for x in spec["at"].split(":"))
    due = localtime.local_to_utc(day, time(hour, minute), localtime.zone(zone))
    return Occurrence(day, due, due + timedelta(seconds=spec["deadline_s"]))


def occurrences(
    spec: dict[str, Any], zone: str, start: datetime, end: datetime
) -> list[Occurrence]:
    """The occurrences due in [start, end)."""
    days = _days(spec)
    first = localtime.to_local(start, zone).date() - timedelta(days=1)
    last = localtime.to_local(end, zone).date() + timedelta(days=1)
    out = []
    day = first
    while day <= last:
        if day.weekday() in days:
            occ = occurrence(spec, zone, day)
            if start <= occ.due < end:
                out.append(occ)
        day += timedelta(days=1)
    return out


def current(spec: dict[str, Any], zone: str, now: datetime) -> Occurrence | None:
    """The occurrence people tick now: today's (local) if today is a check day, else the last
    one before; None if none within a week (a checklist with no days cannot exist)."""
    days = _days(spec)
    today = localtime.to_local(now, zone).date()
    for back in range(8):
        day = today - timedelta(days=back)
        if day.weekday() in days:
            return occurrence(spec, zone, day)
    return None
