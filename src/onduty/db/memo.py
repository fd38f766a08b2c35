"""Per-transaction memory: values read once and kept in the session for the rest of its work.

Why: the engine and the intake writer handle batches (of steps, of requests) that mostly touch
a few services, teams, people and integrations, and the session's identity map holds objects
only weakly, so each item would load them again. Nothing outlives the session: a change made
by another transaction is seen by the next one."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

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
