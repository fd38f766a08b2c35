"""Jira kept in step both ways, against a local server speaking Jira Cloud REST v3 (create,
JQL search, comment, transitions, basic auth with e-mail + API token) and Jira's webhooks into
a `jira` integration: one issue per incident even across a crash, comments and transitions by
name on acknowledgement, handover and resolution, retries when Jira fails or hangs (never
blocking the incident), a clear error for an unknown transition, signed and deduplicated
webhooks, and an issue made in Jira opening an incident."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.channel_servers import JiraServer
from tests.conftest import TEST_SECRET
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example, lint_doc
from tests.ui_helpers import make_login, sign_in

from onduty import models as m
from onduty.auth import service as auth_service
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.engine import Engine
from onduty.incidents import ingest
from onduty.notify import FakeChannel
from onduty.notify.targets import build_targets
from onduty.notify.targets.jira import adf

EMAIL, TOKEN = "oncall-bot@example.com", "ATATT3xFfGF0-example-api-token"
HOOK_SECRET = "jira-webhook-secret-01"
WORKING = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # Thursday noon in Kolkata
JIRA = {
    "projects": {"checkout": "CHK", "catalog": "CAT"},
    "create_for": ["P1", "P2", "P3"],
    "transitions": {
        "acknowledged": "In Progress",
        "handed_over": "Assigned to developer",
        "resolved": "Done",
    },
    "done_statuses": ["Done", "Closed"],
}


@pytest.fixture
def jira() -> Iterator[JiraServer]:
    with JiraServer(EMAIL, TOKEN) as server:
        yield server


@pytest.fixture
def settings(db_url: str, jira: JiraServer) -> Settings:
    return Settings(
        database_url=db_url,
        secret_key=TEST_SECRET,
        base_url="http://onduty.test",
        jira_base_url=jira.url,
        jira_email=EMAIL,
        jira_api_token=TOKEN,
        jira_webhook_secret=HOOK_SECRET,
        webhook_timeout_s=0.5,
    )


class Harness:
    def __init__(
        self,
        client: TestClient,
        factory: sessionmaker[Session],
        clock: FakeClock,
        settings: Settings,
        jira: JiraServer,
    ) -> None:
        self.client, self.factory, self.clock, self.jira = client, factory, clock, jira
        self.engine = Engine(
            settings,
            factory,
            clock,
            {t: FakeChannel(t) for t in ("email", "sms", "voice", "slack", "webhook")},
            holder="test",
            targets=build_targets(settings),
        )
        with factory() as s, s.begin():
            token = auth_service.create_token(s, person_id="asha", role="admin", now=clock.now())
        self.auth = {"Authorization": f"Bearer {token}"}

    def report(self, title: str = "Checkout button does nothing", **extra: Any) -> int:
        body = {"service": "storefront", "title": title, "channel": "qa", **extra}
        answer = self.client.post("/api/v1/incidents", json=body, headers=self.auth)
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    def act(self, incident: int, action: str, **body: Any) -> dict[str, Any]:
        path = f"/api/v1/incidents/{incident}/{action}"
        answer = self.client.post(path, json=body or None, headers=self.auth)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def incident(self, incident: int) -> dict[str, Any]:
        return dict(self.client.get(f"/api/v1/incidents/{incident}", headers=self.auth).json())

    def kinds(self, incident: int) -> list[str]:
        return [e["kind"] for e in self.incident(incident)["timeline"]]

    def run(self, seconds: int = 0) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.engine.tick()

    def hook(self, payload: dict[str, Any], delivery: str, secret: str | None = HOOK_SECRET) -> Any:
        body = json.dumps(payload).encode()
        headers = {"X-Atlassian-Webhook-Identifier": delivery, "Content-Type": "application/json"}
        if secret is not None:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature"] = f"sha256={digest}"
        with self.factory() as s:
            key = s.scalars(select(m.Integration.key).where(m.Integration.type == "jira")).one()
        return self.client.post(f"/integrations/{key}", content=body, headers=headers)


@pytest.fixture
def world(
    client: TestClient,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    settings: Settings,
    jira: JiraServer,
) -> Harness:
    clock.set(WORKING)
    doc = example()
    doc["jira"] = JIRA
    doc["criticality_rules"] = [
        {"when": {"words": ["checkout"]}, "priority": "P1"},
        {"when": {"words": ["typo"]}, "priority": "P4"},
        {"priority": "P3"},
    ]
    storefront = next(s for s in doc["services"] if s["id"] == "storefront")
    storefront["integrations"].append({"id": "jira", "type": "jira", "label": "oncall"})
    apply_doc(session_factory, doc)
    return Harness(client, session_factory, clock, settings, jira)


def updated(key: str, status: str | None = None, **extra: Any) -> dict[str, Any]:
    items = []
    if status is not None:
        items.append({"field": "status", "fromString": "In Progress", "toString": status})
    return {
        "timestamp": 1767226800123,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": "712020:abc", "displayName": "Jo Dev"},
        "issue": {
            "id": "10001",
            "key": key,
            "fields": {"summary": "x", "status": {"name": status or "In Progress"}},
        },
        "changelog": {"id": "1", "items": items, **extra},
    }


def test_adf_keeps_markup_as_text_and_links_only_http() -> None:
    doc = adf(
        [["What happened", "<script>alert(1)</script> see https://a.example/x\njavascript:x"]]
    )
    assert doc["type"] == "doc" and doc["version"] == 1
    heading, paragraph = doc["content"]
    assert heading["content"] == [{"type": "text", "text": "What happened"}]
    nodes = paragraph["content"]
    assert nodes[0] == {"type": "text", "text": "<script>alert(1)</script> see "}
    assert nodes[1]["marks"] == [{"type": "link", "attrs": {"href": "https://a.example/x"}}]
    assert nodes[2] == {"type": "hardBreak"}
    assert nodes[3] == {"type": "text", "text": "javascript:x"}  # not a link


def test_a_report_becomes_one_issue_kept_in_step(world: Harness) -> None:
    incident = world.report(
        actual="Nothing happens on click <b>at all</b>",
        expected="The order is placed",
        steps="1. Add to cart\n2. Click Checkout",
        environment="Chrome 131",
        links=["https://shop.example.com/cart"],
    )
    world.run()
    (search, create) = world.jira.requests
    assert search.path == "/rest/api/3/search/jql" and search.basic_auth() == (EMAIL, TOKEN)
    fields = create.json()["fields"]
    number = world.incident(incident)["number"]
    assert fields["project"] == {"key": "CHK"}
    assert fields["summary"] == f"#{number} Checkout button does nothing"
    assert fields["priority"] == {"name": "Highest"} and fields["issuetype"] == {"name": "Bug"}
    assert fields["labels"] == [f"onduty-{number}", "onduty", "storefront"]
    text = json.dumps(fields["description"])
    for part in ("What happened", "Nothing happens on click <b>at all</b>", "Steps to reproduce"):
        assert json.dumps(part)[1:-1] in text
    assert f"http://onduty.test/incidents/{incident}" in text  # the link back
    shown = world.incident(incident)
    assert (shown["jira_key"], shown["jira_url"]) == ("CHK-1", f"{world.jira.url}/browse/CHK-1")
    assert shown["stage"] == "ticketed" and "ticketed" in shown["stages"]
    world.act(incident, "acknowledge")
    world.run()
    assert world.jira.issues["CHK-1"]["status"] == "In Progress"
    assert "acknowledged by asha" in json.dumps(world.jira.issues["CHK-1"]["comments"][-1])
    world.act(incident, "resolve")
    world.run()
    issue = world.jira.issues["CHK-1"]
    assert issue["status"] == "Done" and len(issue["comments"]) == 2
    creates = [r for r in world.jira.requests if r.path == "/rest/api/3/issue"]
    assert len(creates) == 1 and len(world.jira.issues) == 1
    make_login(world.factory, world.clock.now(), "v", "viewer")
    sign_in(world.client, "v")
    page = world.client.get(f"/incidents/{incident}").text
    assert f'<a href="{world.jira.url}/browse/CHK-1" rel="noopener noreferrer">CHK-1</a>' in page
    assert "(Done)" not in page  # Jira's status is known from its webhooks only


def test_priorities_outside_create_for_get_no_issue(world: Harness) -> None:
    incident = world.report(title="A typo on the about page")
    world.run()
    assert world.jira.requests == []
    assert world.incident(incident)["jira_key"] is None


def test_no_second_issue_when_the_engine_died_between_create_and_record(world: Harness) -> None:
    incident = world.report()
    with world.factory() as s:
        row = s.scalars(select(m.OutboxMessage).where(m.OutboxMessage.target == "jira")).one()
        payload = dict(row.payload or {})
    # An engine sent the create and died before recording Jira's answer: the issue exists,
    # the row is still to be sent.
    target = build_targets(world.engine.settings)["jira"]
    from onduty.notify.targets import Call

    assert target.send(Call("jira.create", payload, row.rule_key)).provider_id == "CHK-1"
    world.run()
    assert len(world.jira.issues) == 1
    assert world.incident(incident)["jira_key"] == "CHK-1"


def test_jira_down_or_hanging_delays_the_ticket_and_blocks_nothing(world: Harness) -> None:
    from tests.channel_servers import Reply

    world.jira.fail_next(Reply.json(500, {"errorMessages": ["oops"]}), count=2)
    incident = world.report()
    world.run()
    world.act(incident, "acknowledge")  # the incident goes on while Jira is away
    assert world.incident(incident)["status"] == "acknowledged"
    world.run(11)
    assert world.incident(incident)["jira_key"] is None
    world.jira.delay = 1.0  # longer than the target's 0.5 s timeout
    world.run(31)
    assert world.incident(incident)["jira_key"] is None
    world.jira.delay = 0
    world.run(91)  # the fourth attempt: Jira allows more than a person's message
    shown = world.incident(incident)
    assert shown["jira_key"] is not None and shown["status"] == "acknowledged"
    # The acknowledgement's comment waited for the issue, then went.
    world.run(31)
    assert len(world.jira.issues) == 1  # a create that hung and landed was found, not redone
    assert world.jira.issues[shown["jira_key"]]["status"] == "In Progress"


def test_unknown_transition_is_a_clear_timeline_error_and_a_lint_warning(
    world: Harness,
) -> None:
    with world.factory() as s, s.begin():
        row = s.get(m.PolicySetting, "jira")
        assert row is not None
        row.value = {**row.value, "transitions": {"acknowledged": "Start Work"}}
    incident = world.report()
    world.run()
    world.act(incident, "acknowledge")
    world.run()
    failed = [e for e in world.incident(incident)["timeline"] if e["kind"] == "notify.failed"]
    assert len(failed) == 1 and failed[0]["data"]["via"] == "jira"
    assert "no transition named 'Start Work'" in failed[0]["data"]["error"]
    assert "'In Progress'" in failed[0]["data"]["error"]  # what Jira offers instead
    doc = example()
    doc["jira"] = {**JIRA, "transitions": {"acknowleged": "In Progress"}, "projects": {"x": "X"}}
    messages = [p.message for p in lint_doc(doc) if p.severity == "warning"]
    assert any("'acknowleged'" in msg and "handed_over" in msg for msg in messages)
    assert any("jira.projects" in msg and "'x'" in msg for msg in messages)


def test_webhooks_signed_deduplicated_status_and_assignee(world: Harness) -> None:
    incident = world.report()
    world.run()
    forged = world.hook(updated("CHK-1", "Done"), "d-0", secret="not-the-secret")
    assert forged.status_code == 401
    unsigned = world.hook(updated("CHK-1", "Done"), "d-0", secret=None)
    assert unsigned.status_code == 401
    with world.factory() as s:
        assert s.scalar(select(func.count()).select_from(m.WebhookDelivery)) == 0
    assert "jira.status" not in world.kinds(incident)
    moved = updated("CHK-1", "In Review")
    moved["changelog"]["items"].append(
        {"field": "assignee", "fromString": None, "toString": "Jo Dev"}
    )
    assert world.hook(moved, "d-1").status_code == 202
    assert world.hook(moved, "d-1").status_code == 202  # Jira's retry of the same delivery
    kinds = world.kinds(incident)
    assert kinds.count("jira.status") == 1 and kinds.count("jira.assignee") == 1
    # Done without a handover: the developer resolved it in Jira; on-call still resolves ours.
    assert world.hook(updated("CHK-1", "Done"), "d-2").status_code == 202
    shown = world.incident(incident)
    assert "resolved_by_developer" in shown["stages"] and shown["status"] == "triggered"


def test_done_after_handover_resolves_the_incident(world: Harness) -> None:
    incident = world.report()
    world.run()
    world.act(
        incident, "handover", developer="ravi", actual="Button dead", ideal="Works", tried="Cache"
    )
    world.run()  # the acknowledgement the handover made goes first,
    world.run(6)  # then the handover: one incident's Jira calls go in order
    assert world.jira.issues["CHK-1"]["status"] == "Assigned to developer"
    assert "Button dead" in json.dumps(world.jira.issues["CHK-1"]["comments"][-1])
    assert world.hook(updated("CHK-1", "Closed"), "d-9").status_code == 202
    shown = world.incident(incident)
    assert shown["status"] == "resolved" and shown["stage"] == "resolved_by_developer"
    assert shown["resolved_by"] == "jira:Jo Dev"
    world.run()
    # Not echoed back to Jira: the resolution came from there.
    assert not [
        r
        for r in world.jira.requests
        if r.path.endswith("/transitions")
        and r.method == "POST"
        and r.json()["transition"]["id"] == "31"
    ]


def test_an_issue_made_in_jira_with_the_label_opens_an_incident(world: Harness) -> None:
    def created(key: str, labels: list[str]) -> dict[str, Any]:
        return {
            "timestamp": 1767226800123,
            "webhookEvent": "jira:issue_created",
            "issue_event_type_name": "issue_created",
            "user": {"displayName": "Sam Support"},
            "issue": {
                "id": "20001",
                "key": key,
                "self": "https://example.atlassian.net/rest/api/2/issue/20001",
                "fields": {
                    "summary": "Checkout total wrong for coupons",
                    "labels": labels,
                    "status": {"name": "To Do"},
                    "description": {
                        "type": "doc",
                        "version": 1,
                        "content": [
                            {"type": "paragraph", "content": [{"type": "text", "text": "Coupon X"}]}
                        ],
                    },
                },
            },
        }

    assert world.hook(created("CHK-77", ["customer"]), "c-1").status_code == 202
    assert world.hook(created("CHK-78", ["oncall", "onduty-5"]), "c-2").status_code == 202
    answer = world.hook(created("CHK-79", ["oncall"]), "c-3")
    assert answer.status_code == 202
    (incident,) = answer.json()["incidents_created"]
    shown = world.incident(incident)
    assert (shown["jira_key"], shown["source"], shown["priority"]) == ("CHK-79", "jira", "P1")
    assert shown["jira_url"] == "https://example.atlassian.net/browse/CHK-79"
    assert shown["report"]["actual"] == "Coupon X"
    with world.factory() as s:
        assert s.scalar(select(func.count()).select_from(m.Incident)) == 1
    world.run()
    assert world.jira.requests == []  # it has its issue already


def test_unreadable_webhook_is_refused(world: Harness) -> None:
    answer = world.hook({"webhookEvent": "jira:issue_updated"}, "x-1")
    assert answer.status_code == 422 and answer.json()["field"] == "issue.key"


def test_jira_created_incident_direct_service_call_is_not_ticketed(world: Harness) -> None:
    with world.factory() as s, s.begin():
        made = ingest.report(
            s,
            service_id="storefront",
            title="From Jira",
            channel="jira",
            actor="jira",
            now=world.clock.now(),
            fields={},
            ticketed=False,
        )
        assert made.jira_state is None


def test_jira_templates_and_label_survive_apply_export_apply(
    session_factory: sessionmaker[Session],
) -> None:
    import yaml
    from tests.integration.test_policy_apply import export

    doc = example()
    doc["jira"] = JIRA
    doc["templates"] = {"developer_handover": "To {{ developer }}: {{ actual }}"}
    next(s for s in doc["services"] if s["id"] == "storefront")["integrations"].append(
        {"id": "jira", "type": "jira", "label": "oncall"}
    )
    first = apply_doc(session_factory, doc)
    assert "created jira" in first and "created templates" in first
    exported = yaml.safe_load(export(session_factory))
    assert exported["jira"]["projects"] == JIRA["projects"]
    assert exported["templates"] == doc["templates"]
    storefront = next(s for s in exported["services"] if s["id"] == "storefront")
    assert {"id": "jira", "type": "jira", "label": "oncall"} in storefront["integrations"]
    assert apply_doc(session_factory, exported) == []
    del doc["jira"]
    assert "removed jira" in apply_doc(session_factory, doc)
