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
