"""Group commit on the real database: jobs waiting together share one transaction, each caller
gets its result only once that transaction has committed, and a failing job fails alone. The
items here are jobs, each run by the batch function in turn; intake's batch function is tested
through its endpoints (test_intake_*.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from onduty.db.group_commit import BATCHED, GroupCommit
from onduty.incidents.models import Counter


def _add(
    name: str, started: threading.Event | None = None, release: threading.Event | None = None
) -> Callable[[Session], int]:
    """A job adding a counter row; with events, it waits in the middle until released."""

    def job(session: Session) -> int:
        if started is not None and release is not None:
            started.set()
            assert release.wait(10)
        session.add(Counter(name=name, value=1))
        session.flush()
        return int(session.execute(text("SELECT 1")).scalar_one())

    return job


Job = Callable[[Session], Any]


def _writer(factory: sessionmaker[Session], **options: Any) -> GroupCommit[Job, Any]:
    return GroupCommit(factory, lambda session, jobs: [job(session) for job in jobs], **options)


def _blocking(writer: GroupCommit[Job, Any], name: str) -> tuple[Future[Any], threading.Event]:
    """Submit a job that holds the writer in its batch until released; once it runs."""
    started, release = threading.Event(), threading.Event()
    future = writer.submit(_add(name, started, release))
    assert started.wait(10)
    return future, release


def _names(factory: sessionmaker[Session]) -> set[str]:
    with factory() as session:
        return set(session.scalars(select(Counter.name)))


def test_jobs_waiting_together_share_one_transaction_and_answer_after_commit(
    session_factory: sessionmaker[Session],
) -> None:
    writer = _writer(session_factory, idle=0.5)
    first, release = _blocking(writer, "first")
    # While the first batch runs, five more jobs queue up; they must go in one batch.
    seen: list[tuple[int, bool]] = []

    def record(name: str) -> Callable[[Session], str]:
        def job(session: Session) -> str:
            seen.append((id(session), bool(session.info.get(BATCHED))))
            session.add(Counter(name=name, value=2))
            return name

        return job

    queued = [writer.submit(record(f"queued{i}")) for i in range(5)]
    assert not any(f.done() for f in queued)
    assert "first" not in _names(session_factory)  # not committed, so not answered either
    assert not first.done()
    release.set()
    assert first.result(10) == 1
    assert [f.result(10) for f in queued] == [f"queued{i}" for i in range(5)]
    assert len({session for session, _ in seen}) == 1  # one session, one transaction
    assert all(batched for _, batched in seen)
    assert _names(session_factory) >= {"first"} | {f"queued{i}" for i in range(5)}


def test_a_failing_job_fails_alone_and_the_others_commit(
    session_factory: sessionmaker[Session],
) -> None:
    writer = _writer(session_factory, idle=0.5)
    blocker, release = _blocking(writer, "blocker")

    def broken(session: Session) -> None:
        session.add(Counter(name="broken", value=1))
        session.flush()
        raise ValueError("this request is bad")

    good_before = writer.submit(_add("good-before"))
    bad = writer.submit(broken)
    good_after = writer.submit(_add("good-after"))
    release.set()
    assert blocker.result(10) == 1
    with pytest.raises(ValueError, match="this request is bad"):
        bad.result(10)
    assert good_before.result(10) == 1 and good_after.result(10) == 1
    names = _names(session_factory)
    assert {"blocker", "good-before", "good-after"} <= names
    assert "broken" not in names


def test_the_writer_thread_ends_when_idle_and_starts_again(
    session_factory: sessionmaker[Session],
) -> None:
    writer = _writer(session_factory, name="idle-test", idle=0.05)
    assert writer.submit(_add("one")).result(10) == 1
    pause = threading.Event()
    for _ in range(100):
        if not any(t.name == "onduty-idle-test" for t in threading.enumerate()):
            break
        pause.wait(0.05)
    assert not any(t.name == "onduty-idle-test" for t in threading.enumerate())
    assert writer.submit(_add("two")).result(10) == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Counter)) >= 2
