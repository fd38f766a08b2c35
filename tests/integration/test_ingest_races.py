"""Ingest losing a race on PostgreSQL, made to happen at the exact moment: another transaction
commits between our read of the open alerts and our write. (On SQLite every writer holds the one
write lock from BEGIN, so these races cannot happen there.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import BACKEND
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.scenario import alertmanager

from onduty import intake
from onduty import models as m
from onduty.db.group_commit import BATCHED
from onduty.incidents import ingest as incident_ingest

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="a race needs two writers")
NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


@pytest.fixture
def integration(session_factory: sessionmaker[Session]) -> m.Integration:
    apply_doc(session_factory, example())
    with session_factory() as session:
        found = session.scalars(
            select(m.Integration).where(
                m.Integration.service_id == "storefront", m.Integration.type == "alertmanager"
            )
        ).one()
        session.expunge(found)
        return found


def _ingest(
    session: Session, integration: m.Integration, name: str
) -> incident_ingest.IngestResult:
    signals = intake.parse("alertmanager", alertmanager(name, fp=name.lower()), {})
    return incident_ingest.ingest(session, integration=integration, signals=signals, now=NOW)


@contextmanager
def just_before(engine: Engine, statement: str, competitor: Callable[[], None]) -> Iterator[None]:
    """Run `competitor` (in its own transaction) once, just before the first statement that
    starts with `statement` is sent."""
    fired = False

    def hook(conn: Connection, cursor: Any, sql: str, *args: Any) -> None:
        nonlocal fired
        if not fired and sql.startswith(statement):
            fired = True
            competitor()

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    assert fired, f"no {statement!r} was sent"


def _alerts(session_factory: sessionmaker[Session]) -> list[tuple[str, int, int, str | None]]:
    with session_factory() as session:
        rows = session.execute(
            select(
                m.Alert.dedup_key, m.Alert.count, m.Alert.incident_id, m.Alert.open_key
            ).order_by(m.Alert.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def _disk_opened_elsewhere(
    engine: Engine, session_factory: sessionmaker[Session], integration: m.Integration
) -> tuple[int, str, Callable[[], None]]:
    """An incident of another alert, the key of alert "Disk", and a competitor: another
    transaction that opens "Disk" on that incident, and commits."""
    with session_factory() as session, session.begin():
        [incident_id] = _ingest(session, integration, "Other").created
    key = intake.parse("alertmanager", alertmanager("Disk", fp="disk"), {})[0].dedup_key
    assert key is not None

    def compete() -> None:
        with engine.begin() as conn:
            row = conn.execute(select(m.Alert.__table__).limit(1)).mappings().one()
            values = dict(row) | {"dedup_key": key, "open_key": key, "incident_id": incident_id}
            del values["id"]
            conn.execute(m.Alert.__table__.insert(), values)

    return incident_id, key, compete


def test_an_alert_opened_elsewhere_first_makes_ours_a_repeat_and_our_incident_goes(
    engine: Engine, session_factory: sessionmaker[Session], integration: m.Integration
) -> None:
    first, key, compete = _disk_opened_elsewhere(engine, session_factory, integration)
    with (
        just_before(engine, "INSERT INTO alert", compete),
        session_factory() as session,
        session.begin(),
    ):
        result = _ingest(session, integration, "Disk")
    assert (result.created, result.updated) == ([], [first])
    assert [(k, c, i) for k, c, i, _ in _alerts(session_factory)][1] == (key, 2, first)
    with session_factory() as session:
        # The incident our first attempt made went with its savepoint; its number, taken from
        # PostgreSQL's sequence so that API processes never wait for each other, is a gap.
        assert session.scalars(select(m.Incident.id)).all() == [first]


def test_a_repeat_of_an_alert_resolved_meanwhile_opens_a_new_incident(
    engine: Engine, session_factory: sessionmaker[Session], integration: m.Integration
) -> None:
    with session_factory() as session, session.begin():
        [first] = _ingest(session, integration, "Disk").created

    def resolve_elsewhere() -> None:
        with engine.begin() as conn:
            conn.execute(update(m.Alert).values(open_key=None, status="resolved"))

    with (
        just_before(engine, "UPDATE alert SET count", resolve_elsewhere),
        session_factory() as session,
        session.begin(),
    ):
        result = _ingest(session, integration, "Disk")
    assert len(result.created) == 1 and result.created[0] != first and result.updated == []
    alerts = _alerts(session_factory)
    assert [(c, i, o is None) for _, c, i, o in alerts] == [
        (1, first, True),  # not counted: it was resolved before our repeat
        (1, result.created[0], False),
    ]


def test_in_a_group_committed_batch_the_race_fails_the_batch_for_a_rerun(
    engine: Engine, session_factory: sessionmaker[Session], integration: m.Integration
) -> None:
    """No savepoint in a batch: the writer reruns its requests one by one (db/group_commit.py)."""
    first, _, compete = _disk_opened_elsewhere(engine, session_factory, integration)
    with (
        just_before(engine, "INSERT INTO alert", compete),
        pytest.raises(IntegrityError),
        session_factory() as session,
        session.begin(),
    ):
        session.info[BATCHED] = True
        _ingest(session, integration, "Disk")
    with session_factory() as session, session.begin():  # the rerun, alone
        assert _ingest(session, integration, "Disk").updated == [first]
        assert session.scalar(select(func.count()).select_from(m.Incident)) == 1
