"""Local time, one way everywhere: zone lookup, weekday names, a local wall-clock time to its UTC
instant (one rule for DST gaps and folds) and back, and the few ways an instant is written.
Pure: no database, no web, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from onduty.errors import InvalidInput

WEEKDAYS: Mapping[str, int] = MappingProxyType(
    {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
)
"""Day names as the policy file and the database spell them, to Python's day numbers (Monday =
0); iterating gives the names in week order."""


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA time zone called `name`. Anything else (a typo, a path, a file in the zoneinfo
    directory that is not a zone) is InvalidInput naming it, with field "zone"."""
    # The zones `available_timezones()` lists, told apart without building that list (it opens
    # every file under the zone folders: 20-100 ms, a tenth of a short command): zoneinfo refuses
    # paths that leave its folders and files that are not zones, and of the ones it loads the
    # list leaves out only posixrules and the right/ and posix/ copies. (UTC loads everywhere.)
    if name != "posixrules" and not name.startswith(("right/", "posix/")):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise InvalidInput(f"{name!r} is not an IANA time zone (e.g. Europe/London)", "zone")


@lru_cache(maxsize=65536)
def local_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant at which clocks in `tz` read `wall` on `day`.

    The one rule for times that daylight saving makes odd: the answer is the earliest instant
    whose local reading is at or after `day wall`. So a wall time that a spring-forward change
    skips moves to the end of the gap (02:30 in a 02:00->03:00 gap is 03:00 in the new offset),
    and an ambiguous one in a fall-back fold takes its first occurrence (the earlier offset's).
    """
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # In a gap, fold=0 reads the wall time with the offset before the transition and fold=1
    # with the one after; the transition lies between the two readings. zoneinfo does not
    # expose it, so bisect to the second (tz transitions are on whole UTC seconds).
    lo = naive.replace(tzinfo=tz, fold=1).astimezone(UTC).replace(microsecond=0)
    hi = first
    before = lo.astimezone(tz).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = (lo + (hi - lo) / 2).replace(microsecond=0)
        if mid.astimezone(tz).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi


def to_utc(value: datetime, zone_name: str) -> datetime:
    """A time a person wrote (a form, a command line, a policy file) as aware UTC: with an
    offset it is exact; without one it is a wall-clock time in `zone_name`, read by the rule of
    `local_to_utc` (the same instant the rota computes for that wall time)."""
    if value.tzinfo is None:
        return local_to_utc(value.date(), value.time(), zone(zone_name))
    return value.astimezone(UTC)


def to_local(at: datetime, zone_name: str) -> datetime:
    """An aware instant as the local time in `zone_name`. A naive one is refused: Python would
    read it in the host's zone."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime, expected an aware one: {at.isoformat()}")
    return at.astimezone(zone(zone_name))


# --- writing an instant: one function per shape ---------------------------------------------


def stamp(at: datetime, zone_name: str) -> str:
    """For a terminal, where each line must stand alone: "Sun 2026-03-29 03:00 CEST"."""
    return to_local(at, zone_name).strftime("%a %Y-%m-%d %H:%M %Z")


def short(at: datetime, zone_name: str, *, seconds: bool = False) -> str:
    """For a web page that names the zone once: "Sun 29 Mar 03:00" (or "03:00:15")."""
    return to_local(at, zone_name).strftime("%a %d %b %H:%M:%S" if seconds else "%a %d %b %H:%M")


def plain(at: datetime, zone_name: str) -> str:
    """For a message that names the zone itself: "2026-03-29 03:00"."""
    return to_local(at, zone_name).strftime("%Y-%m-%d %H:%M")


def iso(at: datetime, zone_name: str) -> str:
    """For files and exports, exact even inside a fold: "2026-03-29T03:00+02:00"."""
    return to_local(at, zone_name).isoformat(timespec="minutes")


def add_working_days(at: datetime, count: int, zone_name: str, days: Iterable[str]) -> datetime:
    """The instant `count` working days after `at`, at the same local time of day: a working
    day is one of `days` (names as in WEEKDAYS) in `zone_name`. "Due in 5 working days" from a
    Friday afternoon is the next Friday afternoon with a Monday-to-Friday week."""
    working = {WEEKDAYS[d] for d in days} or set(range(7))
    local = to_local(at, zone_name)
    day = local.date()
    left = count
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() in working:
            left -= 1
    return local_to_utc(day, local.time().replace(tzinfo=None), zone(zone_name))


def is_working_day(at: datetime, zone_name: str, days: Iterable[str]) -> bool:
    return to_local(at, zone_name).weekday() in ({WEEKDAYS[d] for d in days} or set(range(7)))
