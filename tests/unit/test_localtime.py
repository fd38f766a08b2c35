"""The one local-time module: zone lookup, weekday names, local <-> UTC by one rule for DST gaps
and folds, and the output shapes. Property-tested around every clock change of the rota tests'
zones (Chicago, London, Sydney, Kolkata and UTC, in 2026 and in the 2024 of scenarios S16/S17)
plus Lord Howe's 30-minute one; and checked against the rota, working hours and policy times."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import TZPATH, ZoneInfo, available_timezones

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.policy_cases import example

from onduty import localtime
from onduty.errors import InvalidInput
from onduty.incidents.priority import in_working_hours, next_working_start
from onduty.policy import parse_text
from onduty.policy.state import from_policy
from onduty.schedules.rotation import RotaSpec, Schedule, SlotSpec, handoff_instants

MINUTE = timedelta(minutes=1)
CHICAGO, LONDON, SYDNEY, KOLKATA, LORD_HOWE = (
    "America/Chicago",
    "Europe/London",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
)


def z(text: str) -> datetime:
    """An ISO instant read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Change:
    """A clock change: at `at` (UTC) the local clock jumps from `before` to `after`."""

    zone: str
    at: datetime
    before: time
    after: time

    @property
    def gap(self) -> bool:
        return self.after > self.before

    @property
    def day(self) -> date:
        return self.at.astimezone(ZoneInfo(self.zone)).date()

    @property
    def odd(self) -> tuple[datetime, datetime]:
        """The local wall times [lo, hi) that are skipped (gap) or happen twice (fold)."""
        lo, hi = sorted((self.before, self.after))
        return datetime.combine(self.day, lo), datetime.combine(self.day, hi)


CHANGES = [
    Change(CHICAGO, z("2026-03-08T08:00"), time(2), time(3)),
    Change(CHICAGO, z("2026-11-01T07:00"), time(2), time(1)),
    Change(CHICAGO, z("2024-03-10T08:00"), time(2), time(3)),  # S16
    Change(CHICAGO, z("2024-11-03T07:00"), time(2), time(1)),  # S17
    Change(LONDON, z("2026-03-29T01:00"), time(1), time(2)),
    Change(LONDON, z("2026-10-25T01:00"), time(2), time(1)),
    Change(SYDNEY, z("2026-04-04T16:00"), time(3), time(2)),
    Change(SYDNEY, z("2026-10-03T16:00"), time(2), time(3)),
    Change(LORD_HOWE, z("2026-04-04T15:00"), time(2), time(1, 30)),
    Change(LORD_HOWE, z("2026-10-03T15:30"), time(2), time(2, 30)),
]
NO_CHANGE = [KOLKATA, "UTC"]
IDS = [f"{c.zone}-{c.day}" for c in CHANGES]


def reading(at: datetime, zone: str) -> datetime:
    """What the local clock shows at `at`, as a naive datetime."""
    return at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def earliest_reading_at_or_after(wall: datetime, zone: str) -> datetime:
    """An independent oracle of the documented rule: walk UTC minute by minute to the first
    instant whose local reading is at or after `wall`. Every change above is on a whole
    minute, so for walls on the minute grid the walk finds the answer exactly."""
    at = wall.replace(tzinfo=UTC) - timedelta(hours=14)  # no offset exceeds +14 h
    while reading(at, zone) < wall:
        at += MINUTE
    return at


@pytest.mark.parametrize("change", CHANGES, ids=IDS)
def test_the_table_is_what_the_zone_database_says(change: Change) -> None:
    second = timedelta(seconds=1)
    just_before = datetime.combine(change.day, change.before) - second
    assert reading(change.at - second, change.zone) == just_before
    assert reading(change.at, change.zone) == datetime.combine(change.day, change.after)


# --- the rule, by hand ---------------------------------------------------------------------------

