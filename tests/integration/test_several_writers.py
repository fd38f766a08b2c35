"""Several API processes on one database: each is an app of its own here (its own group-commit
writer and rate limiter), sharing only the database, as `serve --workers` or two machines do."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import BACKEND
from tests.integration.test_intake_http import AM_KEY, acme, am

from onduty import models as m
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.web.app import create_app

__all__ = ["acme"]  # the fixture, shared with the intake tests


@pytest.fixture
def two_processes(
    settings: Settings,
    clock: FakeClock,
    engine: Engine,
    acme: sessionmaker[Session],
) -> Iterator[tuple[TestClient, TestClient]]:
    apps = [create_app(settings, clock=clock, engine=engine, session_factory=acme) for _ in "ab"]
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        yield one, two


def test_two_processes_number_their_incidents_without_sharing_a_number(
    two_processes: tuple[TestClient, TestClient], acme: sessionmaker[Session]
) -> None:
    answers: list[int] = []

    def storm(client: TestClient, name: str) -> None:
        for i in range(15):
            answer = client.post(
                f"/integrations/{AM_KEY}", content=am((f"{name}{i}", "firing"), group=f"{name}{i}")
            )
            answers.append(answer.status_code)

    threads = [
        threading.Thread(target=storm, args=(c, n))
        for c, n in zip(two_processes, "ab", strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [202] * 30
    with acme() as s:
        numbers = s.scalars(select(m.Incident.number).order_by(m.Incident.id)).all()
    assert len(numbers) == len(set(numbers)) == 30
    # Numbers grow with the order of insertion, whichever process took them.
    assert numbers == sorted(numbers)


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite serves one API process")
def test_an_integrations_rate_limit_holds_across_processes(
    two_processes: tuple[TestClient, TestClient], acme: sessionmaker[Session]
) -> None:
    with acme() as s, s.begin():
        s.scalars(select(m.Integration).where(m.Integration.key == AM_KEY)).one().rate_limit = 5
    one, two = two_processes
    answers = [
        client.post(
            f"/integrations/{AM_KEY}", content=am((f"r{i}", "firing"), group=f"r{i}")
        ).status_code
        for i, client in zip(range(12), [one, two] * 6, strict=False)
    ]
    assert answers == [202] * 5 + [429] * 7
    with acme() as s:
        assert len(s.scalars(select(m.Incident.id)).all()) == 5
