"""Pure rota arithmetic, exact across daylight-saving changes: handoff instants, a slot's shifts
with overrides and time off, who is on call at an instant, handoff events and fairness.
No database and no clock: every instant is passed in, and every instant returned is aware UTC.
Local wall-clock times become instants by `onduty.localtime`'s one rule for DST gaps and folds."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from onduty import localtime

# The smallest step a datetime can take: "the instant just before t" is t - _TICK, exactly.
_TICK = timedelta(microseconds=1)
_PERIOD_CACHE = 4096  # rotation periods a Schedule remembers for on_call_at (~80 years weekly)


@dataclass(frozen=True)
class Window:
    """A recurring window in local time. `days` are the days it starts on (0 = Monday); when
    `end <= start` it runs past midnight into the next day (`start == end` is a whole day)."""

    days: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class SlotSpec:
    name: str
    people: tuple[str, ...]
    windows: tuple[Window, ...] = ()  # empty: on call around the clock


@dataclass(frozen=True)
class RotaSpec:
    """A team's rota. Handoff k is at `handoff_time` on local date `first + k * length` in
    `timezone`, where `first` is `start` moved forward to `handoff_weekday` when `length` is a
    whole number of weeks (and `start` itself for other lengths, whose weekday is then unused).
    Slot lists start at their first entry at handoff 0; before it nobody is on call."""

    timezone: str
    handoff_weekday: int
    handoff_time: time
    start: date
    length: timedelta
    slots: tuple[SlotSpec, ...]

    def __post_init__(self) -> None:
        # Anything else would make period arithmetic loop or divide by zero later on.
        if self.length <= timedelta(0) or self.length % timedelta(days=1):
            raise ValueError(f"rota length must be a positive whole number of days: {self.length}")
        if not 0 <= self.handoff_weekday <= 6:
            raise ValueError(f"handoff weekday must be 0..6: {self.handoff_weekday}")


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
    """`person` None is a gap (intended outside a slot's windows, or nobody to cover);
    `source` is "rota", "override" or "cover"."""

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
    # Who held the slot just before (None: nobody); not part of equality, so a handoff is
    # still identified by slot, person and instant.
    previous: str | None = field(default=None, compare=False)


@dataclass
class FairnessRow:
    hours: float = 0.0
    off_hours: float = 0.0  # outside working hours
    weekend_hours: float = 0.0  # local Saturday and Sunday
    shifts: int = 0  # shift rows held (a rota week cut by an override counts per piece)
    overrides_given: int = 0  # overrides that took time from this person's base shift
    overrides_taken: int = 0  # overrides this person holds
    override_hours_given: float = 0.0
    override_hours_taken: float = 0.0


def _utc(value: datetime) -> datetime:
    # A naive datetime would be read as the host's local time by astimezone(): refuse it.
    if value.tzinfo is None:
        raise ValueError(f"naive datetime, expected an aware one: {value.isoformat()}")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


# --- handoffs ---------------------------------------------------------------------------------


def _first_day(rota: RotaSpec) -> date:
    if rota.length.days % 7 == 0:
        return rota.start + timedelta(days=(rota.handoff_weekday - rota.start.weekday()) % 7)
    return rota.start


def handoff_instants(rota: RotaSpec, start: datetime, end: datetime) -> list[datetime]:
    """Every handoff instant in [start, end), from the rota's first handoff on."""
    return Schedule(rota).handoff_instants(start, end)


# --- intervals --------------------------------------------------------------------------------

Segment = tuple[datetime, datetime, str | None, str]  # start, end, person, source
Interval = tuple[datetime, datetime]


def _window_intervals(
    windows: Iterable[Window], zone: ZoneInfo, start: datetime, end: datetime
) -> list[Interval]:
    """The UTC intervals of recurring local windows, clipped to [start, end) and merged."""
    windows = tuple(windows)
    # A window may start the local day before `start` and run past midnight into it.
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    out: list[Interval] = []
    while day <= last:
        for w in windows:
            if day.weekday() in w.days:
                a = localtime.local_to_utc(day, w.start, zone)
                end_day = day + timedelta(days=1) if w.end <= w.start else day
                b = localtime.local_to_utc(end_day, w.end, zone)
                if b > start and a < end:
                    out.append((max(a, start), min(b, end)))
        day += timedelta(days=1)
    out.sort()
    merged: list[Interval] = []
    for a, b in out:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _overlap(a: datetime, b: datetime, intervals: Sequence[Interval]) -> float:
    """Seconds of [a, b) inside the sorted, disjoint `intervals`."""
    total = 0.0
    i = bisect.bisect_right(intervals, (a, a)) - 1
    for x, y in intervals[max(i, 0) :]:
        if x >= b:
            break
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


def _start_and_order(entry: tuple[datetime, int, Override]) -> tuple[datetime, int]:
    return entry[0], entry[1]


# --- the schedule -----------------------------------------------------------------------------


class Schedule:
    """A rota with its overrides and time off, indexed once so that repeated questions are
    cheap. Later overrides in the sequence beat earlier ones where they overlap.

    A shift never crosses a rotation handoff: within one rotation period, adjacent pieces with
    the same person and source are merged; across a handoff they stay separate, so that
    `on_call_at` and `shifts` always agree on a shift's start and end."""

    def __init__(
        self,
        rota: RotaSpec,
        overrides: Sequence[Override] = (),
        time_off: Sequence[TimeOff] = (),
    ) -> None:
        self.rota = rota
        self.overrides = tuple(
            o
            if o.start.tzinfo is UTC and o.end.tzinfo is UTC
            else Override(o.slot, o.person, _utc(o.start), _utc(o.end))
            for o in overrides
        )
        self.time_off = tuple(
            t
            if t.start.tzinfo is UTC and t.end.tzinfo is UTC
            else TimeOff(t.person, _utc(t.start), _utc(t.end))
            for t in time_off
        )
        self._zone = localtime.zone(rota.timezone)
        self._first = _first_day(rota)
        self._days = rota.length.days
        self._handoffs: dict[int, datetime] = {}
        # Whole rotation periods already worked out by on_call_at, per (slot, k): the engine asks
        # about "now" over and over, and a Schedule never changes once built.
        self._periods: dict[tuple[str, int], list[Shift]] = {}
        self._slots = {s.name: s for s in rota.slots}
        # Per slot: overrides sorted by start (then by order, for "later wins"), their starts
        # for bisect, and the longest one, which bounds how far back one can reach.
        self._by_slot: dict[str, list[tuple[datetime, int, Override]]] = {
            n: [] for n in self._slots
        }
        self._longest: dict[str, timedelta] = dict.fromkeys(self._slots, _TICK)
        for order, o in enumerate(self.overrides):
            if o.slot in self._by_slot and o.end > o.start:
                self._by_slot[o.slot].append((o.start, order, o))
                if o.end - o.start > self._longest[o.slot]:
                    self._longest[o.slot] = o.end - o.start
        self._starts: dict[str, list[datetime]] = {}
        for name, entries in self._by_slot.items():
            entries.sort(key=_start_and_order)
            self._starts[name] = [e[0] for e in entries]
        self._off_by_person: dict[str, list[Interval]] = {}
        for t in self.time_off:
            if t.end > t.start:
                self._off_by_person.setdefault(t.person, []).append((t.start, t.end))
        for intervals in self._off_by_person.values():
            intervals.sort()
        self._slot_has_off = {
            name: any(p in self._off_by_person for p in s.people) for name, s in self._slots.items()
        }

    # --- handoffs ---

    def handoff(self, k: int) -> datetime:
        """The k-th handoff instant (k may be negative: the would-be earlier ones)."""
        found = self._handoffs.get(k)
        if found is None:
            day = self._first + timedelta(days=k * self._days)
            found = self._handoffs[k] = localtime.local_to_utc(
                day, self.rota.handoff_time, self._zone
            )
        return found

    def period(self, at: datetime) -> int:
        """The k such that handoff k <= at < handoff k + 1."""
        at = _utc(at)
        # A guess from whole days, then corrected by the DST hour or so it can be off by.
        k = (at - self.handoff(0)) // timedelta(days=self._days)
        while self.handoff(k) > at:
            k -= 1
        while self.handoff(k + 1) <= at:
            k += 1
        return k

    def handoff_instants(self, start: datetime, end: datetime) -> list[datetime]:
        """Every handoff instant in [start, end), from the rota's first handoff on."""
        start, end = _utc(start), _utc(end)
        k = max(self.period(start), 0)
        out = []
        while (at := self.handoff(k)) < end:
            if at >= start:
                out.append(at)
            k += 1
        return out

    # --- indexes ---

    def _overrides_in(self, slot: str, start: datetime, end: datetime) -> list[Override]:
        """The slot's overrides touching [start, end), in the order they were given."""
        entries = self._by_slot[slot]
        if not entries:
            return []
        starts = self._starts[slot]
        lo = bisect.bisect_right(starts, start - self._longest[slot])
        hi = bisect.bisect_left(starts, end)
        hits = [e for e in entries[lo:hi] if e[2].end > start]
        hits.sort(key=lambda e: e[1])
        return [e[2] for e in hits]

    def _off(self, person: str, start: datetime, end: datetime) -> list[Interval]:
        return [(a, b) for a, b in self._off_by_person.get(person, ()) if b > start and a < end]

    # --- shifts ---

    def shifts(self, slot: str, start: datetime, end: datetime) -> list[Shift]:
        """The shifts of `slot` covering [start, end) exactly: sorted, contiguous, no overlap,
        split at every handoff and wherever the person or the source changes."""
        start, end = _utc(start), _utc(end)
        spec = self._slots[slot]
        out: list[Shift] = []
        if end <= start:
            return out
        k = self.period(start)
        while True:
            a, b = max(self.handoff(k), start), min(self.handoff(k + 1), end)
            for s, e, p, src in self._period_segments(spec, k, a, b):
                if out and s != a and out[-1].person == p and out[-1].source == src:
                    out[-1] = Shift(slot, p, out[-1].start, e, src)
                else:
                    out.append(Shift(slot, p, s, e, src))
            if b >= end:
                return out
            k += 1

    def _period_segments(self, spec: SlotSpec, k: int, a: datetime, b: datetime) -> list[Segment]:
        """[a, b), a part of rotation period k, as segments: rota, then windows, then cover for
        time off, then overrides on top (an override is a person's explicit word; it beats
        their time off)."""
        people = spec.people
        index = k % len(people) if k >= 0 and people else None
        person = None if index is None else people[index]
        segments: list[Segment] = [(a, b, person, "rota")]
        if spec.windows:
            segments = [(a, b, None, "rota")]
            for x, y in _window_intervals(spec.windows, self._zone, a, b):
                segments = _overlay(segments, x, y, person, "rota")
        if index is not None and self._slot_has_off[spec.name]:
            segments = self._cover(spec, index, segments)
        for o in self._overrides_in(spec.name, a, b):
            segments = _overlay(segments, max(o.start, a), min(o.end, b), o.person, "override")
        return [seg for seg in segments if seg[1] > seg[0]]

    def _cover(self, spec: SlotSpec, index: int, segments: list[Segment]) -> list[Segment]:
        """Time off: the next person after `index` in the slot's list who is not off covers;
        nobody -> a gap (person None, source "cover")."""
        p = spec.people[index]
        order = [q for q in spec.people[index + 1 :] + spec.people[:index] if q != p]
        out: list[Segment] = []
        for s, e, who, src in segments:
            if who is None or not self._off(who, s, e):
                out.append((s, e, who, src))
                continue
            # Cut wherever anyone in the slot starts or ends time off, so that within each piece
            # everyone's availability is constant.
            cuts = {s, e}
            for q in spec.people:
                for x, y in self._off(q, s, e):
                    cuts.update(t for t in (x, y) if s < t < e)
            for x, y in pairwise(sorted(cuts)):
                if not self._off(who, x, y):
                    out.append((x, y, who, src))
                else:
                    cover = next((q for q in order if not self._off(q, x, y)), None)
                    out.append((x, y, cover, "cover"))
        return out

    def on_call_at(self, at: datetime) -> dict[str, Shift]:
        """Per slot, the shift covering `at`, with its whole extent (within its rotation
        period: see the class docstring)."""
        at = _utc(at)
        k = self.period(at)
        a, b = self.handoff(k), self.handoff(k + 1)
        out = {}
        for name, spec in self._slots.items():
            plain = (
                not spec.windows
                and not (self._slot_has_off[name] and self._any_off(spec.people, a, b))
                and not self._overrides_in(name, a, b)
            )
            if plain:
                people = spec.people
                person = people[k % len(people)] if k >= 0 and people else None
                out[name] = Shift(name, person, a, b, "rota")
            else:
                period = self._periods.get((name, k))
                if period is None:
                    if len(self._periods) >= _PERIOD_CACHE:
                        self._periods.clear()
                    period = self._periods[(name, k)] = self.shifts(name, a, b)
                out[name] = next(s for s in period if s.start <= at < s.end)
        return out

    def _any_off(self, people: Iterable[str], start: datetime, end: datetime) -> bool:
        return any(self._off(p, start, end) for p in people)

    def handoffs(self, start: datetime, end: datetime) -> list[Handoff]:
        """Every instant in [start, end) where a slot's on-call person changes to someone (not to
        nobody), sorted by instant and then by the slot's place in the rota."""
        start, end = _utc(start), _utc(end)
        out: list[tuple[datetime, int, Handoff]] = []
        for position, slot in enumerate(self.rota.slots):
            previous: str | None = None
            # Start one tick early: the first shift then tells who held the slot just before.
            for shift in self.shifts(slot.name, start - _TICK, end):
                if shift.start >= start and shift.person is not None and shift.person != previous:
                    out.append(
                        (
                            shift.start,
                            position,
                            Handoff(slot.name, shift.person, shift.start, previous),
                        )
                    )
                previous = shift.person
        return [h for _, _, h in sorted(out, key=lambda e: (e[0], e[1]))]


# --- module-level questions -------------------------------------------------------------------
# Each builds a Schedule; callers asking many questions of one rota should hold a Schedule.


def shifts(
    rota: RotaSpec,
    slot: str,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
    time_off: Sequence[TimeOff] = (),
) -> list[Shift]:
    """The slot's shifts over [start, end) with overrides and time off applied."""
    return Schedule(rota, overrides, time_off).shifts(slot, start, end)


def rota_shifts(rota: RotaSpec, slot: str, start: datetime, end: datetime) -> list[Shift]:
    """The rotation alone (with windows), without overrides or time off."""
    return Schedule(rota).shifts(slot, start, end)


def on_call_at(
    rota: RotaSpec,
    at: datetime,
    overrides: Sequence[Override] = (),
    time_off: Sequence[TimeOff] = (),
) -> dict[str, Shift]:
    """Per slot, the shift covering `at`."""
    return Schedule(rota, overrides, time_off).on_call_at(at)


def handoffs(
    rota: RotaSpec,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
    time_off: Sequence[TimeOff] = (),
) -> list[Handoff]:
    """Every instant in [start, end) where a slot's on-call person changes to someone."""
    return Schedule(rota, overrides, time_off).handoffs(start, end)


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
    """Per person over [start, end): hours on call, of which outside `working_hours` and at
    weekends (local Saturday and Sunday, both in `zone`, default the rota's), shift rows, and
    overrides given (time an override took from their shift with time off applied) and taken."""
    start, end = _utc(start), _utc(end)
    tz = localtime.zone(zone or rota.timezone)
    working = _window_intervals([working_hours], tz, start, end)
    weekend = _window_intervals([Window(frozenset({5, 6}), time(0), time(0))], tz, start, end)
    schedule = Schedule(rota, overrides, time_off)
    base = Schedule(rota, (), time_off)
    rows: dict[str, FairnessRow] = {p: FairnessRow() for s in rota.slots for p in s.people}
    slot_names = {s.name for s in rota.slots}

    def row(person: str) -> FairnessRow:
        return rows.setdefault(person, FairnessRow())

    for slot in rota.slots:
        final = schedule.shifts(slot.name, start, end)
        for shift in final:
            if shift.person is None:
                continue
            r = row(shift.person)
            seconds = (shift.end - shift.start).total_seconds()
            r.hours += seconds / 3600
            r.off_hours += (seconds - _overlap(shift.start, shift.end, working)) / 3600
            r.weekend_hours += _overlap(shift.start, shift.end, weekend) / 3600
            r.shifts += 1
            if shift.source == "override":
                r.override_hours_taken += seconds / 3600
        # Hours given: walk both timelines together; where the final one is an override and
        # the base one had someone else, that someone gave those hours.
        before = base.shifts(slot.name, start, end)
        i = j = 0
        while i < len(final) and j < len(before):
            f, g = final[i], before[j]
            lo, hi = max(f.start, g.start), min(f.end, g.end)
            if hi > lo and f.source == "override" and g.person is not None and g.person != f.person:
                row(g.person).override_hours_given += (hi - lo).total_seconds() / 3600
            if f.end <= g.end:
                i += 1
            else:
                j += 1
    for o in schedule.overrides:
        lo, hi = max(o.start, start), min(o.end, end)
        if hi <= lo or o.slot not in slot_names:
            continue
        row(o.person).overrides_taken += 1
        displaced = {s.person for s in base.shifts(o.slot, lo, hi)} - {None, o.person}
        for person in sorted(p for p in displaced if p is not None):
            row(person).overrides_given += 1
    return rows
