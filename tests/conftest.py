"""Shared fixtures: a migrated database per test (SQLite file or PostgreSQL, chosen by
ONDUTY_TEST_DB), a FakeClock, settings, and an app with a TestClient."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.db import make_engine, make_session_factory, migrate
from onduty.models import Base
from tests.scenario import World

BACKEND = os.environ.get("ONDUTY_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "ONDUTY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TEST_SECRET = "test-secret-key-0123456789abcdef"


def pytest_report_header() -> str:
    return f"onduty database backend: {BACKEND}"


@contextmanager
def new_database(directory: Path) -> Iterator[str]:
    """The URL of an empty database with no schema: a SQLite file in `directory`, or a
    PostgreSQL database dropped afterwards."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{directory}/onduty.db"
        return
    name = f"onduty_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database made once per run: a SQLite file to copy, or a PostgreSQL database."""
    with new_database(tmp_path_factory.mktemp("template")) as url:
        migrate(url)
        yield url.removeprefix("sqlite:///") if BACKEND == "sqlite" else url


@pytest.fixture
def db_url(_template: str, tmp_path: Path) -> str:
    """A fresh, migrated, empty database for this test."""
    if BACKEND == "sqlite":
        target = tmp_path / "onduty.db"
        shutil.copy(_template, target)
        return f"sqlite:///{target}"
    engine = make_engine(_template)
    try:
        # DELETE plus restarting the sequences is ~10x faster than TRUNCATE on mostly empty
        # tables (TRUNCATE replaces every table's files).
        with engine.begin() as conn:
            # One round trip for every table and sequence (there are dozens of each).
            sequences = conn.execute(text("SELECT sequence_name FROM information_schema.sequences"))
            statements = [f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables)]
            statements += [f'ALTER SEQUENCE "{name}" RESTART' for (name,) in sequences.all()]
            conn.exec_driver_sql("; ".join(statements))
    finally:
        engine.dispose()
    return _template


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, secret_key=TEST_SECRET, base_url="http://onduty.test")


@pytest.fixture
def client(
    settings: Settings, clock: FakeClock, engine: Engine, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    from onduty.web.app import create_app

    app = create_app(settings, clock=clock, engine=engine, session_factory=session_factory)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def world(
    client: TestClient, clock: FakeClock, session_factory: sessionmaker[Session], settings: Settings
) -> World:
    return World(client, clock, session_factory, settings)