# zone, local wall time, the UTC instant it means
RULE = [
    # Chicago springs forward 02:00 -> 03:00 on 2026-03-08: the gap's times move to its end.
    (CHICAGO, "2026-03-08T01:59", "2026-03-08T07:59"),
    (CHICAGO, "2026-03-08T02:00", "2026-03-08T08:00"),
    (CHICAGO, "2026-03-08T02:30", "2026-03-08T08:00"),
    (CHICAGO, "2026-03-08T02:59:59", "2026-03-08T08:00"),
    (CHICAGO, "2026-03-08T03:00", "2026-03-08T08:00"),
    (CHICAGO, "2026-03-08T03:01", "2026-03-08T08:01"),
    # Chicago falls back 02:00 -> 01:00 on 2026-11-01: the repeated hour's first (CDT) reading.
    (CHICAGO, "2026-11-01T00:59", "2026-11-01T05:59"),
    (CHICAGO, "2026-11-01T01:00", "2026-11-01T06:00"),
    (CHICAGO, "2026-11-01T01:30", "2026-11-01T06:30"),
    (CHICAGO, "2026-11-01T01:59", "2026-11-01T06:59"),
    (CHICAGO, "2026-11-01T02:00", "2026-11-01T08:00"),  # after the fold: CST
    (LONDON, "2026-03-29T01:30", "2026-03-29T01:00"),  # gap 01:00-02:00 -> 02:00 BST
    (LONDON, "2026-10-25T01:30", "2026-10-25T00:30"),  # fold: BST
    (SYDNEY, "2026-10-04T02:30", "2026-10-03T16:00"),  # gap 02:00-03:00 -> 03:00 AEDT
    (SYDNEY, "2026-04-05T02:30", "2026-04-04T15:30"),  # fold: AEDT
    (LORD_HOWE, "2026-10-04T02:15", "2026-10-03T15:30"),  # gap 02:00-02:30 -> 02:30 +11
    (LORD_HOWE, "2026-04-05T01:45", "2026-04-04T14:45"),  # fold 01:30-02:00: +11
    (LORD_HOWE, "2026-04-05T02:00", "2026-04-04T15:30"),  # after the fold: +10:30
    (KOLKATA, "2026-03-08T02:30", "2026-03-07T21:00"),  # nothing odd: +05:30
    ("UTC", "2026-03-29T01:30", "2026-03-29T01:30"),
]


@pytest.mark.parametrize(("zone", "wall", "expected"), RULE)
def test_gap_moves_to_its_end_and_fold_takes_the_first(zone: str, wall: str, expected: str) -> None:
    local = datetime.fromisoformat(wall)
    got = localtime.local_to_utc(local.date(), local.time(), localtime.zone(zone))
    assert got == z(expected) and got.tzinfo is UTC
    assert localtime.to_utc(local, zone) == z(expected)


def test_to_utc_keeps_an_offset_it_is_given() -> None:
    # The second 01:30 of Chicago's fold, written with its offset, stays the second one.
    second = datetime.fromisoformat("2026-11-01T01:30-06:00")
    assert localtime.to_utc(second, CHICAGO) == z("2026-11-01T07:30")
    assert localtime.to_utc(second, KOLKATA) == z("2026-11-01T07:30")


# --- properties around every change ---------------------------------------------------------------


@st.composite
def walls(draw: st.DrawFn) -> tuple[Change, datetime]:
    """A change from the table and a local wall time on the minute grid within 3 h of it."""
    change = draw(st.sampled_from(CHANGES))
    lo, _ = change.odd
    return change, lo + MINUTE * draw(st.integers(-180, 180))


@st.composite
def instants(draw: st.DrawFn) -> tuple[Change, datetime]:
    """A change from the table and a UTC instant within 3 h of it, to the second."""
    change = draw(st.sampled_from(CHANGES))
    return change, change.at + timedelta(seconds=draw(st.integers(-3 * 3600, 3 * 3600)))


PROPERTY = settings(max_examples=300, deadline=None)


@PROPERTY
@given(walls())
def test_local_to_utc_is_the_earliest_instant_reading_at_or_after_the_wall(
    case: tuple[Change, datetime],
) -> None:
    change, wall = case
    got = localtime.to_utc(wall, change.zone)
    assert got == earliest_reading_at_or_after(wall, change.zone)
    lo, hi = change.odd
    if change.gap and lo <= wall < hi:
        assert got == change.at  # the end of the gap
        assert reading(got, change.zone) == hi
    else:
        assert reading(got, change.zone) == wall


@PROPERTY
@given(walls(), st.integers(0, 240))
def test_later_wall_times_are_never_earlier_instants(
    case: tuple[Change, datetime], minutes: int
) -> None:
    change, wall = case
    later = wall + MINUTE * minutes
    assert localtime.to_utc(wall, change.zone) <= localtime.to_utc(later, change.zone)


@PROPERTY
@given(instants())
def test_utc_to_local_and_back(case: tuple[Change, datetime]) -> None:
    change, at = case
    local = localtime.to_local(at, change.zone)
    assert local.utcoffset() == at.astimezone(ZoneInfo(change.zone)).utcoffset()
    back = localtime.to_utc(local.replace(tzinfo=None), change.zone)
    length = abs(
        datetime.combine(change.day, change.before) - datetime.combine(change.day, change.after)
    )
    if not change.gap and change.at <= at < change.at + length:
        assert back == at - length  # the second reading of a fold means the first
    else:
        assert back == at
    assert localtime.to_utc(local, change.zone) == at  # with its offset it is exact


