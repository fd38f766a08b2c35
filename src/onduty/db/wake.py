"""Waking every engine when there is work, across processes and machines.

A change that gives the engine work (a new incident, an acknowledgement, an override) calls
`announce(session)` inside its own transaction: on PostgreSQL that is `pg_notify`, which the
server delivers to every listener only when (and if) the transaction commits, so an engine is
never woken for work it cannot see yet. Each engine keeps one connection in LISTEN (`listen`);
the engine's tick stays as the safety net, and after a lost connection the listener re-listens
and wakes the engine once for a catch-up pass over whatever it missed meanwhile.
SQLite has no other process to wake: the engine shares the serving process there, and is
woken directly."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

log = logging.getLogger("onduty.wake")
CHANNEL = "onduty_wake"
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', '')")


def announce(session: Session) -> None:
    """Wake every engine when this transaction commits (PostgreSQL; nothing on SQLite).
    PostgreSQL folds repeats within one transaction into one notification."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_NOTIFY)


def listen(
    engine: Engine,
    on_wake: Callable[[], None],
    stop: threading.Event,
    *,
    poll_s: float = 1.0,
    retry_s: float = 1.0,
) -> None:
    """Call `on_wake` for every notification until `stop` is set; run in a thread of its own.
    On (re)connecting it calls `on_wake` once too: notifications sent while no one listened
    are gone, and the catch-up pass finds their work in the tables."""
    import psycopg

    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            with psycopg.connect(
                conninfo, autocommit=True, connect_timeout=5, application_name="onduty-listen"
            ) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                on_wake()
                while not stop.is_set():
                    for _ in conn.notifies(timeout=poll_s):
                        on_wake()
        except psycopg.Error as exc:
            log.warning("engine wake-up listener lost its connection (%s); retrying", exc)
            stop.wait(retry_s)
