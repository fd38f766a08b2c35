"""Property tests of the rota arithmetic over random rotas, overrides and time off: shifts tile
the question exactly, on_call_at agrees with shifts, an override changes only its window, and
handoffs land where an independent wall-clock search says they should."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from onduty.schedules.rotation import (
    Override,
    RotaSpec,
    Schedule,
    Shift,
    SlotSpec,
    TimeOff,
    Window,
    handoffs,
    on_call_at,
    shifts,
)

ZONES = ["America/Chicago", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC"]
ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
PROPERTY = settings(max_examples=200, deadline=None)


@st.composite
def rotas(draw: st.DrawFn, windows: bool = False) -> RotaSpec:
    def slot_windows() -> tuple[Window, ...]:
        if not windows or not draw(st.booleans()):
            return ()
        days = frozenset(draw(st.sets(st.integers(0, 6), min_size=1)))
        start = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30])))
        end = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30])))
        return (Window(days, start, end),)

    slots = tuple(
        SlotSpec(f"s{i}", tuple(f"p{i}{j}" for j in range(draw(st.integers(1, 5)))), slot_windows())
        for i in range(draw(st.integers(1, 3)))
    )
    return RotaSpec(
        timezone=draw(st.sampled_from(ZONES)),
        handoff_weekday=draw(st.integers(0, 6)),
        handoff_time=time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45]))),
        start=date(2025, 12, 1) + timedelta(days=draw(st.integers(0, 60))),
        length=timedelta(days=draw(st.sampled_from([1, 7, 14]))),
        slots=slots,
    )


def instants(lo_days: int = 0, hi_days: int = 400) -> st.SearchStrategy[datetime]:
    """Instants on a minute grid: enough to hit DST changes, handoffs and boundaries."""
    return st.integers(lo_days * 1440, hi_days * 1440).map(lambda m: ORIGIN + timedelta(minutes=m))


@st.composite
def overrides(draw: st.DrawFn, spec: RotaSpec, most: int = 6) -> list[Override]:
    out = []
    for i in range(draw(st.integers(0, most))):
        start = draw(instants())
        length = timedelta(minutes=draw(st.integers(1, 20 * 1440)))
        slot = draw(st.sampled_from([s.name for s in spec.slots]))
        person = draw(
            st.sampled_from([f"o{i}", *next(s for s in spec.slots if s.name == slot).people])
        )
        out.append(Override(slot, person, start, start + length))
    return out


@st.composite
def time_offs(draw: st.DrawFn, spec: RotaSpec) -> list[TimeOff]:
    people = [p for s in spec.slots for p in s.people]
    out = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(instants())
        length = timedelta(minutes=draw(st.integers(1, 10 * 1440)))
        out.append(TimeOff(draw(st.sampled_from(people)), start, start + length))
    return out


def holder(got: list[Shift], at: datetime) -> Shift:
    (found,) = [s for s in got if s.start <= at < s.end]
    return found


def wall_clock_handoff(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """An independent oracle: the earliest UTC instant whose local reading is at or after
    `day wall`. That is the first occurrence of an ambiguous time and the end of the gap for a
    nonexistent one. Every zone above changes offset on a whole quarter hour, and handoffs are
    on quarter hours, so a linear walk on the UTC quarter-hour grid finds it exactly."""
    target = datetime.combine(day, wall)
    # No offset exceeds +12 h, so everything earlier than this reads before the target.
    at = target.replace(tzinfo=UTC) - timedelta(hours=12)
    while at.astimezone(zone).replace(tzinfo=None) < target:
        at += QUARTER
    return at


@PROPERTY
@given(data=st.data())
def test_shifts_tile_the_question_exactly(data: st.DataObject) -> None:
    spec = data.draw(rotas(windows=True))
    ovs = data.draw(overrides(spec))
    offs = data.draw(time_offs(spec))
    start = data.draw(instants(0, 300))
    end = start + timedelta(minutes=data.draw(st.integers(1, 90 * 1440)))
    schedule = Schedule(spec, ovs, offs)
    for slot in spec.slots:
        got = schedule.shifts(slot.name, start, end)
        assert got[0].start == start and got[-1].end == end
        for shift in got:
            assert shift.start < shift.end
            assert shift.start.tzinfo is UTC and shift.end.tzinfo is UTC
            assert shift.source in {"rota", "override", "cover"}
        for a, b in pairwise(got):
            assert a.end == b.start
            # Neighbours are only alike where a rotation handoff separates them.
            if (a.person, a.source) == (b.person, b.source):
                assert schedule.handoff(schedule.period(a.end)) == a.end


@PROPERTY
@given(data=st.data())
def test_on_call_at_agrees_with_shifts(data: st.DataObject) -> None:
    spec = data.draw(rotas(windows=True))
    ovs = data.draw(overrides(spec))
    offs = data.draw(time_offs(spec))
    start = data.draw(instants(0, 300))
    end = start + timedelta(days=data.draw(st.integers(1, 60)))
    schedule = Schedule(spec, ovs, offs)
    listed = {s.name: shifts(spec, s.name, start, end, ovs, offs) for s in spec.slots}
    for _ in range(5):
        at = start + timedelta(
            seconds=data.draw(st.integers(0, int((end - start).total_seconds()) - 1))
        )
        now = on_call_at(spec, at, ovs, offs)
        assert now == schedule.on_call_at(at)
        assert set(now) == {s.name for s in spec.slots}
        for name, shift in now.items():
            assert shift.start <= at < shift.end
            same = holder(listed[name], at)
            assert (same.person, same.source) == (shift.person, shift.source)
            # Where the listing is not clipped by the question, the extents agree exactly.
            assert max(shift.start, start) == same.start
            assert min(shift.end, end) == same.end


@PROPERTY
@given(data=st.data())
def test_splitting_the_question_changes_nothing(data: st.DataObject) -> None:
    spec = data.draw(rotas(windows=True))
    ovs = data.draw(overrides(spec))
    offs = data.draw(time_offs(spec))
    start = data.draw(instants(0, 300))
    middle = start + timedelta(minutes=data.draw(st.integers(1, 30 * 1440)))
    end = middle + timedelta(minutes=data.draw(st.integers(1, 30 * 1440)))
    schedule = Schedule(spec, ovs, offs)
    for slot in spec.slots:
        whole = schedule.shifts(slot.name, start, end)
        left = schedule.shifts(slot.name, start, middle)
        right = schedule.shifts(slot.name, middle, end)
        last, first = left[-1], right[0]
        if (last.person, last.source) == (first.person, first.source) and (
            schedule.handoff(schedule.period(middle)) != middle
        ):
            # The cut at `middle` split one shift in two; within a rotation period they are one.
            glued = Shift(slot.name, last.person, last.start, first.end, first.source)
            assert whole == [*left[:-1], glued, *right[1:]]
        else:
            assert whole == [*left, *right]


@PROPERTY
@given(data=st.data())
def test_an_override_changes_only_its_window(data: st.DataObject) -> None:
    spec = data.draw(rotas(windows=True))
    ovs = data.draw(overrides(spec, most=4))
    offs = data.draw(time_offs(spec))
    start = data.draw(instants())
    extra = Override(
        data.draw(st.sampled_from([s.name for s in spec.slots])),
        "extra",
        start,
        start + timedelta(minutes=data.draw(st.integers(1, 20 * 1440))),
    )
    lo, hi = extra.start - timedelta(days=15), extra.end + timedelta(days=15)
    for slot in spec.slots:
        without = shifts(spec, slot.name, lo, hi, ovs, offs)
        with_it = shifts(spec, slot.name, lo, hi, [*ovs, extra], offs)
        cuts = {s.start for s in without} | {s.start for s in with_it} | {extra.start, extra.end}
        for at in sorted(cuts):
            if not lo <= at < hi:
                continue
            before, after = holder(without, at), holder(with_it, at)
            if slot.name == extra.slot and extra.start <= at < extra.end:
                assert (after.person, after.source) == ("extra", "override")
            else:
                assert (after.person, after.source) == (before.person, before.source)


@PROPERTY
@given(spec=rotas(), k=st.integers(-30, 400))
def test_handoffs_are_at_the_local_wall_clock_time(spec: RotaSpec, k: int) -> None:
    schedule = Schedule(spec)
    zone = ZoneInfo(spec.timezone)
    first = spec.start
    if spec.length.days % 7 == 0:  # weekly lengths start on the handoff weekday
        while first.weekday() != spec.handoff_weekday:
            first += timedelta(days=1)
    day = first + timedelta(days=k * spec.length.days)
    expected = wall_clock_handoff(day, spec.handoff_time, zone)
    assert schedule.handoff(k) == expected
    assert abs(schedule.handoff(k + 1) - expected - spec.length) <= timedelta(hours=1)
    if k >= 0:
        assert schedule.handoff_instants(expected, expected + timedelta(microseconds=1)) == [
            expected
        ]
        assert schedule.period(expected) == k
        assert schedule.period(expected - timedelta(microseconds=1)) == k - 1


@PROPERTY
@given(data=st.data())
def test_base_rota_follows_the_list_period_by_period(data: st.DataObject) -> None:
    spec = data.draw(rotas())
    schedule = Schedule(spec)
    at = data.draw(instants(-60, 400))
    k = schedule.period(at)
    for slot in spec.slots:
        now = schedule.on_call_at(at)[slot.name]
        assert (now.start, now.end) == (schedule.handoff(k), schedule.handoff(k + 1))
        assert now.person == (slot.people[k % len(slot.people)] if k >= 0 else None)


@PROPERTY
@given(data=st.data())
def test_handoffs_are_exactly_the_changes_to_someone(data: st.DataObject) -> None:
    spec = data.draw(rotas(windows=True))
    ovs = data.draw(overrides(spec))
    offs = data.draw(time_offs(spec))
    start = data.draw(instants(0, 300))
    end = start + timedelta(days=data.draw(st.integers(1, 40)))
    got = handoffs(spec, start, end, ovs, offs)
    assert got == sorted(got, key=lambda h: (h.at, [s.name for s in spec.slots].index(h.slot)))
    for slot in spec.slots:
        listed = shifts(spec, slot.name, start, end, ovs, offs)
        previous = on_call_at(spec, start - timedelta(microseconds=1), ovs, offs)[slot.name].person
        expected = []
        for shift in listed:
            if shift.person is not None and shift.person != previous:
                expected.append((shift.person, shift.start))
            previous = shift.person
        assert [(h.person, h.at) for h in got if h.slot == slot.name] == expected
