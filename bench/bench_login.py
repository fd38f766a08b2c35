"""Benchmark of sign-ins under attack: a real `onduty serve` on 127.0.0.1 takes Alertmanager
alerts at a steady rate while /healthz is probed, first alone, then with 20 concurrent bad
sign-ins running (closed loop: each worker sends its next as soon as the last is answered). Each
bad sign-in has a new random username and a new X-Forwarded-For address (uvicorn trusts it from
127.0.0.1), as a spray from many machines would: no throttle applies, so every one costs an
argon2 hash. Phases alternate (quiet, attacked, quiet, attacked, ...) in one run.
Targets: while attacked, /healthz p99 <= 100 ms and intake p99 within 20 % of the quiet phases.
Run: python bench/bench_login.py [--db sqlite|postgresql] [--rate 200] [--seconds 15]
                                 [--rounds 2] [--attackers 20]"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from dataclasses import dataclass, field

import httpx2 as httpx

from bench_intake import KEY, alert_body, database, server


@dataclass
class Phase:
    intake: list[float] = field(default_factory=list)  # ms
    healthz: list[float] = field(default_factory=list)  # ms
    logins: list[float] = field(default_factory=list)  # ms
    statuses: dict[int, int] = field(default_factory=dict)
    late_sends: int = 0  # intake posts the generator started more than 10 ms behind schedule


def p(values: list[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else float("nan")
    )


async def intake(base: str, rate: float, seconds: float, phase: Phase, tag: str) -> None:
    """Open loop: one post every 1/rate s, whatever the answers' latency."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def post(i: int) -> None:
            started = time.perf_counter()
            answer = await client.post(
                f"/integrations/{KEY}", content=alert_body([f"{tag}-{i}"], f"{tag}-{i}")
            )
            phase.intake.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 202, answer.text

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.010:
                phase.late_sends += 1
            tasks.append(asyncio.create_task(post(i)))
        await asyncio.gather(*tasks)


async def probe(base: str, stop: asyncio.Event, phase: Phase) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            assert (await client.get("/healthz")).status_code == 200
            phase.healthz.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.02)


async def attack(base: str, workers: int, stop: asyncio.Event, phase: Phase) -> None:
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300) as client:

        async def worker() -> None:
            while not stop.is_set():
                address = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                started = time.perf_counter()
                answer = await client.post(
                    "/login",
                    data={"username": f"user{rng.getrandbits(40):x}", "password": "Winter2026!"},
                    headers={"X-Forwarded-For": address},
                )
                phase.logins.append((time.perf_counter() - started) * 1000)
                phase.statuses[answer.status_code] = phase.statuses.get(answer.status_code, 0) + 1

        await asyncio.gather(*(worker() for _ in range(workers)))


async def run_phase(base: str, args: argparse.Namespace, attacked: bool, tag: str) -> Phase:
    phase = Phase()
    stop = asyncio.Event()
    background = [asyncio.create_task(probe(base, stop, phase))]
    if attacked:
        background.append(asyncio.create_task(attack(base, args.attackers, stop, phase)))
        await asyncio.sleep(2)  # let the attack reach its steady state first
    await intake(base, args.rate, args.seconds, phase, tag)
    stop.set()
    await asyncio.gather(*background)
    return phase


def line(name: str, phase: Phase) -> str:
    text = (
        f"{name:>9}: intake {len(phase.intake)} posts p50 {p(phase.intake, 50):.1f} ms "
        f"p99 {p(phase.intake, 99):.1f} ms; /healthz {len(phase.healthz)} probes "
        f"p50 {p(phase.healthz, 50):.1f} ms p99 {p(phase.healthz, 99):.1f} ms "
        f"max {max(phase.healthz):.1f} ms; late sends {phase.late_sends}"
    )
    if phase.logins:
        text += (
            f"; bad sign-ins {len(phase.logins)} {dict(sorted(phase.statuses.items()))} "
            f"p50 {p(phase.logins, 50):.0f} ms"
        )
    return text


def pooled(phases: list[Phase]) -> Phase:
    out = Phase()
    for ph in phases:
        out.intake += ph.intake
        out.healthz += ph.healthz
        out.logins += ph.logins
        out.late_sends += ph.late_sends
        for code, n in ph.statuses.items():
            out.statuses[code] = out.statuses.get(code, 0) + n
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rate", type=float, default=200, help="intake posts per second")
    parser.add_argument("--seconds", type=float, default=15, help="intake time per phase")
    parser.add_argument("--rounds", type=int, default=2, help="(quiet, attacked) pairs")
    parser.add_argument("--attackers", type=int, default=20, help="concurrent bad sign-ins")
    args = parser.parse_args()
    print(
        f"{args.db}: {args.rate:g} alerts/s for {args.seconds:g} s per phase, {args.rounds} "
        f"rounds, {args.attackers} attackers; {os.cpu_count()} CPUs, load average before "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    quiet, attacked = [], []
    with database(args.db) as url, server(url, engine=False) as base:
        asyncio.run(intake(base, args.rate, 2, Phase(), "warm"))
        for r in range(args.rounds):
            quiet.append(asyncio.run(run_phase(base, args, False, f"q{r}")))
            print(line(f"quiet {r + 1}", quiet[-1]))
            attacked.append(asyncio.run(run_phase(base, args, True, f"a{r}")))
            print(line(f"attack {r + 1}", attacked[-1]))
    q, a = pooled(quiet), pooled(attacked)
    print(line("quiet", q))
    print(line("attacked", a))
    ratio = p(a.intake, 99) / p(q.intake, 99)
    print(
        f"attacked /healthz p99 {p(a.healthz, 99):.1f} ms (target <= 100 ms): "
        f"{'met' if p(a.healthz, 99) <= 100 else 'NOT met'}; intake p99 attacked/quiet "
        f"{ratio:.2f} (target <= 1.20): {'met' if ratio <= 1.2 else 'NOT met'}; load average "
        f"after {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
