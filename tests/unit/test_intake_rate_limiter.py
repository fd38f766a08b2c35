"""The per-process, per-integration fixed-window rate limiter of the inbound endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from onduty.web.api.intake import RateLimiter

START = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)


def test_each_integration_gets_its_limit_per_clock_minute() -> None:
    limiter = RateLimiter()
    assert [limiter.allow(1, 3, START) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow(2, 3, START + timedelta(seconds=59))
    assert not limiter.allow(1, 3, START + timedelta(seconds=59))
    assert limiter.allow(1, 3, START + timedelta(minutes=1))
    # A higher limit set meanwhile applies at once.
    assert limiter.allow(1, 10, START + timedelta(minutes=1, seconds=1))


def test_a_limit_of_one() -> None:
    limiter = RateLimiter()
    assert limiter.allow(7, 1, START)
    assert not limiter.allow(7, 1, START)
