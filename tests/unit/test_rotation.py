"""Rota arithmetic with hand-computed UTC instants: DST in four zones (scenarios S16-S18),
1-day and 2-week lengths, windows, overrides (S21), time off, on_call_at, handoffs, fairness."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from onduty.localtime import local_to_utc
from onduty.schedules.rotation import (
    FairnessRow,
    Handoff,
    Override,
    RotaSpec,
    Schedule,
    Shift,
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
CHICAGO, LONDON, SYDNEY, KOLKATA = (
    "America/Chicago",
    "Europe/London",
    "Australia/Sydney",
    "Asia/Kolkata",
)


def z(text: str) -> datetime:
    """An ISO instant read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def spec(
    zone: str,
    weekday: int,
    at: str,
    start: str,
    *,
    days: int = 7,
    people: tuple[str, ...] = ("a", "b"),
    windows: tuple[Window, ...] = (),
) -> RotaSpec:
    hh, mm = at.split(":")
    return RotaSpec(
        timezone=zone,
        handoff_weekday=weekday,
        handoff_time=time(int(hh), int(mm)),
        start=date.fromisoformat(start),
        length=timedelta(days=days),
        slots=(SlotSpec("s", people, windows),),
    )


def rows(got: list[Shift]) -> list[tuple[str | None, str, datetime, datetime]]:
    return [(s.person, s.source, s.start, s.end) for s in got]


# --- handoff instants across DST ----------------------------------------------------------------

# zone, weekday, local handoff time, a handoff (UTC), the next one (UTC), hours between them
WEEKLY = [
    (CHICAGO, 0, "09:00", "2026-03-02T15:00", "2026-03-09T14:00", 167),  # spring forward 03-08
    (CHICAGO, 0, "09:00", "2026-10-26T14:00", "2026-11-02T15:00", 169),  # fall back 11-01
    (CHICAGO, 0, "09:00", "2026-07-06T14:00", "2026-07-13T14:00", 168),
    (LONDON, 0, "10:00", "2026-03-23T10:00", "2026-03-30T09:00", 167),  # 03-29
    (LONDON, 0, "10:00", "2026-10-19T09:00", "2026-10-26T10:00", 169),  # 10-25
    (LONDON, 0, "10:00", "2026-01-12T10:00", "2026-01-19T10:00", 168),
    (SYDNEY, 0, "09:00", "2026-03-29T22:00", "2026-04-05T23:00", 169),  # fall back 04-05
    (SYDNEY, 0, "09:00", "2026-09-27T23:00", "2026-10-04T22:00", 167),  # spring forward 10-04
    (SYDNEY, 0, "09:00", "2026-06-14T23:00", "2026-06-21T23:00", 168),
    (KOLKATA, 0, "10:00", "2026-03-02T04:30", "2026-03-09T04:30", 168),  # no DST, +05:30
    (KOLKATA, 0, "10:00", "2026-10-26T04:30", "2026-11-02T04:30", 168),
    # Handoff on the DST Sunday itself, after the change.
    (CHICAGO, 6, "09:00", "2026-03-01T15:00", "2026-03-08T14:00", 167),
    (LONDON, 6, "09:00", "2026-10-18T08:00", "2026-10-25T09:00", 169),
]


@pytest.mark.parametrize(("zone", "weekday", "at", "first", "second", "hours"), WEEKLY)
def test_weekly_shift_lasts_167_169_or_168_hours(
    zone: str, weekday: int, at: str, first: str, second: str, hours: int
) -> None:
    rota = spec(zone, weekday, at, "2026-01-04")
    a, b = z(first), z(second)
    assert handoff_instants(rota, a - H, b + H) == [a, b]
    (whole,) = [s for s in shifts(rota, "s", a - H, b + H) if s.start == a]
    assert whole.end == b
    assert whole.end - whole.start == hours * H


