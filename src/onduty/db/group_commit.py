"""Group commit: small write jobs from many requests run together in one transaction on one
writer thread, and each caller gets its job's result only after that transaction commits.

Why: on SQLite every transaction takes the single write lock and ends in a WAL commit, and on
PostgreSQL every commit is a round trip and a WAL flush; at hundreds of alerts a second those
fixed costs, not the statements, decide throughput. Batching pays them once per batch, and a
batch grows by itself when requests arrive faster than one transaction takes.

A job is `fn(session) -> result`: it reads and writes through the shared session, never commits,
and must be safe to run again (a failed batch is rolled back and its jobs rerun one by one, so
one bad request cannot fail the others)."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("onduty.db.group_commit")
T = TypeVar("T")
MAX_BATCH = 256
# Set in `session.info` of a batch's session: a job may then skip precautions that only matter
# when it runs alone, because a failed batch is rerun job by job without this mark.
BATCHED = "group_commit.batched"

Job = tuple[Callable[[Session], Any], Future[Any]]


class GroupCommit:
    """The writer thread starts on the first job and ends after `idle` seconds without one, so
    an idle app (or a test's app) holds no thread."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, name: str = "writer", idle: float = 5.0
    ) -> None:
        self._session_factory = session_factory
        self._name = name
        self._idle = idle
        self._queue: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False

    def submit(self, fn: Callable[[Session], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:  # the put and the writer's idle exit are ordered by this lock
            self._queue.put((fn, future))
            if not self._running:
                self._running = True
                threading.Thread(target=self._loop, name=f"onduty-{self._name}").start()
        return future

    def run(self, fn: Callable[[Session], T]) -> T:
        """Run `fn` in the next batch; its result once committed, or its exception."""
        return self.submit(fn).result()

    async def arun(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self._idle)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._running = False
                        return
                continue
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._run_batch([j for j in batch if j[1].set_running_or_notify_cancel()])

    def _run_batch(self, batch: list[Job]) -> None:
        if not batch:
            return
        try:
            with self._session_factory() as session, session.begin():
                session.info[BATCHED] = True
                results = [fn(session) for fn, _ in batch]
        except Exception:
            log.info("a batch of %d failed; running its jobs one by one", len(batch))
        else:
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
            return
        for fn, future in batch:
            try:
                with self._session_factory() as session, session.begin():
                    result = fn(session)
            except BaseException as exc:  # the caller re-raises it; the writer must go on
                future.set_exception(exc)
            else:
                future.set_result(result)
