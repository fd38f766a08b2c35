"""SQLite's in-process writer lock (db/session.py): writers of one process queue on it instead of
sleeping in SQLite's busy handler, and every way a transaction can end lets it go."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from onduty.incidents.models import Counter


@pytest.fixture(autouse=True)
def _sqlite_only(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the writer lock is SQLite's")


def _begin_within(engine: Engine, seconds: float) -> float:
    """Start and commit a write; how long it took."""
    started = time.monotonic()
    with engine.begin() as conn:
        conn.execute(text("UPDATE counter SET value = value WHERE 0"))
    took = time.monotonic() - started
    assert took < seconds, f"a new transaction waited {took:.2f} s"
    return took


def test_a_second_writer_waits_for_the_first_commit_and_no_longer(
    session_factory: sessionmaker[Session],
) -> None:
    holding = threading.Event()
    at: dict[str, float] = {}
    seen: list[int | None] = []

    def first() -> None:
        with session_factory() as session, session.begin():
            session.add(Counter(name="first", value=1))
            session.flush()
            holding.set()
            time.sleep(0.25)
        at["first committed"] = time.monotonic()

    def second() -> None:
        assert holding.wait(10)
        at["second asked"] = time.monotonic()
        with session_factory() as session, session.begin():
            seen.append(session.scalar(select(Counter.value).where(Counter.name == "first")))
            at["second ran"] = time.monotonic()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert seen == [1]  # it ran after the first transaction committed
    assert at["second ran"] - at["second asked"] > 0.2  # it waited for it
    # ... and was let in at once: SQLite's busy handler retries at 228 and 328 ms, 78 ms late.
    assert abs(at["second ran"] - at["first committed"]) < 0.05


def test_rollback_close_and_pool_reset_let_the_lock_go(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        session.add(Counter(name="rolled-back", value=1))
        session.flush()
        session.rollback()
    _begin_within(engine, 1)

    session = session_factory()
    session.add(Counter(name="closed", value=1))
    session.flush()
    session.close()  # ends the transaction without a commit
    _begin_within(engine, 1)

    conn = engine.connect()
    conn.begin()
    conn.execute(text("UPDATE counter SET value = value WHERE 0"))
    conn.close()  # back to the pool mid-transaction: the pool's reset rolls it back
    _begin_within(engine, 1)

    with session_factory() as session:
        names = set(session.scalars(select(Counter.name)))
    assert not names & {"rolled-back", "closed"}