@PROPERTY
@given(instants())
def test_iso_round_trips_exactly_even_in_a_fold(case: tuple[Change, datetime]) -> None:
    change, at = case
    at = at.replace(second=0)
    text = localtime.iso(at, change.zone)
    assert localtime.to_utc(datetime.fromisoformat(text), change.zone) == at
    assert localtime.plain(at, change.zone) == text[:16].replace("T", " ")


@PROPERTY
@given(walls(), st.sampled_from(NO_CHANGE))
def test_zones_without_changes_read_every_wall_time_once(
    case: tuple[Change, datetime], zone: str
) -> None:
    _, wall = case
    got = localtime.to_utc(wall, zone)
    assert reading(got, zone) == wall
    assert got == earliest_reading_at_or_after(wall, zone)


# --- shapes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "zone", "stamp", "short", "seconds", "plain", "iso"),
    [
        (
            z("2026-11-01T06:30:15"),
            CHICAGO,
            "Sun 2026-11-01 01:30 CDT",
            "Sun 01 Nov 01:30",
            "Sun 01 Nov 01:30:15",
            "2026-11-01 01:30",
            "2026-11-01T01:30-05:00",
        ),
        (
            z("2026-11-01T07:30:15"),
            CHICAGO,
            "Sun 2026-11-01 01:30 CST",
            "Sun 01 Nov 01:30",
            "Sun 01 Nov 01:30:15",
            "2026-11-01 01:30",
            "2026-11-01T01:30-06:00",
        ),
        (
            z("2026-11-26T10:00"),
            KOLKATA,
            "Thu 2026-11-26 15:30 IST",
            "Thu 26 Nov 15:30",
            "Thu 26 Nov 15:30:00",
            "2026-11-26 15:30",
            "2026-11-26T15:30+05:30",
        ),
        (
            z("2026-10-03T15:30"),
            LORD_HOWE,
            "Sun 2026-10-04 02:30 +11",
            "Sun 04 Oct 02:30",
            "Sun 04 Oct 02:30:00",
            "2026-10-04 02:30",
            "2026-10-04T02:30+11:00",
        ),
    ],
)
def test_output_shapes(
    at: datetime, zone: str, stamp: str, short: str, seconds: str, plain: str, iso: str
) -> None:
    assert localtime.stamp(at, zone) == stamp
    assert localtime.short(at, zone) == short
    assert localtime.short(at, zone, seconds=True) == seconds
    assert localtime.plain(at, zone) == plain
    assert localtime.iso(at, zone) == iso


def test_naive_instants_are_refused_not_read_in_the_hosts_zone() -> None:
    with pytest.raises(ValueError, match="naive"):
        localtime.to_local(datetime(2026, 11, 1, 6, 30), CHICAGO)
    with pytest.raises(ValueError, match="naive"):
        localtime.stamp(datetime(2026, 11, 1, 6, 30), CHICAGO)


