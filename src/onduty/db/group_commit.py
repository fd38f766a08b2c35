"""Group commit: small write jobs from many requests run together in one transaction on one
writer thread, and each caller gets its job's result only after that transaction commits.

Why: on SQLite every transaction takes the single write lock and ends in a WAL commit, and on
PostgreSQL every commit is a round trip and a WAL flush; at hundreds of alerts a second those
fixed costs, not the statements, decide throughput. Batching pays them once per batch, and a
batch grows by itself when requests arrive faster than one transaction takes.

The writer is given a batch function, `run(session, items) -> results` (one result per item, in
order), so that a batch can be stored in a few set-based statements instead of item by item. It
reads and writes through the given session, never commits, and must be safe to run again: a
failed batch is rolled back and its items rerun one by one, each alone in its transaction, so
one bad request cannot fail the others."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from onduty.db import failures

log = logging.getLogger("onduty.db.group_commit")
Item = TypeVar("Item")
Result = TypeVar("Result")
MAX_BATCH = 256
# Set in `session.info` of a batch's session: the batch function may then skip precautions
# that only matter for an item alone, because a failed batch is rerun item by item without it.
BATCHED = "group_commit.batched"


class GroupCommit(Generic[Item, Result]):
    """The writer thread starts on the first item and ends after `idle` seconds without one, so
    an idle app (or a test's app) holds no thread."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        run: Callable[[Session, list[Item]], list[Result]],
        *,
        name: str = "writer",
        idle: float = 5.0,
    ) -> None:
        self._session_factory = session_factory
        self._run = run
        self._name = name
        self._idle = idle
        self._queue: queue.SimpleQueue[tuple[Item, Future[Result]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False

    def submit(self, item: Item) -> Future[Result]:
        """Queue `item` for the next batch; its result, once committed, or its exception."""
        future: Future[Result] = Future()
        with self._lock:  # the put and the writer's idle exit are ordered by this lock
            self._queue.put((item, future))
            if not self._running:
                self._running = True
                threading.Thread(target=self._loop, name=f"onduty-{self._name}").start()
        return future

    async def arun(self, item: Item) -> Result:
        return await asyncio.wrap_future(self.submit(item))

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

    def _run_batch(self, batch: list[tuple[Item, Future[Result]]]) -> None:
        if not batch:
            return
        try:
            results = self._transaction([item for item, _ in batch], batched=True)
        except Exception:
            log.info("a batch of %d failed; running its items one by one", len(batch))
        else:
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
            return
        for item, future in batch:
            try:
                [result] = self._transaction([item], batched=False)
            except BaseException as exc:  # the caller re-raises it; the writer must go on
                future.set_exception(exc)
            else:
                future.set_result(result)

    def _transaction(self, items: list[Item], *, batched: bool) -> list[Result]:
        """Run `items` in one transaction, again (a few times) when PostgreSQL aborted it to
        break a deadlock or a serialisation conflict."""
        for attempt in range(failures.RETRIES):
            try:
                with self._session_factory() as session, session.begin():
                    if batched:
                        session.info[BATCHED] = True
                    return self._run(session, items)
            except Exception as exc:
                if not failures.retryable(exc) or attempt == failures.RETRIES - 1:
                    raise
        raise AssertionError("unreachable")