# zone, local handoff time on Sundays, first handoff date, the handoff a week later (UTC)
ODD_LOCAL_TIMES = [
    # 02:30 does not exist on 2026-03-08 in Chicago: it moves to the end of the gap, 03:00 CDT.
    (CHICAGO, "02:30", "2026-03-01", "2026-03-08T08:00"),
    (CHICAGO, "02:00", "2026-03-01", "2026-03-08T08:00"),  # the gap's first minute
    (CHICAGO, "03:00", "2026-03-01", "2026-03-08T08:00"),  # the first valid minute
    (CHICAGO, "01:59", "2026-03-01", "2026-03-08T07:59"),  # the last minute before it
    # 01:30 happens twice on 2026-11-01 in Chicago: the first (CDT) occurrence counts.
    (CHICAGO, "01:30", "2026-10-25", "2026-11-01T06:30"),
    (CHICAGO, "01:00", "2026-10-25", "2026-11-01T06:00"),
    (CHICAGO, "02:00", "2026-10-25", "2026-11-01T08:00"),  # after the fold: CST
    (LONDON, "01:30", "2026-03-22", "2026-03-29T01:00"),  # gap 01:00-02:00 -> 02:00 BST
    (LONDON, "01:30", "2026-10-18", "2026-10-25T00:30"),  # fold: first occurrence, BST
    (SYDNEY, "02:30", "2026-09-27", "2026-10-03T16:00"),  # gap 02:00-03:00 -> 03:00 AEDT
    (SYDNEY, "02:30", "2026-03-29", "2026-04-04T15:30"),  # fold 02:00-03:00: AEDT one
    (KOLKATA, "02:30", "2026-03-01", "2026-03-07T21:00"),  # nothing odd
]


@pytest.mark.parametrize(("zone", "at", "start", "handoff"), ODD_LOCAL_TIMES)
def test_nonexistent_local_time_moves_on_and_ambiguous_takes_the_first(
    zone: str, at: str, start: str, handoff: str
) -> None:
    rota = spec(zone, 6, at, start)
    week = z(handoff)
    got = handoff_instants(rota, week - 2 * H, week + 2 * H)
    assert got == [week]


def test_local_to_utc_directly() -> None:
    chicago = ZoneInfo(CHICAGO)
    assert local_to_utc(date(2026, 3, 8), time(2, 30), chicago) == z("2026-03-08T08:00")
    assert local_to_utc(date(2026, 11, 1), time(1, 30), chicago) == z("2026-11-01T06:30")
    assert local_to_utc(date(2026, 11, 1), time(0, 59), chicago) == z("2026-11-01T05:59")
    assert local_to_utc(date(2026, 7, 1), time(9, 0), ZoneInfo(KOLKATA)) == z("2026-07-01T03:30")


def test_shifts_stay_contiguous_around_a_moved_handoff() -> None:
    rota = spec(CHICAGO, 6, "02:30", "2026-03-01")
    got = shifts(rota, "s", z("2026-03-01T08:30"), z("2026-03-15T07:30"))
    assert rows(got) == [
        ("a", "rota", z("2026-03-01T08:30"), z("2026-03-08T08:00")),  # 167.5 h
        ("b", "rota", z("2026-03-08T08:00"), z("2026-03-15T07:30")),  # 167.5 h
    ]


def test_shifts_stay_contiguous_around_an_ambiguous_handoff() -> None:
    rota = spec(CHICAGO, 6, "01:30", "2026-10-25")
    got = shifts(rota, "s", z("2026-10-25T06:30"), z("2026-11-15T07:30"))
    assert [(s.start, s.end - s.start) for s in got] == [
        (z("2026-10-25T06:30"), 168 * H),
        (z("2026-11-01T06:30"), 169 * H),  # the first 01:30 to the next Sunday's CST 01:30
        (z("2026-11-08T07:30"), 168 * H),
    ]


def test_handoff_instants_are_half_open_and_start_at_the_first_handoff() -> None:
    rota = spec(KOLKATA, 0, "10:00", "2026-11-02")
    assert handoff_instants(rota, z("2026-11-02T04:30"), z("2026-11-16T04:30")) == [
        z("2026-11-02T04:30"),
        z("2026-11-09T04:30"),
    ]
    # Nothing before the rota's first handoff, however far back one asks.
    assert handoff_instants(rota, z("2026-01-01T00:00"), z("2026-11-03T00:00")) == [
        z("2026-11-02T04:30")
    ]
    assert handoff_instants(rota, z("2026-11-03T00:00"), z("2026-11-03T00:00")) == []


