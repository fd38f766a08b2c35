"""A property-based run over the whole OpenAPI document (schemathesis on hypothesis): every
operation, called with no token and with a token of each role, never answers a 5xx, answers
every refusal with SPEC's `{"error", "field"}`, and writes nothing to the database unless the
caller has the role the operation needs (and a read writes nothing at all)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from sqlalchemy import event, select
from tests.conftest import TEST_SECRET, new_database
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.scenario import alertmanager

from onduty.auth import service as auth_service
from onduty.auth.service import ROLES
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.db import make_engine, make_session_factory, migrate
from onduty.services.models import Integration
from onduty.web.app import create_app

# The role each operation needs (None: public, or authenticated by a secret in the request).
# Written out rather than read from the app, so that the run checks the app against it; a new
# operation fails `test_every_operation_has_a_known_role` until it is listed here.
NEEDS: dict[tuple[str, str], str | None] = {
    ("GET", "/healthz"): None,
    ("GET", "/readyz"): None,
    ("GET", "/metrics"): None,
    ("POST", "/integrations/{key}"): None,
    ("POST", "/v2/enqueue"): None,
    ("POST", "/actions/{token}"): None,
    ("POST", "/actions/status/{token}"): None,
    ("GET", "/ical/{kind}/{ident}.ics"): None,
    ("GET", "/api/v1/incidents"): "viewer",
    ("GET", "/api/v1/backlog"): "viewer",
    ("GET", "/api/v1/incidents/{incident_id}"): "viewer",
    ("GET", "/api/v1/oncall"): "viewer",
    ("GET", "/api/v1/teams/{team}/shifts"): "viewer",
    ("GET", "/api/v1/timezones"): "viewer",
    ("GET", "/api/v1/overrides"): "viewer",
    ("GET", "/api/v1/calendars"): "viewer",
    ("GET", "/api/v1/dryrun"): "viewer",
    ("POST", "/api/v1/incidents"): "responder",
    ("PATCH", "/api/v1/incidents/{incident_id}"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/acknowledge"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/resolve"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/escalate"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/reopen"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/handover"): "responder",
    ("POST", "/api/v1/overrides"): "responder",
    ("DELETE", "/api/v1/overrides/{override_id}"): "responder",
    ("POST", "/api/v1/swaps"): "responder",
    ("POST", "/api/v1/time-off"): "responder",
    ("GET", "/api/v1/integrations"): "manager",
    ("GET", "/api/v1/runbooks"): "viewer",
    ("GET", "/api/v1/runbooks/{runbook_id}"): "viewer",
    ("GET", "/api/v1/runbook-tasks"): "viewer",
    ("POST", "/api/v1/incidents/{incident_id}/runbook-feedback"): "responder",
    ("POST", "/api/v1/runbook-tasks/{task_id}/close"): "responder",
    ("GET", "/api/v1/postmortems"): "viewer",
    ("GET", "/api/v1/incidents/{incident_id}/postmortem"): "viewer",
    ("GET", "/api/v1/incidents/{incident_id}/postmortem/markdown"): "viewer",
    ("PUT", "/api/v1/incidents/{incident_id}/postmortem"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/postmortem/publish"): "responder",
    ("GET", "/api/v1/status-incidents"): "viewer",
    ("POST", "/api/v1/status-incidents"): "responder",
    ("POST", "/api/v1/status-incidents/preview"): "responder",
    ("GET", "/api/v1/status-incidents/{status_incident_id}"): "viewer",
    ("POST", "/api/v1/status-incidents/{status_incident_id}/updates"): "responder",
    ("GET", "/api/v1/incidents/{incident_id}/status-draft"): "viewer",
    ("GET", "/api/v1/maintenances"): "viewer",
    ("POST", "/api/v1/maintenances"): "responder",
    ("GET", "/api/v2/summary.json"): None,
    ("GET", "/api/v2/status.json"): None,
    ("GET", "/api/v2/components.json"): None,
    ("GET", "/api/v2/incidents.json"): None,
    ("GET", "/api/v2/incidents/unresolved.json"): None,
    ("GET", "/api/v2/scheduled-maintenances.json"): None,
    ("GET", "/api/v2/scheduled-maintenances/upcoming.json"): None,
    ("GET", "/api/v2/scheduled-maintenances/active.json"): None,
    ("GET", "/heartbeat/{key}"): None,
    ("POST", "/heartbeat/{key}"): None,
    ("GET", "/api/v1/checks"): "viewer",
    ("GET", "/api/v1/checks/{check_id}"): "viewer",
    ("POST", "/api/v1/checks/{check_id}/tick"): "responder",
    ("GET", "/api/v1/reports/oncall"): "viewer",
    ("GET", "/api/v1/handovers"): "viewer",
    ("GET", "/api/v1/handovers/{handover_id}"): "viewer",
    ("POST", "/api/v1/handovers/{handover_id}/acknowledge"): "responder",
    ("POST", "/api/v1/handovers/{handover_id}/meeting"): "responder",
    ("POST", "/api/v1/handovers/agenda"): "responder",
}
CALLERS = (None, *ROLES)  # no token, then each role from the least to the most
WRITES = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "TRUNCATE")


def _document() -> dict[str, Any]:
    # The document needs no database: the app connects on its first request only.
    return create_app(Settings(database_url="sqlite://", secret_key=TEST_SECRET)).openapi()


DOCUMENT = _document()
# Random generation only (the coverage phase's exhaustive boundary cases take minutes), a few
# examples per operation and caller: the run stays within seconds per database.
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=SchemathesisConfig.from_dict(
        {"phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}}}
    ),
)


@dataclass
class World:
    app: FastAPI
    tokens: dict[str, str]
    writes: list[str] = field(default_factory=list)  # every write statement the database saw


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One database for the whole run: the demo policy, an open incident, an override, and a
    token per role (the responder's is Asha's, so her own time off is hers to add)."""
    with new_database(tmp_path_factory.mktemp("openapi")) as url:
        migrate(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        apply_doc(factory, example())
        clock = FakeClock()
        settings_ = Settings(database_url=url, secret_key=TEST_SECRET)
        app = create_app(settings_, clock=clock, engine=engine, session_factory=factory)
        with factory() as s, s.begin():
            tokens = {
                role: auth_service.create_token(
                    s, person_id="asha" if role == "responder" else None, role=role, now=clock.now()
                )
                for role in ROLES
            }
            key = s.scalars(select(Integration.key).where(Integration.type == "alertmanager"))
            alerts_url = f"/integrations/{key.first()}"
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        override = {
            "team": "checkout",
            "slot": "backend",
            "person": "ravi",
            "start": "2026-12-02T00:00:00Z",
            "end": "2026-12-03T00:00:00Z",
        }
        with TestClient(app) as client:
            assert client.post(alerts_url, content=alertmanager("Disk")).status_code == 202
            assert client.post("/api/v1/overrides", json=override, headers=admin).status_code == 201
        world = World(app, tokens)

        @event.listens_for(engine, "before_cursor_execute")
        def _record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith(WRITES):
                world.writes.append(statement)

        try:
            yield world
        finally:
            engine.dispose()


def test_every_operation_has_a_known_role() -> None:
    operations = {(m.upper(), p) for p, ops in DOCUMENT["paths"].items() for m in ops}
    assert operations == set(NEEDS)


def _below(caller: str | None, needed: str | None) -> bool:
    if needed is None:
        return False
    return caller is None or ROLES.index(caller) < ROLES.index(needed)


@pytest.mark.parametrize("caller", CALLERS)
@schema.parametrize()
@settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_no_write_without_the_role(
    case: schemathesis.Case, caller: str | None, world: World
) -> None:
    needed = NEEDS[(case.operation.method.upper(), case.operation.path)]
    # Public operations are fed random secrets, which match nothing: they must write nothing
    # either (intake's 202 needs a real integration key).
    may_write = case.method.upper() != "GET" and needed is not None and not _below(caller, needed)
    headers = {"Authorization": f"Bearer {world.tokens[caller]}"} if caller else {}
    world.writes.clear()
    response = case.call(app=world.app, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert {"error", "field"} <= set(response.json()), response.text
    if _below(caller, needed):
        # 401 without a valid token, 403 below the role: whatever the body, before reading it.
        # Only a NUL in the URL is refused earlier, by the request limits.
        if response.status_code == 400:
            assert response.json()["error"] == "the URL must not contain a NUL character"
        else:
            assert response.status_code == (401 if caller is None else 403), response.text
    if not may_write:
        assert world.writes == [], (caller, case.method, case.path, world.writes)
