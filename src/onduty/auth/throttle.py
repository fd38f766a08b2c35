"""Slowing down password guessing without handing anyone a way to lock a user out.

Failed sign-ins are counted under three keys: the (username, address) pair, the address alone
and the username alone. Each key has a number of free failures; past it, every further attempt
under that key must wait twice as long as the one before (1 s, 2 s, 4 s, ... up to the key's
cap). Why three:

- the pair stops one client guessing one password (5 free, capped at 15 minutes), and only that
  client: someone elsewhere typing the username cannot lock its owner out;
- the address stops one client spraying one password over many usernames (30 free, 15 min);
- the username stops a guess spread over many addresses. It needs many addresses to reach, and
  its cap is one minute, so it is the weakest lock-out lever that still bounds a botnet to about
  one guess a minute per user.

An attempt is counted as a failure *before* the password is checked, under row locks, so that
concurrent attempts cannot all pass the check; a success then takes its count back and clears
its pair. A key idle for a day is forgotten, and its row purged by the next attempt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from onduty.auth.models import LoginFailure
from onduty.db.dialect import insert_new, lock
from onduty.errors import OndutyError

FORGET_AFTER = timedelta(days=1)


PAIR_CAP = ADDRESS_CAP = timedelta(minutes=15)
USERNAME_CAP = timedelta(minutes=1)


@dataclass(frozen=True)
class Limits:
    """Free failures per key (settings `login_throttle_*`); the caps are fixed above."""

    pair: int = 5
    address: int = 30
    username: int = 100


class TooManyAttempts(OndutyError):
    """Sign-ins are paused for this username or address after repeated failures."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"too many failed logins: try again in {seconds} s", "username")
        self.seconds = seconds


def _keys(username: str, address: str, limits: Limits) -> list[tuple[str, str, int, timedelta]]:
    # "" stands for "any": (username, "") counts a username over every address. Sorted, so
    # that concurrent attempts lock their rows in the same order.
    return sorted(
        [
            (username, address, limits.pair, PAIR_CAP),
            ("", address, limits.address, ADDRESS_CAP),
            (username, "", limits.username, USERNAME_CAP),
        ],
        key=lambda k: (k[0], k[1]),
    )


def _wait(row: LoginFailure, free: int, cap: timedelta, now: datetime) -> float:
    if row.failures < free:
        return 0
    delay = min(timedelta(seconds=2 ** min(row.failures - free, 20)), cap)
    return (row.last_failure_at + delay - now).total_seconds()


def begin_attempt(
    session: Session, *, username: str, address: str, now: datetime, limits: Limits
) -> None:
    """Count an attempt as failed under each of its keys, unless one of them must still wait.

    Raises:
        TooManyAttempts: a key is paused; nothing was counted.
    """
    session.execute(delete(LoginFailure).where(LoginFailure.last_failure_at < now - FORGET_AFTER))
    keys = _keys(username, address, limits)
    session.execute(
        insert_new(session, LoginFailure),
        [{"username": u, "address": a, "failures": 0, "last_failure_at": now} for u, a, *_ in keys],
    )
    query = (
        select(LoginFailure)
        .where(
            or_(*(and_(LoginFailure.username == u, LoginFailure.address == a) for u, a, *_ in keys))
        )
        .order_by(LoginFailure.username, LoginFailure.address)
    )
    rows = {(r.username, r.address): r for r in session.scalars(lock(session, query))}
    longest = max(_wait(rows[(u, a)], free, cap, now) for u, a, free, cap in keys)
    if longest > 0:
        raise TooManyAttempts(max(1, math.ceil(longest)))
    for row in rows.values():
        row.failures += 1
        row.last_failure_at = now
    session.flush()


def attempt_succeeded(session: Session, *, username: str, address: str) -> None:
    """Take back the failure `begin_attempt` counted, and forget the pair's earlier ones."""
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.username == username, LoginFailure.address == address
        )
    )
    session.execute(
        update(LoginFailure)
        .where(
            or_(
                and_(LoginFailure.username == "", LoginFailure.address == address),
                and_(LoginFailure.username == username, LoginFailure.address == ""),
            ),
            LoginFailure.failures > 0,
        )
        .values(failures=LoginFailure.failures - 1)
    )