# --- the scenarios --------------------------------------------------------------------------------


def test_s16_weekly_handoff_across_spring_forward() -> None:
    rota = spec(CHICAGO, 0, "09:00", "2024-03-04")
    assert on_call_at(rota, z("2024-03-11T13:59"))["s"].person == "a"
    now = on_call_at(rota, z("2024-03-11T14:00"))["s"]
    assert (now.person, now.start, now.end) == ("b", z("2024-03-11T14:00"), z("2024-03-18T14:00"))
    before = on_call_at(rota, z("2024-03-04T15:00"))["s"]
    assert before.end - before.start == 167 * H
    assert on_call_at(rota, z("2024-03-11T14:30"))["s"].person == "b"
    assert on_call_at(rota, z("2024-03-18T13:59"))["s"].person == "b"
    assert on_call_at(rota, z("2024-03-18T14:00"))["s"].person == "a"


def test_s17_weekly_handoff_across_fall_back_and_the_ambiguous_hour() -> None:
    rota = spec(CHICAGO, 0, "09:00", "2024-03-04")
    week = on_call_at(rota, z("2024-10-28T14:00"))["s"]
    assert (week.start, week.end) == (z("2024-10-28T14:00"), z("2024-11-04T15:00"))
    assert week.end - week.start == 169 * H
    assert on_call_at(rota, z("2024-11-04T14:30"))["s"].person == week.person
    assert on_call_at(rota, z("2024-11-04T15:00"))["s"].person != week.person
    sunday = spec(CHICAGO, 6, "01:30", "2024-10-27")
    got = shifts(sunday, "s", z("2024-10-27T06:30"), z("2024-11-17T07:30"))
    assert [s.start for s in got] == [
        z("2024-10-27T06:30"),
        z("2024-11-03T06:30"),
        z("2024-11-10T07:30"),
    ]
    assert all(x.end == y.start for x, y in pairwise(got))
    gap = spec(CHICAGO, 6, "02:30", "2024-03-03")
    assert handoff_instants(gap, z("2024-03-10T00:00"), z("2024-03-11T00:00")) == [
        z("2024-03-10T08:00")
    ]


def test_s18_daily_handoff_follows_wall_clock_time() -> None:
    # Started at 09:05 CST in February; asked about a CDT day in March.
    rota = spec(CHICAGO, 0, "09:05", "2026-02-01", days=1)
    assert on_call_at(rota, z("2026-03-20T14:00"))["s"].person == "a"  # 09:00 CDT
    assert on_call_at(rota, z("2026-03-20T14:10"))["s"].person == "b"  # 09:10 CDT
    assert z("2026-03-20T14:05") in handoff_instants(
        rota, z("2026-03-20T00:00"), z("2026-03-21T00:00")
    )


# --- lengths and the start date -------------------------------------------------------------------


def test_daily_rotation_across_spring_forward() -> None:
    rota = spec(CHICAGO, 0, "09:00", "2026-03-05", days=1, people=("a", "b", "c"))
    got = shifts(rota, "s", z("2026-03-07T15:00"), z("2026-03-10T14:00"))
    assert rows(got) == [
        ("c", "rota", z("2026-03-07T15:00"), z("2026-03-08T14:00")),  # 23 h
        ("a", "rota", z("2026-03-08T14:00"), z("2026-03-09T14:00")),
        ("b", "rota", z("2026-03-09T14:00"), z("2026-03-10T14:00")),
    ]


def test_fortnightly_rotation_across_spring_forward() -> None:
    rota = spec(LONDON, 0, "10:00", "2026-03-16", days=14)
    got = shifts(rota, "s", z("2026-03-16T10:00"), z("2026-04-13T09:00"))
    assert rows(got) == [
        ("a", "rota", z("2026-03-16T10:00"), z("2026-03-30T09:00")),  # 335 h
        ("b", "rota", z("2026-03-30T09:00"), z("2026-04-13T09:00")),  # 336 h
    ]


