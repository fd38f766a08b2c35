"""Rota arithmetic with exact UTC instants across DST in four zones, windows, overrides, time
off, handoffs and fairness; plus property tests over random rotas and overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onduty.schedules.rotation import (
    Override,
    RotaSpec,
    SlotSpec,
    TimeOff,
    Window,
    fairness,
    handoff_instants,
    handoffs,
    on_call_at,
    rota_shifts,
    shifts,
)

H = timedelta(hours=1)


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rota(zone: str, weekday: int, at: str, start: str, days: int = 7, people: int = 2) -> RotaSpec:
    hh, mm = at.split(":")
    return RotaSpec(
        timezone=zone,
        handoff_weekday=weekday,
        handoff_time=time(int(hh), int(mm)),
        start=date.fromisoformat(start),
        length=timedelta(days=days),
        slots=(
            SlotSpec("frontend", tuple(f"f{i}" for i in range(people))),
            SlotSpec("backend", tuple(f"b{i}" for i in range(people))),
        ),
    )


# zone, handoff weekday/time, a shift's start (UTC), its end (UTC), hours
WEEKLY = [
    ("America/Chicago", 0, "09:00", "2026-03-02T15:00", "2026-03-09T14:00", 167),
    ("America/Chicago", 0, "09:00", "2026-10-26T14:00", "2026-11-02T15:00", 169),
    ("America/Chicago", 0, "09:00", "2026-06-01T14:00", "2026-06-08T14:00", 168),
    ("Europe/London", 0, "10:00", "2026-03-23T10:00", "2026-03-30T09:00", 167),
    ("Europe/London", 0, "10:00", "2026-10-19T09:00", "2026-10-26T10:00", 169),
    ("Australia/Sydney", 0, "09:00", "2026-03-29T22:00", "2026-04-05T23:00", 169),
    ("Australia/Sydney", 0, "09:00", "2026-09-27T23:00", "2026-10-04T22:00", 167),
    ("Asia/Kolkata", 0, "10:00", "2026-03-02T04:30", "2026-03-09T04:30", 168),
    ("Asia/Kolkata", 0, "10:00", "2026-10-26T04:30", "2026-11-02T04:30", 168),
]


@pytest.mark.parametrize(("zone", "weekday", "at", "start", "end", "hours"), WEEKLY)
def test_weekly_shift_lengths_across_dst(
    zone: str, weekday: int, at: str, start: str, end: str, hours: int
) -> None:
    spec = rota(zone, weekday, at, "2026-01-05")
    a, b = z(start), z(end)
    got = shifts(spec, "frontend", a - H, b + H)
    middle = next(s for s in got if s.start == a)
    assert (middle.end, (middle.end - middle.start) / H) == (b, hours)
    assert handoff_instants(spec, a - H, b + H) == [a, b]


@pytest.mark.parametrize(
    ("zone", "at", "start", "handoff"),
    [
        # 02:30 does not exist on 2026-03-08 in Chicago: the handoff moves to 03:00 CDT.
        ("America/Chicago", "02:30", "2026-03-01", "2026-03-08T08:00"),
        # 01:30 happens twice on 2026-11-01 in Chicago: the first (CDT) one counts.
        ("America/Chicago", "01:30", "2026-10-25", "2026-11-01T06:30"),
        # 01:30 happens twice on 2026-10-25 in London: the first (BST) one counts.
        ("Europe/London", "01:30", "2026-10-18", "2026-10-25T00:30"),
        # 02:30 does not exist on 2026-10-04 in Sydney: moves to 03:00 AEDT.
        ("Australia/Sydney", "02:30", "2026-09-27", "2026-10-03T16:00"),
        # 02:30 happens twice on 2026-04-05 in Sydney: first (AEDT) occurrence.
        ("Australia/Sydney", "02:30", "2026-03-29", "2026-04-04T15:30"),
    ],
)
def test_nonexistent_and_ambiguous_handoff_times(
    zone: str, at: str, start: str, handoff: str
) -> None:
    spec = rota(zone, 6, at, start)  # Sunday handoffs
    instant = z(handoff)
    assert instant in handoff_instants(spec, instant - 2 * H, instant + 2 * H)


def test_nonexistent_handoff_shifts_stay_contiguous() -> None:
    spec = rota("America/Chicago", 6, "02:30", "2026-03-01")
    got = shifts(spec, "frontend", z("2026-03-01T08:30"), z("2026-03-15T07:30"))
    assert [(s.person, s.start, s.end) for s in got] == [
        ("f0", z("2026-03-01T08:30"), z("2026-03-08T08:00")),
        ("f1", z("2026-03-08T08:00"), z("2026-03-15T07:30")),
    ]


def test_daily_and_fortnightly_rotations() -> None:
    daily = rota("America/Chicago", 0, "09:00", "2026-03-05", days=1, people=3)
    got = shifts(daily, "backend", z("2026-03-07T15:00"), z("2026-03-09T14:00"))
    assert [(s.person, (s.end - s.start) / H) for s in got] == [("b2", 23), ("b0", 24)]
    fortnight = rota("Asia/Kolkata", 0, "10:00", "2026-11-02", days=14)
    got = shifts(fortnight, "frontend", z("2026-11-02T04:30"), z("2026-11-30T04:30"))
    assert [(s.person, (s.end - s.start) / H) for s in got] == [("f0", 336), ("f1", 336)]


def test_weekly_start_moves_to_the_handoff_weekday() -> None:
    spec = rota("Asia/Kolkata", 0, "10:00", "2026-11-04")  # a Wednesday
    assert handoff_instants(spec, z("2026-11-01T00:00"), z("2026-11-12T00:00")) == [
        z("2026-11-09T04:30")
    ]
    before = on_call_at(spec, z("2026-11-05T00:00"))["frontend"]
    assert before.person is None


def test_windows_restrict_a_slot_to_working_hours() -> None:
    base = rota("Asia/Kolkata", 0, "10:00", "2026-11-02")
    day = SlotSpec("frontend", ("f0", "f1"), (Window(frozenset(range(5)), time(9), time(19)),))
    spec = RotaSpec(base.timezone, 0, time(10), base.start, base.length, (day,))
    got = shifts(spec, "frontend", z("2026-11-06T00:00"), z("2026-11-09T06:00"))
    assert [(s.person, s.start, s.end) for s in got] == [
        (None, z("2026-11-06T00:00"), z("2026-11-06T03:30")),
        ("f0", z("2026-11-06T03:30"), z("2026-11-06T13:30")),  # Friday 09:00-19:00 IST
        (None, z("2026-11-06T13:30"), z("2026-11-09T03:30")),  # the weekend
        ("f0", z("2026-11-09T03:30"), z("2026-11-09T04:30")),  # Monday 09:00 until handoff
        ("f1", z("2026-11-09T04:30"), z("2026-11-09T06:00")),
    ]


def test_override_replaces_exactly_its_window_even_across_a_handoff() -> None:
    spec = rota("Europe/London", 0, "10:00", "2026-03-02")
    o = Override("backend", "b9", z("2026-03-29T12:00"), z("2026-03-30T12:00"))
    got = shifts(spec, "backend", z("2026-03-29T00:00"), z("2026-03-31T00:00"), [o])
    assert [(s.person, s.source, s.start, s.end) for s in got] == [
        ("b1", "rota", z("2026-03-29T00:00"), z("2026-03-29T12:00")),
        ("b9", "override", z("2026-03-29T12:00"), z("2026-03-30T09:00")),
        ("b9", "override", z("2026-03-30T09:00"), z("2026-03-30T12:00")),
        ("b0", "rota", z("2026-03-30T12:00"), z("2026-03-31T00:00")),
    ]
    assert shifts(spec, "frontend", z("2026-03-29T00:00"), z("2026-03-31T00:00"), [o]) == shifts(
        spec, "frontend", z("2026-03-29T00:00"), z("2026-03-31T00:00")
    )


def test_later_override_wins_where_two_overlap() -> None:
    spec = rota("Asia/Kolkata", 0, "10:00", "2026-11-02")
    first = Override("frontend", "x", z("2026-11-03T00:00"), z("2026-11-04T00:00"))
    second = Override("frontend", "y", z("2026-11-03T12:00"), z("2026-11-03T13:00"))
    got = shifts(spec, "frontend", z("2026-11-03T00:00"), z("2026-11-04T00:00"), [first, second])
    assert [s.person for s in got] == ["x", "y", "x"]


def test_time_off_is_covered_by_the_next_person_or_left_as_a_gap() -> None:
    spec = rota("Asia/Kolkata", 0, "10:00", "2026-11-02", people=3)
    off = [TimeOff("f0", z("2026-11-03T00:00"), z("2026-11-04T00:00"))]
    got = shifts(spec, "frontend", z("2026-11-02T04:30"), z("2026-11-09T04:30"), time_off=off)
    assert [(s.person, s.source) for s in got] == [("f0", "rota"), ("f1", "cover"), ("f0", "rota")]
    both = [*off, TimeOff("f1", z("2026-11-03T06:00"), z("2026-11-03T07:00"))]
    got = shifts(spec, "frontend", z("2026-11-03T05:00"), z("2026-11-03T08:00"), time_off=both)
    assert [(s.person, s.source) for s in got] == [
        ("f1", "cover"),
        ("f2", "cover"),
        ("f1", "cover"),
    ]
    lone = RotaSpec(
        spec.timezone, 0, time(10), spec.start, spec.length, (SlotSpec("frontend", ("f0",)),)
    )
    got = shifts(lone, "frontend", z("2026-11-03T00:00"), z("2026-11-04T00:00"), time_off=off)
    assert [(s.person, s.source) for s in got] == [(None, "cover")]


def test_handoffs_yield_each_incoming_person() -> None:
    spec = rota("Europe/London", 0, "10:00", "2026-03-02")
    got = handoffs(spec, z("2026-03-23T00:00"), z("2026-04-01T00:00"))
    assert [(h.slot, h.person, h.at) for h in got] == [
        ("frontend", "f1", z("2026-03-23T10:00")),
        ("backend", "b1", z("2026-03-23T10:00")),
        ("frontend", "f0", z("2026-03-30T09:00")),
        ("backend", "b0", z("2026-03-30T09:00")),
    ]


def test_fairness_counts_hours_nights_weekends_and_overrides() -> None:
    spec = rota("Asia/Kolkata", 0, "10:00", "2026-11-02")
    o = Override("frontend", "f1", z("2026-11-07T04:30"), z("2026-11-08T04:30"))  # Saturday
    hours = Window(frozenset(range(5)), time(9), time(19))
    rows = fairness(spec, z("2026-11-02T04:30"), z("2026-11-16T04:30"), [o], working_hours=hours)
    assert rows["f0"].hours == 168 - 24 and rows["f1"].hours == 168 + 24
    assert rows["f0"].weekend_hours == 24 and rows["f1"].weekend_hours == 48 + 24
    # A week has 5 working days of 10 h: f1 has all 50 of theirs, plus the override's 0.
    assert rows["f1"].off_hours == 168 + 24 - 50
    assert (rows["f0"].overrides_given, rows["f1"].overrides_taken) == (1, 1)
    assert (rows["f0"].shifts, rows["f1"].shifts) == (2, 2)


# --- properties -------------------------------------------------------------------------------

ZONES = ["America/Chicago", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC"]
WINDOW_START = z("2026-01-01T00:00")


@st.composite
def rotas(draw: st.DrawFn) -> RotaSpec:
    slots = tuple(
        SlotSpec(f"s{i}", tuple(f"p{i}{j}" for j in range(draw(st.integers(1, 5)))))
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


@st.composite
def overrides(draw: st.DrawFn, spec: RotaSpec) -> list[Override]:
    out = []
    for _ in range(draw(st.integers(0, 6))):
        start = WINDOW_START + timedelta(minutes=draw(st.integers(0, 400 * 24 * 60)))
        length = timedelta(minutes=draw(st.integers(1, 20 * 24 * 60)))
        slot = draw(st.sampled_from([s.name for s in spec.slots]))
        out.append(Override(slot, f"o{len(out)}", start, start + length))
    return out


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_instant_has_exactly_one_shift_per_slot(data: st.DataObject) -> None:
    spec = data.draw(rotas())
    ovs = data.draw(overrides(spec))
    start = WINDOW_START + timedelta(minutes=data.draw(st.integers(0, 300 * 24 * 60)))
    end = start + timedelta(days=data.draw(st.integers(1, 90)))
    for slot in spec.slots:
        got = shifts(spec, slot.name, start, end, ovs)
        assert got[0].start == start and got[-1].end == end
        for a, b in pairwise(got):
            assert a.end == b.start and a.start < a.end
        for _ in range(5):
            at = start + (end - start) * data.draw(st.floats(0, 0.999999))
            at = at.replace(microsecond=0)
            holder = next(s for s in got if s.start <= at < s.end)
            assert on_call_at(spec, at, ovs)[slot.name].person == holder.person


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_an_override_changes_only_its_window(data: st.DataObject) -> None:
    spec = data.draw(rotas())
    ovs = data.draw(overrides(spec))
    if not ovs:
        return
    extra = ovs[-1]
    start, end = extra.start - timedelta(days=10), extra.end + timedelta(days=10)
    slot = extra.slot
    without = shifts(spec, slot, start, end, ovs[:-1])
    with_it = shifts(spec, slot, start, end, ovs)

    def at(got: list, instant: datetime) -> str | None:  # type: ignore[type-arg]
        return next(s.person for s in got if s.start <= instant < s.end)

    cuts = sorted(
        {s.start for s in without} | {s.start for s in with_it} | {extra.start, extra.end}
    )
    for instant in cuts:
        if start <= instant < end:
            if extra.start <= instant < extra.end:
                assert at(with_it, instant) == extra.person
            else:
                assert at(with_it, instant) == at(without, instant)


def test_rota_shifts_ignore_overrides() -> None:
    spec = rota("UTC", 0, "00:00", "2026-01-05")
    assert [
        s.person
        for s in rota_shifts(spec, "frontend", z("2026-01-05T00:00"), z("2026-01-19T00:00"))
    ] == ["f0", "f1"]
