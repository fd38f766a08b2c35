"""The configuration version: one row, bumped in the transaction of every change to what paging
reads as reference data (the policy file's objects, rotas, overrides, time off, people and their
rules, triage rules), so that each process can keep that data between transactions and rebuild
it exactly when it changed, its own change or another process's.

Why: the intake writer and the engine read the same criticality rules, priority policy,
escalation snapshots and notification rules for every batch; read once per transaction they
were a quarter of the writer's time. `configured` keeps them for the process and costs one
SELECT of the version per transaction instead.

Exactness: the version is read before the data it guards, in the same transaction, so cached
data is never older than the version it is filed under; a bump is a row lock held to commit,
so two configuration changes are ordered."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Engine, Integer, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from onduty.db.base import Base
from onduty.db.memo import forget, remembered

T = TypeVar("T")
_VERSION = "config.version"
_SHARED = "config.shared"
_BUMPED = "config.bumped"


class ConfigVersion(Base):
    __tablename__ = "config_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    version: Mapped[int] = mapped_column(BigInteger)


class _Kept:
    """What one process keeps for one database (an Engine): tests and tools may hold several."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version: int | None = None
        self.values: dict[tuple[str, Hashable], Any] = {}


_kept: weakref.WeakKeyDictionary[Engine, _Kept] = weakref.WeakKeyDictionary()
_kept_lock = threading.Lock()


def _for(session: Session) -> _Kept:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _kept_lock:
        kept = _kept.get(engine)
        if kept is None:
            kept = _kept[engine] = _Kept()
        return kept


def bump(session: Session) -> None:
    """The configuration changes in this transaction: every process rebuilds what it keeps,
    this transaction included, once it commits (and this transaction at once)."""
    bumped = session.execute(
        update(ConfigVersion)
        .where(ConfigVersion.id == 1)
        .values(version=ConfigVersion.version + 1)
        .returning(ConfigVersion.version)
    ).first()
    if bumped is None:  # a database made without the migration's row
        session.add(ConfigVersion(id=1, version=1))
        session.flush()
    forget(session, _VERSION)
    forget(session, _SHARED)
    remembered(session, _BUMPED, None, lambda: True)


def current(session: Session) -> int:
    """The version this transaction sees, read once per transaction."""
    return remembered(
        session,
        _VERSION,
        None,
        lambda: int(
            session.scalar(select(ConfigVersion.version).where(ConfigVersion.id == 1)) or 0
        ),
    )


def configured(session: Session, name: str, key: Hashable, make: Callable[[], T]) -> T:
    """`make()` for (`name`, `key`), kept by this process while the configuration version is
    unchanged. `make` must return plain values (no ORM objects), which callers never mutate.
    Inside a transaction that bumped the version, nothing is shared: it sees its own changes."""
    if remembered(session, _BUMPED, None, lambda: False):
        # Uncommitted (and perhaps rolled back): never filed under a version others may see.
        return remembered(session, _SHARED, (name, key), make)
    version = current(session)
    kept = _for(session)

    def shared() -> T:
        with kept.lock:
            if version != kept.version:
                kept.values.clear()
                kept.version = version
            if (name, key) in kept.values:
                value: T = kept.values[(name, key)]
                return value
        value = make()
        with kept.lock:
            if version == kept.version:
                kept.values[(name, key)] = value
        return value

    return remembered(session, _SHARED, (name, key), shared)
