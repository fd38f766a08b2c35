"""Benchmark: a flood of anonymous reports on the public form against alert intake, in one run.

`onduty serve` (no engine) in a subprocess on SQLite or PostgreSQL; alert intake is measured
alone, then while 1,000 anonymous reports arrive from one address (this machine) on
`POST /report`, then alone again; the figure "without" is the mean of the two runs alone.
Target (issue #15): the flood stores at most the rate limit (per address per minute; a run that
crosses a minute boundary may store two windows' worth) and intake keeps within 10 % of its
throughput without the flood.
Run: python bench/bench_report_flood.py [--db sqlite|postgresql] [--alerts 3000] [--reports 1000]"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx2 as httpx
import sqlalchemy as sa

from bench_intake import alert_body, database, load, server

REPORT = {"service": "storefront", "title": "Images do not load", "actual": "blank tiles"}


async def flood(base: str, count: int, concurrency: int) -> tuple[float, dict[int, int]]:
    """Post `count` reports; (seconds, answers by status)."""
    statuses: dict[int, int] = {}
    todo = iter(range(count))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            for _ in todo:
                answer = await client.post("/report", data=REPORT)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, statuses


async def both(
    base: str, bodies: list[bytes], reports: int, concurrency: int
) -> tuple[tuple[float, list[float], int], tuple[float, dict[int, int]]]:
    intake, flooded = await asyncio.gather(
        load(base, bodies, concurrency), flood(base, reports, concurrency)
    )
    return intake, flooded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--alerts", type=int, default=3000)
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    n = args.alerts
    print(
        f"{args.db}: {n} alerts per phase, {args.reports} reports, concurrency {args.concurrency}"
    )
    with database(args.db) as url, server(url, False) as base:
        asyncio.run(load(base, [alert_body([f"warm{i}"], f"warm{i}") for i in range(200)], 8))

        def phase(tag: str) -> list[bytes]:
            return [alert_body([f"{tag}{i}"], f"{tag}{i}") for i in range(n)]

        alone_1, _latencies, failed_1 = asyncio.run(load(base, phase("a"), args.concurrency))
        (flooded, _latencies, failed_f), (flood_s, statuses) = asyncio.run(
            both(base, phase("f"), args.reports, args.concurrency)
        )
        alone_2, _latencies, failed_2 = asyncio.run(load(base, phase("b"), args.concurrency))
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(
                sa.text("SELECT count(*) FROM incident WHERE source = 'anonymous'")
            ).scalar()
        engine.dispose()
    without = (n / alone_1 + n / alone_2) / 2
    during = n / flooded
    print(f"  intake alone (1st): {n / alone_1:,.0f} alerts/s; non-202: {failed_1}")
    print(f"  intake alone (2nd): {n / alone_2:,.0f} alerts/s; non-202: {failed_2}")
    print(f"  intake during flood: {during:,.0f} alerts/s; non-202: {failed_f}")
    print(
        f"  flood: {args.reports} reports in {flood_s:.2f} s = {args.reports / flood_s:,.0f}/s; "
        f"answers {dict(sorted(statuses.items()))}; reports stored: {stored}"
    )
    print(f"  intake during the flood / without: {during / without:.1%}")


if __name__ == "__main__":
    main()