# --- zones and weekdays ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "Europe/Londn", "../../etc/passwd", ""])
def test_an_unknown_zone_is_named_in_the_error(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        localtime.zone(name)
    assert caught.value.field == "zone"
    assert caught.value.message == f"{name!r} is not an IANA time zone (e.g. Europe/London)"
    with pytest.raises(InvalidInput):
        localtime.to_utc(datetime(2026, 1, 1), name)


def test_zones_are_exactly_those_zoneinfo_lists() -> None:
    listed = available_timezones() | {"UTC"}
    on_disk = {
        os.path.relpath(os.path.join(folder, name), root)
        for root in TZPATH
        if os.path.isdir(root)
        for folder, dirs, files in os.walk(root)
        for name in dirs + files
    }
    for name in sorted(listed | on_disk | {"posixrules", "right/UTC", "Europe/", "./UTC"}):
        try:
            localtime.zone(name)
        except InvalidInput:
            assert name not in listed, name
        else:
            assert name in listed, name


def test_known_zones_load() -> None:
    assert localtime.zone(LORD_HOWE) == ZoneInfo(LORD_HOWE)
    assert localtime.zone("UTC").utcoffset(datetime(2026, 1, 1)) == timedelta(0)


def test_weekdays_are_pythons_day_numbers_in_week_order() -> None:
    monday = date(2026, 11, 30)
    assert list(localtime.WEEKDAYS) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    for name, number in localtime.WEEKDAYS.items():
        assert (monday + timedelta(days=number)).strftime("%a").lower() == name


# --- the rota, working hours and policy times agree ---------------------------------------------


def odd_walls(change: Change) -> list[datetime]:
    """Every 5 minutes from an hour before the odd stretch to an hour after it."""
    lo, hi = change.odd
    out, wall = [], lo - timedelta(hours=1)
    while wall <= hi + timedelta(hours=1):
        out.append(wall)
        wall += 5 * MINUTE
    return out


def rota_instant(wall: datetime, zone: str) -> datetime:
    """The rota's answer: a daily rota whose first handoff is at `wall`."""
    spec = RotaSpec(zone, 0, wall.time(), wall.date(), timedelta(days=1), (SlotSpec("s", ("a",)),))
    first = Schedule(spec).handoff(0)
    assert handoff_instants(spec, first - timedelta(days=1), first + MINUTE) == [first]
    return first


def policy_instants(change: Change, walls: list[datetime]) -> tuple[list[datetime], list[datetime]]:
    """Each wall time written in a policy file as an override start (team zone) and a time-off
    start (person zone), as the policy state reads them."""
    doc = example()
    team = doc["teams"][0]
    team["rota"]["timezone"] = change.zone
    next(p for p in doc["people"] if p["id"] == "asha")["timezone"] = change.zone
    doc["overrides"] = [
        {
            "team": team["id"],
            "slot": "frontend",
            "person": "asha",
            "start": w.isoformat(timespec="minutes"),
            "end": (w + timedelta(days=1)).isoformat(timespec="minutes"),
            "reason": str(i),
        }
        for i, w in enumerate(walls)
    ]
    doc["time_off"] = [
        {
            "person": "asha",
            "start": w.isoformat(timespec="minutes"),
            "end": (w + timedelta(days=1)).isoformat(timespec="minutes"),
            "reason": str(i),
        }
        for i, w in enumerate(walls)
    ]
    policy, _ = parse_text(yaml.safe_dump(doc, sort_keys=False))
    state = from_policy(policy)
    overrides = {int(o[5]): o[3] for o in state.overrides}
    time_off = {int(t[3]): t[1] for t in state.time_off}
    return [overrides[i] for i in range(len(walls))], [time_off[i] for i in range(len(walls))]


@pytest.mark.parametrize("change", CHANGES, ids=IDS)
def test_working_hours_and_policy_times_agree_with_the_rota(change: Change) -> None:
    walls = odd_walls(change)
    overrides, time_off = policy_instants(change, walls)
    for wall, override, off in zip(walls, overrides, time_off, strict=True):
        expected = rota_instant(wall, change.zone)
        assert expected == earliest_reading_at_or_after(wall, change.zone), wall
        # Working hours: a window on that weekday opening at the wall time.
        days, end = frozenset({wall.weekday()}), time(12)
        got = next_working_start(expected - timedelta(days=2), change.zone, days, wall.time(), end)
        assert got == expected, wall
        assert in_working_hours(expected, change.zone, days, wall.time(), end), wall
        assert not in_working_hours(
            expected - timedelta(seconds=1), change.zone, days, wall.time(), end
        ), wall
        # A policy file's override (team zone) and time off (person zone), and a form or the
        # command line, which read an ISO time without an offset the same way.
        assert (override, off) == (expected, expected), wall
        typed = datetime.fromisoformat(wall.isoformat(timespec="minutes"))
        assert localtime.to_utc(typed, change.zone) == expected, wall


def test_working_days_skip_the_days_off_and_keep_the_local_time() -> None:
    from onduty.localtime import add_working_days, is_working_day

    friday = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)  # 16:30 in Kolkata
    week = ["mon", "tue", "wed", "thu", "fri"]
    assert add_working_days(friday, 1, "Asia/Kolkata", week) == datetime(
        2026, 12, 7, 11, 0, tzinfo=UTC
    )
    assert add_working_days(friday, 5, "Asia/Kolkata", week) == datetime(
        2026, 12, 11, 11, 0, tzinfo=UTC
    )
    # Across a DST change the local time of day stays: 09:00 in London both sides.
    before = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)  # Friday 09:00 GMT
    assert add_working_days(before, 1, "Europe/London", week) == datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC
    )
    assert not is_working_day(datetime(2026, 12, 6, 6, 0, tzinfo=UTC), "Asia/Kolkata", week)
