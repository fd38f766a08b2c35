"""Health, readiness, OpenAPI, the home page, and that every non-public route needs a token."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.ui_helpers import make_login, sign_in

from onduty.auth import service as auth_service
from onduty.clock import FakeClock

PUBLIC = {
    "/healthz",
    "/readyz",
    "/api/openapi.json",
    "/api/docs",
    "/api/docs/oauth2-redirect",
    # A signed secret URL: the token in its query string is the credential (checked below).
    "/ical/{kind}/{ident}.ics",
    # Counts only, for Prometheus to scrape, like /healthz.
    "/metrics",
    # Authenticated by the integration key in the path or in the body.
    "/integrations/{key}",
    "/v2/enqueue",
    # A signed, expiring, single-use action link: the token is the credential.
    "/actions/{token}",
    "/actions/status/{token}",
    # A heartbeat check's ping: its key in the path is the credential.
    "/heartbeat/{key}",
    # The public status page's JSON, in Statuspage's shapes, for widgets and monitors.
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
}


def token(session_factory: sessionmaker[Session], clock: FakeClock, role: str) -> str:
    with session_factory() as s, s.begin():
        return auth_service.create_token(s, person_id=None, role=role, now=clock.now())


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_openapi_document(client: TestClient) -> None:
    doc = client.get("/api/openapi.json").json()
    assert "/api/v1/integrations" in doc["paths"]


def test_home_page_shows_teams_and_services_after_login(
    client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    apply_doc(session_factory, example())
    make_login(session_factory, clock.now(), "guest", "viewer")
    sign_in(client, "guest")
    page = client.get("/").text
    assert "Checkout" in page and "Catalog &amp; Search" in page
    services = client.get("/services").text
    assert "Payments API" in services and "0123…cdef" in services
    assert "0123456789abcdef0123456789abcdef" not in services


def test_every_api_route_needs_a_token(
    client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    # The OpenAPI document lists every JSON route, with the routers' prefixes applied.
    paths = client.get("/api/openapi.json").json()["paths"]
    guarded = [(m, p) for p, ops in paths.items() for m in ops if p not in PUBLIC]
    assert guarded, "expected some non-public routes"
    for method, route in guarded:
        answer = client.request(method.upper(), route.replace("{", "x").replace("}", ""))
        assert answer.status_code == 401, (method, route, answer.status_code)
        assert answer.json()["field"] == "authorization"


def test_roles_are_enforced(
    client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    apply_doc(session_factory, example())
    viewer = token(session_factory, clock, "viewer")
    manager = token(session_factory, clock, "manager")
    denied = client.get("/api/v1/integrations", headers={"Authorization": f"Bearer {viewer}"})
    assert denied.status_code == 403
    assert denied.json() == {
        "error": "this needs the manager role; the token has viewer",
        "field": "authorization",
    }
    ok = client.get("/api/v1/integrations", headers={"Authorization": f"Bearer {manager}"})
    assert ok.status_code == 200 and {r["service"] for r in ok.json()} == {
        "storefront",
        "payments",
        "search",
        "catalog-web",
    }
    bogus = client.get("/api/v1/integrations", headers={"Authorization": "Bearer odt_nope"})
    assert bogus.status_code == 401
