"""A scenario harness in the manner of GoAlert's smoke tests: a world with the Acme policy (or a
variant), a FakeClock, one engine ticked by hand, recording fake channels, and a log of every
message sent, stamped with its minute. Tests assert the whole log, so any unexpected message
fails them (the quiet window is the end of the run)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from onduty import models as m
from onduty.auth import service as auth_service
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.engine import Engine
from onduty.notify import FakeChannel
from tests.integration.test_policy_apply import apply_doc

TYPES = ("email", "sms", "voice", "slack", "webhook")


def sms_only(doc: dict[str, Any]) -> dict[str, Any]:
    """SCENARIOS.md's convention: everyone has one rule, SMS at once."""
    for person in doc["people"]:
        person["notification_rules"] = [{"after": "0m", "via": "sms"}]
    return doc


def alertmanager(
    name: str, *, status: str = "firing", severity: str = "critical", fp: str | None = None
) -> bytes:
    alert = {
        "status": status,
        "labels": {"alertname": name, "severity": severity},
        "annotations": {"summary": f"{name} is failing"},
        "startsAt": "2026-11-30T04:30:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": fp or f"fp-{name}",
    }
    return json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{name}"}}',
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "onduty",
            "groupLabels": {"alertname": name},
            "commonLabels": alert["labels"],
            "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager.local",
            "alerts": [alert],
        }
    ).encode()


@dataclass
class World:
    client: TestClient
    clock: FakeClock
    session_factory: sessionmaker[Session]
    settings: Settings
    fakes: dict[str, FakeChannel] = field(
        default_factory=lambda: {t: FakeChannel(t) for t in TYPES}
    )
    log: list[tuple[int, str, str, str]] = field(default_factory=list)
    start: datetime | None = None
    engine: Engine | None = None
    token: str = ""
    actions: dict[str, str] = field(default_factory=dict)  # the links of the last message

    def setup(self, doc: dict[str, Any]) -> World:
        # Start an hour after Monday's handoff, so shift-start notices stay out of the way.
        self.clock.advance(timedelta(hours=1))
        apply_doc(self.session_factory, doc)
        self.engine = Engine(
            self.settings, self.session_factory, self.clock, self.fakes, holder="test"
        )
        self.start = self.clock.now()
        with self.session_factory() as s, s.begin():
            self.token = auth_service.create_token(
                s, person_id="asha", role="admin", now=self.start
            )
        return self

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def key(self, service: str, integration: str = "prod-alerts") -> str:
        with self.session_factory() as s:
            return s.scalars(
                select(m.Integration.key).where(
                    m.Integration.service_id == service, m.Integration.name == integration
                )
            ).one()

    def alert(self, name: str, service: str = "storefront", **kw: Any) -> None:
        answer = self.client.post(
            f"/integrations/{self.key(service)}", content=alertmanager(name, **kw)
        )
        assert answer.status_code == 202, answer.text
        self.tick()

    def incident_id(self, name: str) -> int:
        rows = self.client.get("/api/v1/incidents", headers=self.auth).json()
        return next(r["id"] for r in rows if name in r["title"])

    def act(self, name: str, action: str) -> None:
        answer = self.client.post(
            f"/api/v1/incidents/{self.incident_id(name)}/{action}", headers=self.auth
        )
        assert answer.status_code == 200, answer.text
        self.tick()

    def tick(self) -> None:
        assert self.engine is not None and self.start is not None
        self.engine.tick()
        minute = int((self.clock.now() - self.start).total_seconds() // 60)
        for kind, fake in self.fakes.items():
            for sent in fake.take():
                self.log.append((minute, kind, sent.message.recipient, sent.message.event))
                if sent.message.actions:
                    self.actions = dict(sent.message.actions)

    def run_until(self, minute: int, step: timedelta = timedelta(seconds=30)) -> None:
        assert self.start is not None
        end = self.start + timedelta(minutes=minute)
        while self.clock.now() < end:
            self.clock.advance(min(step, end - self.clock.now()))
            self.tick()

    def pages(self) -> list[tuple[int, str, str]]:
        """Incident messages (shift notices are asserted on their own)."""
        return [
            (t, kind, person)
            for t, kind, person, event in self.log
            if event.startswith("incident.")
        ]

    def shift_notices(self) -> list[tuple[int, str, str]]:
        return [
            (t, kind, person)
            for t, kind, person, event in self.log
            if event == "oncall.shift_started"
        ]
