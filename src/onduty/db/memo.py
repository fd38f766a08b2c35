"""Per-transaction memory: values read once and kept in the session for the rest of its work.

Why: the engine and the intake writer handle batches (of steps, of requests) that mostly touch
a few services, teams, people and integrations, and the session's identity map holds objects
only weakly, so each item would load them again. Nothing outlives the transaction: a change
made by another transaction is seen by the next one. (What may be kept longer is kept by
`db.config_version`, which knows when it changed.)"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

T = TypeVar("T")


def remembered(session: Session, name: str, key: Hashable, make: Callable[[], T]) -> T:
    """`make()` for (`name`, `key`), computed once per session."""
    known: dict[Hashable, Any] = session.info.setdefault(f"memo.{name}", {})
    if key not in known:
        known[key] = make()
    value: T = known[key]
    return value


def forget(session: Session, name: str) -> None:
    """Drop what was remembered under `name` (its writer changed what it depends on)."""
    session.info.pop(f"memo.{name}", None)


@event.listens_for(Session, "after_transaction_end")
def _forget_all(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction, not a savepoint
        for name in [n for n in session.info if isinstance(n, str) and n.startswith("memo.")]:
            del session.info[name]
