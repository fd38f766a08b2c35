"""Benchmark of the rota arithmetic: who is on call at an instant for a team with 2 slots of 10
people and 100 overrides in the year (target <= 50 us a query), and the 52-week shift lists of
50 such teams (target <= 1 s). Run: python bench/bench_oncall.py"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall

from onduty.schedules.rotation import (
    Override,
    RotaSpec,
    Schedule,
    SlotSpec,
    TimeOff,
    on_call_at,
)

YEAR_START = datetime(2027, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
ZONES = ["Europe/London", "America/Chicago", "Australia/Sydney", "Asia/Kolkata"]


def team(seed: int, zone: str = "Europe/London") -> tuple[RotaSpec, list[Override], list[TimeOff]]:
    """2 slots of 10, 100 overrides of 1-47 h over the year, 10 weeks of time off."""
    rng = random.Random(seed)
    spec = RotaSpec(
        timezone=zone,
        handoff_weekday=0,
        handoff_time=wall(10),
        start=date(2026, 11, 2),
        length=timedelta(days=7),
        slots=(
            SlotSpec("frontend", tuple(f"fe{i}" for i in range(10))),
            SlotSpec("backend", tuple(f"be{i}" for i in range(10))),
        ),
    )
    overrides = []
    for i in range(100):
        start = YEAR_START + timedelta(minutes=rng.randrange(365 * 24 * 60))
        slot = "frontend" if i % 2 else "backend"
        person = f"{slot[:2]}{rng.randrange(10)}"
        overrides.append(
            Override(slot, person, start, start + timedelta(hours=rng.randrange(1, 48)))
        )
    time_off = []
    for i in range(10):
        start = YEAR_START + timedelta(days=rng.randrange(365))
        time_off.append(TimeOff(f"{'fe' if i % 2 else 'be'}{i}", start, start + timedelta(days=7)))
    return spec, overrides, time_off


def random_instants(count: int, seed: int = 2) -> list[datetime]:
    rng = random.Random(seed)
    seconds = int(YEAR.total_seconds())
    return [YEAR_START + timedelta(seconds=rng.randrange(seconds)) for _ in range(count)]


def bench_who_held(queries: int = 100_000) -> float:
    """us per query, asking one Schedule built once (what a long-lived engine does)."""
    spec, overrides, _ = team(1)
    schedule = Schedule(spec, overrides)
    instants = random_instants(queries)
    began = time.perf_counter()
    for at in instants:
        schedule.on_call_at(at)
    return (time.perf_counter() - began) / queries * 1e6


def bench_who_cold(queries: int = 10_000) -> float:
    """us per query through the module function, which indexes the 100 overrides every call."""
    spec, overrides, _ = team(1)
    instants = random_instants(queries, seed=3)
    began = time.perf_counter()
    for at in instants:
        on_call_at(spec, at, overrides)
    return (time.perf_counter() - began) / queries * 1e6


def check_agreement(samples: int = 2_000) -> None:
    spec, overrides, time_off = team(1)
    schedule = Schedule(spec, overrides, time_off)
    for at in random_instants(samples, seed=4):
        assert schedule.on_call_at(at) == on_call_at(spec, at, overrides, time_off)


def bench_year_of_shifts(teams: int = 50) -> tuple[float, int]:
    """Seconds for the 52-week shift lists of every slot of `teams` teams, and shifts made."""
    built = [team(i, ZONES[i % 4]) for i in range(teams)]
    end = YEAR_START + timedelta(weeks=52)
    began = time.perf_counter()
    count = 0
    for spec, overrides, time_off in built:
        schedule = Schedule(spec, overrides, time_off)
        for slot in spec.slots:
            count += len(schedule.shifts(slot.name, YEAR_START, end))
    elapsed = time.perf_counter() - began
    assert count >= teams * 2 * 52
    return elapsed, count


def main() -> None:
    check_agreement()
    held = bench_who_held()
    cold = bench_who_cold()
    year, count = bench_year_of_shifts()
    rows = [
        ("who is on call, held Schedule (100k instants)", f"{held:8.1f} us", "<= 50 us"),
        ("who is on call, on_call_at() rebuilt each call", f"{cold:8.1f} us", "(no target)"),
        (f"52-week shifts, 50 teams x 2 slots ({count} shifts)", f"{year:8.3f} s ", "<= 1 s"),
    ]
    print(f"{'benchmark':<52} {'result':>11}  target")
    for name, result, target in rows:
        print(f"{name:<52} {result:>11}  {target}")


if __name__ == "__main__":
    main()
