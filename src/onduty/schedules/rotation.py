"""Pure rota arithmetic, exact across daylight-saving changes: handoff instants, the shifts of a
slot in any window with overrides and time off applied, who is on call at an instant, handoff
events and the fairness of a rota. No database and no clock: every instant is passed in."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Window:
    """A recurring local window; `end <= start` runs past midnight into the next day."""

    days: frozenset[int]  # 0 = Monday
    start: time
    end: time


@dataclass(frozen=True)
class SlotSpec:
    name: str
    people: tuple[str, ...]
    windows: tuple[Window, ...] = ()  # empty: on call around the clock


@dataclass(frozen=True)
class RotaSpec:
    """A team's rota. Handoffs happen at `handoff_time` in `timezone` every `length` (whole
    days) from `start`; for weekly lengths `start` is moved forward to `handoff_weekday`."""

    timezone: str
    handoff_weekday: int
    handoff_time: time
    start: date
    length: timedelta
    slots: tuple[SlotSpec, ...]


@dataclass(frozen=True)
class Override:
    slot: str
    person: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class TimeOff:
    person: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Shift:
    """`person` None is an intended or unintended gap; `source` is rota, override or cover."""

    slot: str
    person: str | None
    start: datetime
    end: datetime
    source: str


@dataclass(frozen=True)
class Handoff:
    slot: str
    person: str
    at: datetime


@dataclass
class FairnessRow:
    hours: float = 0.0
    off_hours: float = 0.0
    weekend_hours: float = 0.0
    shifts: int = 0
    overrides_given: int = 0
    overrides_taken: int = 0


# --- local time --------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local date and wall time.

    A time inside a spring-forward gap does not exist: it moves to the next valid instant, the
    end of the gap. An ambiguous time in a fall-back fold takes its first occurrence.
    """
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # In a gap: fold=1 reads it with the later offset, giving an earlier UTC instant; the
    # transition lies between the two readings. Find it to the second.
    lo = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = first
    before = lo.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi


# --- handoffs ---------------------------------------------------------------------------------


def _first_day(rota: RotaSpec) -> date:
    if rota.length.days % 7 == 0:
        return rota.start + timedelta(days=(rota.handoff_weekday - rota.start.weekday()) % 7)
    return rota.start


@lru_cache(maxsize=65536)
def handoff_at(rota: RotaSpec, k: int) -> datetime:
    """The k-th handoff (k = 0 is the first); negative k are the would-be earlier ones."""
    day = _first_day(rota) + timedelta(days=k * rota.length.days)
    return local_to_utc(day, rota.handoff_time, _zone(rota.timezone))


def period_of(rota: RotaSpec, at: datetime) -> int:
    """The k such that handoff k <= at < handoff k + 1."""
    zero = handoff_at(rota, 0)
    k = int((at - zero) / rota.length)
    while handoff_at(rota, k) > at:
        k -= 1
    while handoff_at(rota, k + 1) <= at:
        k += 1
    return k


def handoff_instants(rota: RotaSpec, start: datetime, end: datetime) -> list[datetime]:
    """Every handoff instant in [start, end), from the first handoff of the rota on."""
    k = max(period_of(rota, start), 0)
    out = []
    if start <= handoff_at(rota, k) < end:
        out.append(handoff_at(rota, k))
    k += 1
    while handoff_at(rota, k) < end:
        out.append(handoff_at(rota, k))
        k += 1
    return out


# --- intervals --------------------------------------------------------------------------------

Segment = tuple[datetime, datetime, str | None, str]  # start, end, person, source


