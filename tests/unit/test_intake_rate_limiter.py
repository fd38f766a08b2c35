"""The per-process, per-integration fixed-window rate limiter of the inbound endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from onduty.incidents.admission import RateLimiter

START = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)


class Request:
    """Stands for an inbound request: the limiter knows requests by identity."""


def test_each_integration_gets_its_limit_per_clock_minute() -> None:
    limiter = RateLimiter()
    assert [limiter.allow(Request(), 1, 3, START) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow(Request(), 2, 3, START + timedelta(seconds=59))
    assert not limiter.allow(Request(), 1, 3, START + timedelta(seconds=59))
    assert limiter.allow(Request(), 1, 3, START + timedelta(minutes=1))
    # A higher limit set meanwhile applies at once.
    assert limiter.allow(Request(), 1, 10, START + timedelta(minutes=1, seconds=1))


def test_a_limit_of_one() -> None:
    limiter = RateLimiter()
    assert limiter.allow(Request(), 7, 1, START)
    assert not limiter.allow(Request(), 7, 1, START)


def test_a_request_asked_again_keeps_its_verdict_and_is_counted_once() -> None:
    """The rerun of a failed group-commit batch asks again for the same requests."""
    limiter = RateLimiter()
    first, second, third = Request(), Request(), Request()
    assert limiter.allow(first, 7, 2, START)
    assert limiter.allow(first, 7, 2, START)  # asked again: not counted again
    assert limiter.allow(second, 7, 2, START)
    assert not limiter.allow(third, 7, 2, START)
    assert not limiter.allow(third, 7, 2, START + timedelta(minutes=1))  # its verdict holds
    assert limiter.allow(Request(), 7, 2, START + timedelta(minutes=1))