def test_weekly_start_moves_forward_to_the_handoff_weekday_daily_does_not() -> None:
    weekly = spec(KOLKATA, 0, "10:00", "2026-11-04")  # a Wednesday
    assert handoff_instants(weekly, z("2026-11-01T00:00"), z("2026-11-17T00:00")) == [
        z("2026-11-09T04:30"),
        z("2026-11-16T04:30"),
    ]
    daily = spec(KOLKATA, 0, "10:00", "2026-11-04", days=1)
    assert handoff_instants(daily, z("2026-11-01T00:00"), z("2026-11-05T12:00")) == [
        z("2026-11-04T04:30"),
        z("2026-11-05T04:30"),
    ]


def test_before_the_first_handoff_nobody_is_on_call() -> None:
    rota = spec(KOLKATA, 0, "10:00", "2026-11-02")
    got = shifts(rota, "s", z("2026-10-31T00:00"), z("2026-11-03T00:00"))
    assert [(s.person, s.end) for s in got] == [
        (None, z("2026-11-02T04:30")),
        ("a", z("2026-11-03T00:00")),
    ]


# --- windows ------------------------------------------------------------------------------------

WORKDAYS = Window(frozenset(range(5)), time(9), time(19))


def test_working_hours_window_across_spring_forward() -> None:
    rota = spec(CHICAGO, 0, "09:00", "2026-03-02", windows=(WORKDAYS,))
    got = shifts(rota, "s", z("2026-03-06T00:00"), z("2026-03-10T00:00"))
    assert rows(got) == [
        ("a", "rota", z("2026-03-06T00:00"), z("2026-03-06T01:00")),  # Thursday until 19:00 CST
        (None, "rota", z("2026-03-06T01:00"), z("2026-03-06T15:00")),
        ("a", "rota", z("2026-03-06T15:00"), z("2026-03-07T01:00")),  # Friday 09:00-19:00 CST
        (None, "rota", z("2026-03-07T01:00"), z("2026-03-09T14:00")),  # the weekend
        ("b", "rota", z("2026-03-09T14:00"), z("2026-03-10T00:00")),  # Monday 09:00-19:00 CDT
    ]
    outside = on_call_at(rota, z("2026-03-07T12:00"))["s"]
    assert (outside.person, outside.start, outside.end) == (
        None,
        z("2026-03-07T01:00"),
        z("2026-03-09T14:00"),
    )


def test_a_window_open_across_a_handoff_changes_person_at_the_handoff() -> None:
    # Monday 09:00-19:00 IST with the handoff at 10:00: a until 10:00, then b.
    rota = spec(KOLKATA, 0, "10:00", "2026-11-02", windows=(WORKDAYS,))
    got = shifts(rota, "s", z("2026-11-06T00:00"), z("2026-11-09T06:00"))
    assert rows(got) == [
        (None, "rota", z("2026-11-06T00:00"), z("2026-11-06T03:30")),
        ("a", "rota", z("2026-11-06T03:30"), z("2026-11-06T13:30")),  # Friday 09:00-19:00
        (None, "rota", z("2026-11-06T13:30"), z("2026-11-09T03:30")),  # the weekend
        ("a", "rota", z("2026-11-09T03:30"), z("2026-11-09T04:30")),  # Monday 09:00-10:00
        ("b", "rota", z("2026-11-09T04:30"), z("2026-11-09T06:00")),
    ]
    assert on_call_at(rota, z("2026-11-09T04:29"))["s"] == got[3]
    assert handoffs(rota, z("2026-11-09T00:00"), z("2026-11-09T06:00")) == [
        Handoff("s", "a", z("2026-11-09T03:30")),
        Handoff("s", "b", z("2026-11-09T04:30")),
    ]


