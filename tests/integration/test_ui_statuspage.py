"""The status page's admin pages and the incident page's status section (issue 14 items 2, 4
and 9): pre-filled posting from an incident, the due/overdue line, the live preview, and
resolving the incident together with its status incident."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.policy_cases import example
from tests.scenario import World, sms_only
from tests.ui_helpers import csrf, make_login, sign_in

from onduty import models as m
from onduty.clock import FakeClock
from onduty.config import Settings


def setup(
    client: TestClient, clock: FakeClock, factory: sessionmaker[Session], settings: Settings
) -> tuple[World, int]:
    world = World(client, clock, factory, settings).setup(sms_only(example()))
    make_login(factory, clock.now(), "asha", "responder", person="asha")
    make_login(factory, clock.now(), "val", "viewer")
    world.alert("CheckoutDown")
    return world, world.incident_id("CheckoutDown")


def test_post_from_the_incident_page_then_resolve_both(
    client: TestClient, clock: FakeClock, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    _world, incident = setup(client, clock, session_factory, settings)
    sign_in(client, "asha")
    page = client.get(f"/incidents/{incident}").text
    assert "P1 asks for a status page incident." in page
    assert f'href="/status-admin?incident={incident}"' in page
    form = client.get(f"/status-admin?incident={incident}").text
    assert 'value="CheckoutDown is failing"' in form
    assert '<option value="major_outage" selected>' in form  # web-shop, from storefront
    assert "The team is looking into this and will get back with a resolution." in form
    data = {
        "csrf_token": csrf(form),
        "incident": str(incident),
        "name": "Checkout is failing",
        "impact": "critical",
        "status": "investigating",
        "component.web-shop": "major_outage",
        "component.payments": "unaffected",
        "body": "",
    }
    shown = client.post(
        "/status-admin/preview", data={**data, "body": "Fix **soon** <script>x</script>"}
    )
    assert "<strong>soon</strong>" in shown.text and "<script>" not in shown.text
    posted = client.post("/status-admin/incidents", data=data, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    detail = client.get(posted.headers["location"]).text
    assert "update due in 60 min" in detail and "Web shop" in detail
    clock.advance(timedelta(minutes=75))
    overview = client.get("/status-admin").text
    assert "overdue by 15 min" in overview
    again = client.get(f"/incidents/{incident}").text
    assert "Checkout is failing" in again and "status_page.posted" in again
    assert 'name="resolve_status"' in again
    # Resolve the incident with the box ticked: the status incident is resolved with it.
    token = csrf(again)
    client.post(
        f"/incidents/{incident}/acknowledge", data={"csrf_token": token}, follow_redirects=False
    )
    done = client.post(
        f"/incidents/{incident}/resolve",
        data={"csrf_token": token, "resolve_status": "1"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    with session_factory() as s:
        row = s.scalars(select(m.StatusIncident)).one()
        assert row.status == "resolved" and row.updates[0].author == "asha"
        assert s.get(m.Component, "web-shop").status == "operational"  # type: ignore[union-attr]


def test_viewers_read_but_cannot_post(
    client: TestClient, clock: FakeClock, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    _world, incident = setup(client, clock, session_factory, settings)
    sign_in(client, "val")
    page = client.get("/status-admin")
    assert page.status_code == 200 and "Web shop" in page.text
    assert "Post a status incident" not in page.text
    refused = client.post(
        "/status-admin/incidents", data={"csrf_token": csrf(page.text), "name": "x"}
    )
    assert refused.status_code == 403
    with session_factory() as s:
        assert s.scalars(select(m.StatusIncident)).all() == []
    assert client.get(f"/incidents/{incident}").status_code == 200
