"""Benchmark of the rota arithmetic (issue 3 targets): who is on call at an instant for a team
with 2 slots of 10 people and 100 overrides in the year (<= 50 us per query), and the 52-week
shift list of 50 teams (<= 1 s). Run: python bench/bench_oncall.py"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall

from onduty.schedules.rotation import Override, RotaSpec, Schedule, SlotSpec

YEAR_START = datetime(2027, 1, 1, tzinfo=UTC)


def team(seed: int, zone: str = "Europe/London") -> tuple[RotaSpec, list[Override]]:
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
    return spec, overrides


def bench_who(queries: int = 100_000) -> float:
    spec, overrides = team(1)
    schedule = Schedule(spec, overrides)
    rng = random.Random(2)
    instants = [YEAR_START + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(queries)]
    began = time.perf_counter()
    for at in instants:
        schedule.on_call_at(at)
    return (time.perf_counter() - began) / queries * 1e6


def bench_year_of_shifts(teams: int = 50) -> float:
    zones = ["Europe/London", "America/Chicago", "Australia/Sydney", "Asia/Kolkata"]
    built = [team(i, zones[i % 4]) for i in range(teams)]
    began = time.perf_counter()
    count = 0
    for spec, overrides in built:
        schedule = Schedule(spec, overrides)
        for slot in spec.slots:
            count += len(schedule.shifts(slot.name, YEAR_START, YEAR_START + timedelta(weeks=52)))
    elapsed = time.perf_counter() - began
    assert count >= teams * 2 * 52
    return elapsed


if __name__ == "__main__":
    who = bench_who()
    year = bench_year_of_shifts()
    print("benchmark                                         result     target")
    print(f"who is on call (2 slots x 10 people, 100 overr.)  {who:6.1f} us  <= 50 us")
    print(f"52-week shift list of 50 teams                    {year:6.3f} s   <= 1 s")