def test_window_past_midnight_and_window_in_a_gap() -> None:
    nights = spec(
        "UTC", 0, "09:00", "2026-11-02", windows=(Window(frozenset(range(7)), time(19), time(7)),)
    )
    got = shifts(nights, "s", z("2026-11-02T09:00"), z("2026-11-03T09:00"))
    assert rows(got) == [
        (None, "rota", z("2026-11-02T09:00"), z("2026-11-02T19:00")),
        ("a", "rota", z("2026-11-02T19:00"), z("2026-11-03T07:00")),
        (None, "rota", z("2026-11-03T07:00"), z("2026-11-03T09:00")),
    ]
    # Sunday 02:30-04:00 on the spring-forward day starts at the end of the gap, 03:00 CDT.
    early = spec(
        CHICAGO, 0, "09:00", "2026-03-02", windows=(Window(frozenset({6}), time(2, 30), time(4)),)
    )
    got = shifts(early, "s", z("2026-03-08T00:00"), z("2026-03-08T12:00"))
    assert [s.person for s in got] == [None, "a", None]
    assert (got[1].start, got[1].end) == (z("2026-03-08T08:00"), z("2026-03-08T09:00"))


# --- overrides ----------------------------------------------------------------------------------

WEEK0, WEEK1, WEEK2, WEEK3 = (
    z("2026-11-02T04:30"),
    z("2026-11-09T04:30"),
    z("2026-11-16T04:30"),
    z("2026-11-23T04:30"),
)


def kolkata(people: tuple[str, ...] = ("a", "b")) -> RotaSpec:
    return spec(KOLKATA, 0, "10:00", "2026-11-02", people=people)


def test_an_override_replaces_exactly_its_window() -> None:
    o = Override("s", "x", z("2026-11-04T06:00"), z("2026-11-04T08:00"))
    assert rows(shifts(kolkata(), "s", WEEK0, WEEK1, [o])) == [
        ("a", "rota", WEEK0, o.start),
        ("x", "override", o.start, o.end),
        ("a", "rota", o.end, WEEK1),
    ]
    other = RotaSpec(
        KOLKATA,
        0,
        time(10),
        date(2026, 11, 2),
        timedelta(days=7),
        (SlotSpec("s", ("a", "b")), SlotSpec("t", ("c", "d"))),
    )
    assert shifts(other, "t", WEEK0, WEEK1, [o]) == shifts(other, "t", WEEK0, WEEK1)


def test_override_at_the_boundaries() -> None:
    rota = kolkata()
    exact = Override("s", "x", WEEK1, WEEK2)  # exactly one rotation period
    assert rows(shifts(rota, "s", WEEK0, WEEK3, [exact])) == [
        ("a", "rota", WEEK0, WEEK1),
        ("x", "override", WEEK1, WEEK2),
        ("a", "rota", WEEK2, WEEK3),
    ]
    # Ending where the question starts, or starting where it ends: no effect (half-open).
    before = Override("s", "x", WEEK0 - 5 * H, WEEK1)
    after = Override("s", "y", WEEK2, WEEK2 + 5 * H)
    assert shifts(rota, "s", WEEK1, WEEK2, [before, after]) == rota_shifts(rota, "s", WEEK1, WEEK2)
    # Straddling the question's start: clipped to it.
    got = shifts(rota, "s", WEEK1, WEEK2, [Override("s", "x", WEEK1 - H, WEEK1 + H)])
    assert rows(got) == [("x", "override", WEEK1, WEEK1 + H), ("b", "rota", WEEK1 + H, WEEK2)]


def test_overriding_with_the_person_already_on_call_changes_only_the_source() -> None:
    o = Override("s", "a", WEEK0 + H, WEEK0 + 2 * H)
    got = shifts(kolkata(), "s", WEEK0, WEEK1, [o])
    assert [(s.person, s.source) for s in got] == [
        ("a", "rota"),
        ("a", "override"),
        ("a", "rota"),
    ]
    assert handoffs(kolkata(), WEEK0 + H, WEEK1, [o]) == []


def test_overlapping_overrides_the_later_one_wins() -> None:
    x = Override("s", "x", z("2026-11-03T00:00"), z("2026-11-04T00:00"))
    y = Override("s", "y", z("2026-11-03T12:00"), z("2026-11-05T00:00"))
    got = shifts(kolkata(), "s", z("2026-11-03T00:00"), z("2026-11-05T00:00"), [x, y])
    assert rows(got) == [
        ("x", "override", z("2026-11-03T00:00"), z("2026-11-03T12:00")),
        ("y", "override", z("2026-11-03T12:00"), z("2026-11-05T00:00")),
    ]
    got = shifts(kolkata(), "s", z("2026-11-03T00:00"), z("2026-11-05T00:00"), [y, x])
    assert rows(got) == [
        ("x", "override", z("2026-11-03T00:00"), z("2026-11-04T00:00")),
        ("y", "override", z("2026-11-04T00:00"), z("2026-11-05T00:00")),
    ]