def _window_intervals(
    windows: Iterable[Window], zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The UTC intervals of recurring local windows that touch [start, end), merged."""
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    out: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        for w in windows:
            if day.weekday() in w.days:
                a = local_to_utc(day, w.start, zone)
                end_day = day + timedelta(days=1) if w.end <= w.start else day
                b = local_to_utc(end_day, w.end, zone)
                if b > start and a < end:
                    out.append((max(a, start), min(b, end)))
        day += timedelta(days=1)
    out.sort()
    merged: list[tuple[datetime, datetime]] = []
    for a, b in out:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _overlap(a: datetime, b: datetime, intervals: Sequence[tuple[datetime, datetime]]) -> float:
    total = 0.0
    for x, y in intervals:
        lo, hi = max(a, x), min(b, y)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def _overlay(
    segments: list[Segment], a: datetime, b: datetime, person: str | None, source: str
) -> list[Segment]:
    """Replace whatever covers [a, b) with `person`, cutting the segments at a and b."""
    out: list[Segment] = []
    for s, e, p, src in segments:
        if e <= a or s >= b:
            out.append((s, e, p, src))
            continue
        if s < a:
            out.append((s, a, p, src))
        out.append((max(s, a), min(e, b), person, source))
        if e > b:
            out.append((b, e, p, src))
    return out


# --- the schedule -----------------------------------------------------------------------------


@dataclass
class Schedule:
    """A rota with its overrides and time off, indexed for fast questions."""

    rota: RotaSpec
    overrides: Sequence[Override] = ()
    time_off: Sequence[TimeOff] = ()
    _by_slot: dict[str, list[tuple[datetime, int, Override]]] = field(init=False)
    _longest: timedelta = field(init=False)
    _slots: dict[str, SlotSpec] = field(init=False)

    def __post_init__(self) -> None:
        self._slots = {s.name: s for s in self.rota.slots}
        self._by_slot = {name: [] for name in self._slots}
        longest = timedelta(0)
        for order, o in enumerate(self.overrides):
            if o.slot in self._by_slot and o.end > o.start:
                self._by_slot[o.slot].append((o.start, order, o))
                longest = max(longest, o.end - o.start)
        for entries in self._by_slot.values():
            entries.sort(key=lambda e: (e[0], e[1]))
        self._longest = longest
        self._starts = {name: [e[0] for e in entries] for name, entries in self._by_slot.items()}

    def _overrides_in(self, slot: str, start: datetime, end: datetime) -> list[Override]:
        entries = self._by_slot[slot]
        lo = bisect.bisect_left(self._starts[slot], start - self._longest)
        hi = bisect.bisect_left(self._starts[slot], end)
        hits = [e for e in entries[lo:hi] if e[2].end > start]
        hits.sort(key=lambda e: e[1])  # later in the sequence wins
        return [e[2] for e in hits]

    def _off(self, person: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        return [
            (t.start, t.end)
            for t in self.time_off
            if t.person == person and t.end > start and t.start < end
        ]

    def shifts(self, slot: str, start: datetime, end: datetime) -> list[Shift]:
        """The shifts of `slot` covering [start, end) exactly: contiguous, no overlap, split at
        every handoff and wherever the person or the reason changes."""
        spec = self._slots[slot]
        zone = _zone(self.rota.timezone)
        out: list[Shift] = []
        k = period_of(self.rota, start)
        while True:
            a, b = handoff_at(self.rota, k), handoff_at(self.rota, k + 1)
            a, b = max(a, start), min(b, end)
            person = spec.people[k % len(spec.people)] if k >= 0 and spec.people else None
            segments: list[Segment] = [(a, b, person, "rota")]
            if spec.windows:
                segments = [(a, b, None, "rota")]
                for x, y in _window_intervals(spec.windows, zone, a, b):
                    segments = _overlay(segments, x, y, person, "rota")
            segments = self._cover(spec, segments)
            for o in self._overrides_in(slot, a, b):
                segments = _overlay(segments, max(o.start, a), min(o.end, b), o.person, "override")
            for s, e, p, src in segments:
                if e <= s:
                    continue
                if (
                    out
                    and out[-1].person == p
                    and out[-1].source == src
                    and out[-1].end == s
                    and s != a
                ):
                    out[-1] = Shift(slot, p, out[-1].start, e, src)
                else:
                    out.append(Shift(slot, p, s, e, src))
            if b >= end:
                return out
            k += 1

    def _cover(self, spec: SlotSpec, segments: list[Segment]) -> list[Segment]:
        """Time off: the next person of the slot who is not off covers; nobody -> a gap."""
        if not self.time_off:
            return segments
        out: list[Segment] = []
        for s, e, p, src in segments:
            if p is None or not self._off(p, s, e):
                out.append((s, e, p, src))
                continue
            cuts = {s, e}
            for q in spec.people:
                for x, y in self._off(q, s, e):
                    cuts.update(t for t in (x, y) if s < t < e)
            points = sorted(cuts)
            for x, y in pairwise(points):
                if not self._off(p, x, y):
                    out.append((x, y, p, src))
                    continue
                i = spec.people.index(p)
                order = spec.people[i + 1 :] + spec.people[:i]
                cover = next((q for q in order if q != p and not self._off(q, x, y)), None)
                out.append((x, y, cover, "cover"))
        return out

    def on_call_at(self, at: datetime) -> dict[str, Shift]:
        """Per slot, the shift covering `at` (its whole extent within its rotation period)."""
        k = period_of(self.rota, at)
        a, b = handoff_at(self.rota, k), handoff_at(self.rota, k + 1)
        out = {}
        for slot in self._slots:
            if self._by_slot[slot] or self.time_off or self._slots[slot].windows:
                shift = next(s for s in self.shifts(slot, a, b) if s.start <= at < s.end)
            else:
                people = self._slots[slot].people
                person = people[k % len(people)] if k >= 0 and people else None
                shift = Shift(slot, person, a, b, "rota")
            out[slot] = shift
        return out


# --- module-level questions -------------------------------------------------------------------


def shifts(
    rota: RotaSpec,
    slot: str,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
    time_off: Sequence[TimeOff] = (),
) -> list[Shift]:
    return Schedule(rota, overrides, time_off).shifts(slot, start, end)


def rota_shifts(rota: RotaSpec, slot: str, start: datetime, end: datetime) -> list[Shift]:
    """The rotation alone, without overrides or time off."""
    return Schedule(rota).shifts(slot, start, end)


def on_call_at(
    rota: RotaSpec,
    at: datetime,
    overrides: Sequence[Override] = (),
    time_off: Sequence[TimeOff] = (),
) -> dict[str, Shift]:
    return Schedule(rota, overrides, time_off).on_call_at(at)


def handoffs(
    rota: RotaSpec,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
    time_off: Sequence[TimeOff] = (),
) -> list[Handoff]:
    """Every instant in [start, end) where a slot's on-call person changes to someone."""
    schedule = Schedule(rota, overrides, time_off)
    out: list[tuple[datetime, int, Handoff]] = []
    for position, slot in enumerate(rota.slots):
        previous: str | None = None
        for shift in schedule.shifts(slot.name, start - timedelta(seconds=1), end):
            if shift.start >= start and shift.person is not None and shift.person != previous:
                out.append((shift.start, position, Handoff(slot.name, shift.person, shift.start)))
            previous = shift.person
    return [h for _, _, h in sorted(out, key=lambda e: (e[0], e[1]))]


def fairness(
    rota: RotaSpec,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
    time_off: Sequence[TimeOff] = (),
    *,
    working_hours: Window,
    zone: str | None = None,
) -> dict[str, FairnessRow]:
    """Per person over [start, end): hours on call, of which outside working hours and at
    weekends (local Saturday and Sunday in `zone`, default the rota's), shifts, overrides."""
    tz = _zone(zone or rota.timezone)
    working = _window_intervals([working_hours], tz, start, end)
    weekend = _window_intervals([Window(frozenset({5, 6}), time(0), time(0))], tz, start, end)
    schedule = Schedule(rota, overrides, time_off)
    base = Schedule(rota, (), time_off)
    rows: dict[str, FairnessRow] = {p: FairnessRow() for s in rota.slots for p in s.people}
    for slot in rota.slots:
        for shift in schedule.shifts(slot.name, start, end):
            if shift.person is None:
                continue
            row = rows.setdefault(shift.person, FairnessRow())
            seconds = (shift.end - shift.start).total_seconds()
            row.hours += seconds / 3600
            row.off_hours += (seconds - _overlap(shift.start, shift.end, working)) / 3600
            row.weekend_hours += _overlap(shift.start, shift.end, weekend) / 3600
            row.shifts += 1
    for o in overrides:
        if o.end <= start or o.start >= end or o.slot not in {s.name for s in rota.slots}:
            continue
        rows.setdefault(o.person, FairnessRow()).overrides_taken += 1
        at = max(o.start, start)
        displaced = base.on_call_at(at)[o.slot].person
        if displaced is not None and displaced != o.person:
            rows.setdefault(displaced, FairnessRow()).overrides_given += 1
    return rows
