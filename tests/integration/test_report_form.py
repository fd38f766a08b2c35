"""The public report form (`GET|POST /report`): anonymous reports through a plain HTML form,
triaged by the criticality rules and paged like alerts, a quotable receipt, the honeypot, the
per-address rate limit (429), screenshot uploads (size 413, type by bytes), HTML escaped
wherever a report is shown, and the signed-in variant with name and channel filled in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import TEST_SECRET
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.ui_helpers import make_login, sign_in

from onduty import models as m
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.engine import Engine as OndutyEngine
from onduty.notify import FakeChannel

# Thursday 12:00 in Kolkata: within the demo organisation's working hours.
WORKING = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
NIGHT = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # 01:30 in Kolkata
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SCRIPT = '<script>alert("x")</script>'


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        secret_key=TEST_SECRET,
        base_url="http://onduty.test",
        report_rate_limit=3,
        report_upload_max_bytes=2048,
    )


@pytest.fixture
def world(
    client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> Iterator[TestClient]:
    clock.set(WORKING)
    doc = example()
    doc["criticality_rules"] = [
        {"when": {"words": ["payment", "checkout"]}, "priority": "P1"},
        {"when": {"channel": ["anonymous"]}, "priority": "P4"},
        {"priority": "P3"},
    ]
    apply_doc(session_factory, doc)
    yield client


def form(**extra: Any) -> dict[str, str]:
    return {"service": "storefront", "title": "Images do not load", **extra}


def incidents(factory: sessionmaker[Session]) -> list[m.Incident]:
    with factory() as s:
        return list(s.scalars(select(m.Incident).order_by(m.Incident.id)))


def test_form_is_plain_html_with_services_and_a_honeypot(world: TestClient) -> None:
    page = world.get("/report")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    assert '<option value="storefront"' in page.text and '<option value="payments"' in page.text
    assert 'name="website"' in page.text  # the honeypot, hidden by CSS
    assert "csrf_token" not in page.text  # anonymous: nothing to sign
    assert 'name="channel"' not in page.text  # only people signed in choose a channel


def test_anonymous_report_gets_a_quotable_reference_and_is_triaged(
    world: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sent = world.post(
        "/report",
        data=form(
            actual="Product images are blank",
            expected="Images show",
            steps="Open any product",
            environment="Firefox 140",
            reporter="Kim",
            email="kim@example.com",
            links="https://shop.example.com/p/1\nhttps://imgur.example/x.png",
        ),
    )
    assert sent.status_code == 201, sent.text
    reference = re.search(r'id="reference">(R-[2-9A-Z]{4}-[2-9A-Z]{4})<', sent.text)
    assert reference, sent.text
    assert "/incidents/" not in sent.text  # an anonymous reporter does not see our pages
    (incident,) = incidents(session_factory)
    assert incident.reference == reference.group(1)
    assert (incident.source, incident.priority, incident.matched_rule) == ("anonymous", "P4", 1)
    assert incident.report == {
        "steps": "Open any product",
        "actual": "Product images are blank",
        "expected": "Images show",
        "environment": "Firefox 140",
        "reporter": "Kim <kim@example.com>",
        "client": None,
        "links": ["https://shop.example.com/p/1", "https://imgur.example/x.png"],
    }
    with session_factory() as s:
        audit = s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "incident.report"))
        assert [a.actor for a in audit] == ["reporter:testclient"]


def test_words_and_client_are_facts_and_p4_at_night_goes_to_the_backlog(
    world: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    assert world.post("/report", data=form(title="Payment page hangs")).status_code == 201
    assert world.post("/report", data=form(client="Globex")).status_code == 201
    clock.set(NIGHT)
    assert world.post("/report", data=form(title="Logo blurry")).status_code == 201
    first, client_report, night = incidents(session_factory)
    assert (first.priority, first.backlog) == ("P1", False)
    assert (client_report.source, client_report.priority) == ("client", "P3")
    assert client_report.report and client_report.report["client"] == "Globex"
    assert (night.priority, night.backlog) == ("P4", True)
    assert night.page_due_at > NIGHT


def test_a_report_pages_like_an_alert(
    world: TestClient,
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    fakes = {t: FakeChannel(t) for t in ("email", "sms", "voice", "slack", "webhook")}
    engine = OndutyEngine(settings, session_factory, clock, fakes, holder="test")
    assert world.post("/report", data=form(title="Checkout button dead")).status_code == 201
    engine.tick()
    sent = [(s.message.recipient, s.message.event) for f in fakes.values() for s in f.take()]
    assert sent and all(event == "incident.triggered" for _, event in sent)


def test_honeypot_looks_received_and_stores_nothing(
    world: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sent = world.post("/report", data=form(website="http://spam.example"))
    assert sent.status_code == 200 and "your report was received" in sent.text
    assert incidents(session_factory) == []


def test_rate_limit_per_address_per_minute(
    world: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    codes = [world.post("/report", data=form()).status_code for _ in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    assert len(incidents(session_factory)) == 3
    clock.advance(timedelta(minutes=1))
    assert world.post("/report", data=form()).status_code == 201


def test_bad_input_is_refused_and_the_form_kept(
    world: TestClient, session_factory: sessionmaker[Session]
) -> None:
    short = world.post("/report", data=form(title="x", actual="kept text"))
    assert short.status_code == 422 and "at least 3 characters" in short.text
    assert "kept text" in short.text
    unknown = world.post("/report", data=form(service="nope"))
    assert unknown.status_code == 422 and "no service" in unknown.text
    link = world.post("/report", data=form(links="javascript:alert(1)"))
    assert link.status_code == 422 and "http" in link.text
    assert incidents(session_factory) == []


def test_uploads_size_limit_type_and_who_sees_them(
    world: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    big = world.post(
        "/report", data=form(), files={"screenshots": ("big.png", PNG + b"\x00" * 4096)}
    )
    assert big.status_code == 413 and "larger than 2 KiB" in big.text
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    wrong = world.post("/report", data=form(), files={"screenshots": ("x.svg", svg)})
    assert wrong.status_code == 422 and "not a PNG" in wrong.text
    assert incidents(session_factory) == []
    clock.advance(timedelta(minutes=1))  # a fresh window: the refusals above counted too
    ok = world.post("/report", data=form(), files={"screenshots": ("shot.png", PNG)})
    assert ok.status_code == 201, ok.text
    (incident,) = incidents(session_factory)
    with session_factory() as s:
        (shot,) = s.scalars(select(m.ReportAttachment))
        assert (shot.incident_id, shot.content_type, shot.size) == (incident.id, "image/png", 72)
    path = f"/incidents/{incident.id}/attachments/{shot.id}"
    assert world.get(path, follow_redirects=False).status_code == 303  # to the login page
    make_login(session_factory, clock.now(), "v", "viewer")
    sign_in(world, "v")
    got = world.get(path)
    assert (got.status_code, got.headers["content-type"], got.content) == (200, "image/png", PNG)
    assert path in world.get(f"/incidents/{incident.id}").text


def test_html_in_a_report_is_shown_escaped(
    world: TestClient, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    sent = world.post(
        "/report",
        data=form(title=f"Broken {SCRIPT}", actual=f"<img src=x onerror=alert(1)>{SCRIPT}"),
    )
    assert sent.status_code == 201
    (incident,) = incidents(session_factory)
    make_login(session_factory, clock.now(), "v", "viewer")
    sign_in(world, "v")
    for path in (f"/incidents/{incident.id}", "/incidents"):
        page = world.get(path).text
        assert SCRIPT not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page


def test_signed_in_form_fills_name_and_channel(
    world: TestClient, session_factory: sessionmaker[Session], clock: FakeClock, engine: Engine
) -> None:
    make_login(session_factory, clock.now(), "asha", "responder", person="asha")
    sign_in(world, "asha")
    page = world.get("/report")
    assert 'value="Asha Rao"' in page.text
    assert "<option selected>team</option>" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    refused = world.post("/report", data=form(channel="qa"))
    assert refused.status_code == 403  # a signed-in form must carry its CSRF token
    sent = world.post("/report", data=form(channel="qa", csrf_token=token.group(1)))
    assert sent.status_code == 201, sent.text
    (incident,) = incidents(session_factory)
    assert incident.source == "qa"
    assert f'href="/incidents/{incident.id}"' in sent.text
    with session_factory() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(m.AuditEvent)
                .where(m.AuditEvent.actor == "asha", m.AuditEvent.action == "incident.report")
            )
            == 1
        )