def test_override_across_a_handoff_splits_at_the_handoff() -> None:
    o = Override("s", "x", z("2026-11-08T00:00"), z("2026-11-10T00:00"))
    got = shifts(kolkata(), "s", WEEK0, WEEK2, [o])
    assert rows(got) == [
        ("a", "rota", WEEK0, o.start),
        ("x", "override", o.start, WEEK1),
        ("x", "override", WEEK1, o.end),
        ("b", "rota", o.end, WEEK2),
    ]
    assert on_call_at(kolkata(), z("2026-11-08T12:00"), [o])["s"] == got[1]
    assert on_call_at(kolkata(), z("2026-11-09T12:00"), [o])["s"] == got[2]
    assert on_call_at(kolkata(), z("2026-11-12T12:00"), [o])["s"] == got[3]


def test_s21_override_splitting_and_layering() -> None:
    rota = kolkata()
    t = z("2026-11-03T00:00")
    o = Override("s", "b", t + timedelta(seconds=100), t + 8 * H - timedelta(seconds=100))
    got = shifts(rota, "s", t, t + 8 * H, [o])
    assert rows(got) == [
        ("a", "rota", t, o.start),
        ("b", "override", o.start, o.end),
        ("a", "rota", o.end, t + 8 * H),
    ]
    # E 22:00-23:00, then A 22:00-22:30 on top; the rota (b this week) afterwards.
    night = z("2026-11-10T22:00")
    e = Override("s", "e", night, night + H)
    a = Override("s", "a", night, night + H / 2)
    got = shifts(rota, "s", night, night + 2 * H, [e, a])
    assert rows(got) == [
        ("a", "override", night, night + H / 2),
        ("e", "override", night + H / 2, night + H),
        ("b", "rota", night + H, night + 2 * H),
    ]


# --- time off -----------------------------------------------------------------------------------


def test_time_off_is_covered_by_the_next_person() -> None:
    rota = kolkata(("a", "b", "c"))
    off = TimeOff("a", z("2026-11-03T00:00"), z("2026-11-04T00:00"))
    assert rows(shifts(rota, "s", WEEK0, WEEK1, time_off=[off])) == [
        ("a", "rota", WEEK0, off.start),
        ("b", "cover", off.start, off.end),
        ("a", "rota", off.end, WEEK1),
    ]
    # b is away for part of it too: c covers that part.
    b_off = TimeOff("b", z("2026-11-03T06:00"), z("2026-11-03T07:00"))
    got = shifts(rota, "s", off.start, off.end, time_off=[off, b_off])
    assert rows(got) == [
        ("b", "cover", off.start, b_off.start),
        ("c", "cover", b_off.start, b_off.end),
        ("b", "cover", b_off.end, off.end),
    ]
    # In b's week the next person is c (not a, the head of the list); in c's week (k = 2) the
    # next person wraps round to a.
    b_week_off = TimeOff("b", WEEK1 + H, WEEK1 + 2 * H)
    got = shifts(rota, "s", WEEK1, WEEK1 + 3 * H, time_off=[b_week_off])
    assert [(s.person, s.source) for s in got] == [("b", "rota"), ("c", "cover"), ("b", "rota")]
    c_off = TimeOff("c", WEEK2 + H, WEEK2 + 2 * H)
    got = shifts(rota, "s", WEEK2, WEEK2 + 3 * H, time_off=[c_off])
    assert [(s.person, s.source) for s in got] == [("c", "rota"), ("a", "cover"), ("c", "rota")]


