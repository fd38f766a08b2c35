"""Engines and sessions for SQLite (WAL, foreign keys, BEGIN IMMEDIATE) and PostgreSQL, and
running the Alembic migrations programmatically."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from onduty.db import dialect

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Let people write postgresql:// and still get psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # While PostgreSQL is away a request must fail in seconds (503), not hang.
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_timeout", 5)
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    # The pysqlite driver manages transactions itself and breaks SAVEPOINTs; take over, as
    # SQLAlchemy's SQLite dialect documentation describes. BEGIN IMMEDIATE takes the write lock
    # up front, so two writers queue on busy_timeout instead of failing to upgrade a read lock.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        dbapi_connection.create_aggregate(dialect.SQLITE_PERCENTILE, 2, dialect.Percentile)

    # Writers of this process queue on a lock before BEGIN IMMEDIATE: SQLite's busy handler
    # would make them sleep in steps of up to 100 ms, which at a few hundred transactions a
    # second (intake, the engine's jobs, deliveries) is most of a page's latency. Other
    # processes still meet busy_timeout. The lock is let go when the transaction ends, however
    # it ends (commit, rollback, or the pool's reset of a connection given back mid-transaction).
    writer = threading.Lock()
    held = "onduty_writer_lock"

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        if conn.get_execution_options().get(dialect.READ_ONLY):
            # A long read (a year's report) must not hold the writers up: a deferred BEGIN
            # reads a snapshot (WAL) without the write lock.
            conn.exec_driver_sql("BEGIN")
            return
        if not writer.acquire(timeout=30):
            raise OperationalError("BEGIN IMMEDIATE", None, TimeoutError("database is locked"))
        conn.info[held] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _let_go(conn.info)
            raise

    def _let_go(info: dict[Any, Any]) -> None:
        if info.pop(held, False):
            writer.release()

    for name in ("commit", "rollback"):
        event.listen(engine, name, lambda conn: _let_go(conn.info))

    @event.listens_for(engine.pool, "reset")
    def _reset(_dbapi: Any, record: Any, _state: Any) -> None:
        _let_go(record.info)

    @event.listens_for(engine.pool, "invalidate")
    def _invalidate(_dbapi: Any, record: Any, _exception: Any) -> None:
        _let_go(record.info)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    # Alembic is imported here, not above: commands that only read need none of it.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` up to `revision` (the schema tests run on comes from here)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest migration's revision, found without importing Alembic (a command that only
    reads should not pay for it): each file in versions/ is named after its revision, numbered
    one after another ("0002_alert_key_first.py"); a test holds Alembic's head to this."""
    return max(p.name.partition("_")[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def schema_revision(engine: Engine) -> str | None:
    """The revision the database's schema is at (Alembic's table), or None if never migrated."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        version: str | None = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return version
