"""Migrations on the real database: a database made at an earlier revision, holding data, is
brought to the head without losing it, and ends with the schema the models describe."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import patch

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, update
from sqlalchemy.exc import IntegrityError
from tests.conftest import new_database
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.scenario import alertmanager

from onduty import intake
from onduty import models as m
from onduty.db import config_version, make_engine, make_session_factory, migrate
from onduty.incidents import ingest as incident_ingest

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


@pytest.fixture
def blank_url(tmp_path: Path) -> Iterator[str]:
    with new_database(tmp_path) as url:
        yield url


def _stored_at(url: str, revision: str, title: str) -> None:
    """Migrate a new database to `revision` and store, as the code of that time did, one
    incident (number 41 of the counter) with one open alert, through plain inserts."""
    migrate(url, revision)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    doc = example()
    doc.pop("status_page")  # its tables come with 0008
    # The code of that time had no configuration version to bump (migration 0013).
    with patch.object(config_version, "bump", lambda session: None):
        apply_doc(factory, doc)
    signal = intake.parse("alertmanager", alertmanager(title, fp=title.lower()), {})[0]
    with engine.begin() as conn:
        service = conn.execute(select(m.Service.id, m.Service.team_id)).first()
        integration = conn.scalar(
            select(m.Integration.id).where(m.Integration.service_id == service.id)
        )
        conn.execute(m.Counter.__table__.insert(), {"name": "incident", "value": 41})
        incident = conn.execute(
            m.Incident.__table__.insert().returning(m.Incident.id),
            {
                "number": 41,
                "title": signal.summary,
                "status": "triggered",
                "service_id": service.id,
                "team_id": service.team_id,
                "priority": "P1",
                "rule_priority": "P1",
                "source": "alertmanager",
                "stages": {},
                "stage": "reported",
                "backlog": False,
                "page_due_at": NOW,
                "generation": 1,
                "created_at": NOW,
            },
        ).scalar_one()
        conn.execute(
            m.Alert.__table__.insert(),
            {
                "incident_id": incident,
                "service_id": service.id,
                "integration_id": integration,
                "dedup_key": signal.dedup_key,
                "open_key": signal.dedup_key,
                "status": "firing",
                "summary": signal.summary,
                "labels": {},
                "details": {},
                "count": 1,
                "first_seen": NOW,
                "last_seen": NOW,
            },
        )
    engine.dispose()


def test_0002_puts_the_key_first_in_the_alert_index_and_keeps_the_alerts(blank_url: str) -> None:
    _stored_at(blank_url, "0001", "Disk")
    migrate(blank_url)
    engine = make_engine(blank_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), m.Base.metadata) == []
        [unique] = inspect(engine).get_unique_constraints("alert")
        assert unique["column_names"] == ["open_key", "service_id"]
        with make_session_factory(engine)() as session:
            alert = session.scalars(select(m.Alert)).one()
            assert (alert.open_key, alert.count) == (alert.dedup_key, 1)
            incident = session.get(m.Incident, alert.incident_id)
            assert incident is not None and incident.title.startswith("Disk")
        # The index still makes dedup race-safe: a second open alert with the key is refused.
        with engine.begin() as conn:
            columns = {c.name: getattr(alert, c.name) for c in m.Alert.__table__.columns}
            del columns["id"]
            with pytest.raises(IntegrityError):
                conn.execute(m.Alert.__table__.insert(), columns)
        with engine.begin() as conn:
            conn.execute(update(m.Alert).values(open_key=None))  # resolved: the key is free
            conn.execute(m.Alert.__table__.insert(), columns)
    finally:
        engine.dispose()


def test_0003_numbers_go_on_from_the_counter(blank_url: str) -> None:
    """PostgreSQL's new sequence starts after the counter; SQLite keeps counting on the row."""
    _stored_at(blank_url, "0002", "Disk")
    migrate(blank_url)
    engine = make_engine(blank_url)
    try:
        factory = make_session_factory(engine)
        with factory() as session, session.begin():
            integration = session.scalars(
                select(m.Integration).where(m.Integration.type == "alertmanager")
            ).first()
            assert integration is not None
            signals = intake.parse("alertmanager", alertmanager("Cpu", fp="cpu"), {})
            incident_ingest.ingest(session, integration=integration, signals=signals, now=NOW)
        with factory() as session:
            assert session.scalars(select(m.Incident.number).order_by(m.Incident.id)).all() == [
                41,
                42,
            ]
    finally:
        engine.dispose()


def test_0006_keeps_outbox_rows_and_gives_pages_the_first_priority(blank_url: str) -> None:
    _stored_at(blank_url, "0005", "Disk")
    engine = make_engine(blank_url)
    with engine.begin() as conn:
        method = conn.scalar(
            select(m.ContactMethod.id)
            .where(m.ContactMethod.person_id == "asha")
            .order_by(m.ContactMethod.id)
        )
        for key, event in (("n1:r0", "incident.triggered"), ("test:asha", "test")):
            conn.execute(
                m.OutboxMessage.__table__.insert(),
                {
                    "rule_key": key,
                    "event": event,
                    "person_id": "asha",
                    "contact_method_id": method,
                    "channel": "sms",
                    "status": "pending",
                    "due_at": NOW,
                    "attempts": 0,
                    "created_at": NOW,
                },
            )
    engine.dispose()

    migrate(blank_url)
    engine = make_engine(blank_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), m.Base.metadata) == []
        with make_session_factory(engine)() as session:
            rows = {r.rule_key: r for r in session.scalars(select(m.OutboxMessage))}
        assert {k: (r.priority, r.person_id, r.target, r.due_at) for k, r in rows.items()} == {
            "n1:r0": (0, "asha", None, NOW),
            "test:asha": (1, "asha", None, NOW),
        }
    finally:
        engine.dispose()