def test_time_off_with_nobody_to_cover_is_a_gap() -> None:
    rota = kolkata(("a", "b"))
    offs = [
        TimeOff("a", z("2026-11-03T00:00"), z("2026-11-04T00:00")),
        TimeOff("b", z("2026-11-02T00:00"), z("2026-11-05T00:00")),
    ]
    got = shifts(rota, "s", z("2026-11-03T00:00"), z("2026-11-04T00:00"), time_off=offs)
    assert rows(got) == [(None, "cover", z("2026-11-03T00:00"), z("2026-11-04T00:00"))]
    lone = kolkata(("a",))
    got = shifts(lone, "s", z("2026-11-03T00:00"), z("2026-11-04T00:00"), time_off=offs[:1])
    assert [(s.person, s.source) for s in got] == [(None, "cover")]


def test_time_off_of_someone_not_on_call_changes_nothing_and_overrides_beat_time_off() -> None:
    rota = kolkata(("a", "b"))
    b_off = TimeOff("b", WEEK0, WEEK1)
    assert shifts(rota, "s", WEEK0, WEEK1, time_off=[b_off]) == rota_shifts(rota, "s", WEEK0, WEEK1)
    a_off = TimeOff("a", WEEK0, WEEK0 + 4 * H)
    o = Override("s", "x", WEEK0 + H, WEEK0 + 2 * H)
    got = shifts(rota, "s", WEEK0, WEEK0 + 5 * H, [o], [a_off])
    assert [(s.person, s.source) for s in got] == [
        ("b", "cover"),
        ("x", "override"),
        ("b", "cover"),
        ("a", "rota"),
    ]
    at = on_call_at(rota, WEEK0 + 3 * H, [o], [a_off])["s"]
    assert (at.person, at.start, at.end) == ("b", WEEK0 + 2 * H, WEEK0 + 4 * H)


# --- on_call_at ---------------------------------------------------------------------------------


def test_on_call_at_gives_each_slot_its_whole_shift() -> None:
    rota = RotaSpec(
        KOLKATA,
        0,
        time(10),
        date(2026, 11, 2),
        timedelta(days=7),
        (SlotSpec("frontend", ("f0", "f1")), SlotSpec("backend", ("b0", "b1", "b2"))),
    )
    got = on_call_at(rota, z("2026-11-18T00:00"))
    assert got == {
        "frontend": Shift("frontend", "f0", WEEK2, WEEK3, "rota"),
        "backend": Shift("backend", "b2", WEEK2, WEEK3, "rota"),
    }
    # Any aware datetime is accepted; the answer is in UTC.
    local = datetime(2026, 11, 18, 5, 30, tzinfo=ZoneInfo(KOLKATA))
    assert on_call_at(rota, local) == got
    assert got["frontend"].start.tzinfo is UTC
    assert on_call_at(rota, z("2026-10-01T00:00"))["frontend"].person is None


def test_schedule_answers_repeatedly_and_agrees_with_the_functions() -> None:
    o = Override("s", "x", z("2026-11-04T06:00"), z("2026-11-04T08:00"))
    schedule = Schedule(kolkata(), [o])
    for at in (z("2026-11-04T07:00"), z("2026-11-04T07:00"), z("2026-11-05T07:00")):
        assert schedule.on_call_at(at) == on_call_at(kolkata(), at, [o])
    assert schedule.shifts("s", WEEK0, WEEK1) == shifts(kolkata(), "s", WEEK0, WEEK1, [o])


# --- handoffs -----------------------------------------------------------------------------------


def test_handoffs_list_every_incoming_person() -> None:
    rota = RotaSpec(
        LONDON,
        0,
        time(10),
        date(2026, 3, 2),
        timedelta(days=7),
        (SlotSpec("frontend", ("f0", "f1")), SlotSpec("backend", ("b0", "b1"))),
    )
    o = Override("backend", "x", z("2026-03-25T12:00"), z("2026-03-25T18:00"))
    off = TimeOff("f0", z("2026-03-31T00:00"), z("2026-04-01T00:00"))
    got = handoffs(rota, z("2026-03-23T10:00"), z("2026-04-01T00:00"), [o], [off])
    assert got == [
        Handoff("frontend", "f1", z("2026-03-23T10:00")),  # at the start: included
        Handoff("backend", "b1", z("2026-03-23T10:00")),
        Handoff("backend", "x", z("2026-03-25T12:00")),
        Handoff("backend", "b1", z("2026-03-25T18:00")),
        Handoff("frontend", "f0", z("2026-03-30T09:00")),  # 10:00 BST
        Handoff("backend", "b0", z("2026-03-30T09:00")),
        Handoff("frontend", "f1", z("2026-03-31T00:00")),  # covering f0's day off
    ]
    # Each names who held the slot just before: the outgoing person of shift-end messages.
    assert [h.previous for h in got] == ["f0", "b0", "b1", "x", "f1", "b1", "f0"]
    # A handoff exactly at the end is left out; one just after the start is not a change.
    assert (
        handoffs(rota, z("2026-03-23T10:00") + timedelta(microseconds=1), z("2026-03-30T09:00"))
        == []
    )


