"""The few places where SQLite and PostgreSQL differ, kept together."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

T = TypeVar("T", bound=Any)


def claim(session: Session, query: Select[T], *, of: Any = None) -> Select[T]:
    """Make `query` claim its rows for this transaction.

    PostgreSQL: `FOR NO KEY UPDATE SKIP LOCKED` (see `lock` for why not `FOR UPDATE`), so
    several engines take disjoint rows without waiting.
    SQLite: unchanged; every write transaction starts with BEGIN IMMEDIATE (db/session.py), so a
    transaction that reads due work already holds the only write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        # `of` names the table to lock when the query outer-joins others (PostgreSQL cannot lock
        # the nullable side of an outer join).
        return query.with_for_update(skip_locked=True, of=of, key_share=True)
    return query


def lock(session: Session, query: Select[T]) -> Select[T]:
    """`FOR NO KEY UPDATE` (waiting) on PostgreSQL; SQLite already serialises writers.

    Not `FOR UPDATE`: that also blocks the `FOR KEY SHARE` lock PostgreSQL takes on a row
    whenever another transaction inserts a row referring to it (a timeline event, an outbox
    row), so deliveries would queue behind every running step of their incident."""
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(key_share=True)
    return query


def insert_new(session: Session, model: Any) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` for `model`: a row whose unique key exists is skipped
    (with RETURNING, nothing comes back), in one statement instead of a SAVEPOINT, an insert
    and a RELEASE. Both databases spell it the same; SQLAlchemy has a construct per dialect."""
    # Each construct is imported once its database is in use (after that, an import statement
    # is a dictionary lookup): PostgreSQL's dialect would add a twelfth to a short command on a
    # SQLite file.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(model).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(model).on_conflict_do_nothing()


# --- reports: time arithmetic and percentiles -------------------------------------------------

READ_ONLY = "onduty_read_only"
"""An execution option for a connection that only reads: on SQLite its transaction starts with
a deferred BEGIN (a WAL snapshot) instead of taking the write lock (db/session.py)."""

SQLITE_PERCENTILE = "onduty_percentile"


class Percentile:
    """SQLite aggregate `onduty_percentile(value, fraction)`: PostgreSQL's `percentile_cont`
    (linear interpolation between the closest ranks; NULLs ignored), registered on every
    SQLite connection (db/session.py)."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value: float | None, fraction: float) -> None:
        if value is not None:
            self.values.append(float(value))
        self.fraction = float(fraction)

    def finalize(self) -> float | None:
        if not self.values:
            return None
        values = sorted(self.values)
        rank = self.fraction * (len(values) - 1)
        low = int(rank)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * (rank - low)


def _name(session: Session) -> str:
    return session.get_bind().dialect.name


def epoch(session: Session, column: Any) -> Any:
    """Seconds since 1970 of a stored instant (UTCDateTime) as an SQL expression."""
    from sqlalchemy import Float, cast, func

    if _name(session) == "postgresql":
        return cast(func.extract("epoch", column), Float)
    return (func.julianday(column) - 2440587.5) * 86400.0


def epoch_of_text(session: Session, text: Any) -> Any:
    """Seconds since 1970 of an ISO 8601 string with an offset (a JSON value)."""
    from sqlalchemy import DateTime, Float, cast, func

    if _name(session) == "postgresql":
        return cast(func.extract("epoch", cast(text, DateTime(timezone=True))), Float)
    return (func.julianday(text) - 2440587.5) * 86400.0


def floor_div(session: Session, value: Any, size: int) -> Any:
    """floor(value / size) as an integer expression (weeks, minutes)."""
    from sqlalchemy import Integer, cast, func

    if _name(session) == "postgresql":
        return cast(func.floor(value / size), Integer)
    # SQLite's CAST truncates towards zero; the values here are after 1970, so it floors.
    return cast(value / size, Integer)


def percentile(session: Session, value: Any, fraction: float) -> Any:
    """The `fraction` percentile (0..1) of `value` in a group, NULLs ignored."""
    from sqlalchemy import func, literal

    if _name(session) == "postgresql":
        return func.percentile_cont(fraction).within_group(value)
    return getattr(func, SQLITE_PERCENTILE)(value, literal(fraction))