def test_handoffs_report_window_openings_not_closings() -> None:
    rota = spec("UTC", 0, "00:00", "2026-11-02", windows=(WORKDAYS,))
    got = handoffs(rota, z("2026-11-02T00:00"), z("2026-11-04T00:00"))
    assert got == [
        Handoff("s", "a", z("2026-11-02T09:00")),
        Handoff("s", "a", z("2026-11-03T09:00")),
    ]


# --- fairness -----------------------------------------------------------------------------------


def test_fairness_exact_numbers() -> None:
    rota = spec("UTC", 0, "00:00", "2026-11-02")  # a: Nov 2-9, b: Nov 9-16
    overrides = [
        Override("s", "b", z("2026-11-07T00:00"), z("2026-11-08T00:00")),  # a's Saturday
        Override("s", "c", z("2026-11-09T09:00"), z("2026-11-09T12:00")),  # b's Monday morning
        Override("s", "a", z("2026-11-08T22:00"), z("2026-11-09T02:00")),  # across the handoff
    ]
    got = fairness(
        rota, z("2026-11-02T00:00"), z("2026-11-16T00:00"), overrides, working_hours=WORKDAYS
    )
    assert got == {
        "a": FairnessRow(
            hours=146,  # 120 + 22 + 2 + 2
            off_hours=96,  # all 50 working hours of week one were a's
            weekend_hours=24,  # Sunday
            shifts=4,
            overrides_given=1,
            overrides_taken=1,
            override_hours_given=24,
            override_hours_taken=4,
        ),
        "b": FairnessRow(
            hours=187,  # 24 + 7 + 156
            off_hours=140,  # 7 h of Monday + 4 x 10 h working
            weekend_hours=72,
            shifts=3,
            overrides_given=2,
            overrides_taken=1,
            override_hours_given=5,
            override_hours_taken=24,
        ),
        "c": FairnessRow(
            hours=3,
            off_hours=0,
            weekend_hours=0,
            shifts=1,
            overrides_taken=1,
            override_hours_taken=3,
        ),
    }


def test_fairness_weekends_in_another_zone_and_across_dst() -> None:
    rota = spec(CHICAGO, 0, "09:00", "2026-03-02")  # a has the 167 h week
    got = fairness(rota, z("2026-03-02T15:00"), z("2026-03-09T14:00"), working_hours=WORKDAYS)
    assert got["a"].hours == 167
    assert got["a"].weekend_hours == 47  # Saturday 24 h + Sunday 23 h
    assert got["a"].off_hours == 167 - 50
    kolkata_weekend = fairness(
        rota,
        z("2026-03-02T15:00"),
        z("2026-03-09T14:00"),
        working_hours=WORKDAYS,
        zone=KOLKATA,
    )
    assert kolkata_weekend["a"].weekend_hours == 48


# --- inputs -------------------------------------------------------------------------------------


def test_validation() -> None:
    with pytest.raises(ValueError):
        spec("UTC", 0, "00:00", "2026-11-02", days=0)
    with pytest.raises(ValueError):
        RotaSpec("UTC", 7, time(0), date(2026, 11, 2), timedelta(days=7), ())
    with pytest.raises(ValueError):
        RotaSpec("UTC", 0, time(0), date(2026, 11, 2), timedelta(hours=12), ())
    with pytest.raises(ValueError):
        on_call_at(kolkata(), datetime(2026, 11, 3, 0, 0))
