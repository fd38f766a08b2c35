"""Acting on an incident without a login: signed links (once, until they expire), Slack's
buttons and Twilio SMS replies and keypad digits, each with its signature verified."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import TEST_SECRET
from tests.integration.test_escalation_scenarios import policy
from tests.policy_cases import example
from tests.scenario import World, sms_only

from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.notify import signing
from onduty.people.models import Person

SLACK_SECRET = "slack-signing-secret-0123"
TWILIO_TOKEN = "twilio-auth-token-0123"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        secret_key=TEST_SECRET,
        base_url="http://onduty.test",
        slack_signing_secret=SLACK_SECRET,
        twilio_auth_token=TWILIO_TOKEN,
    )


@pytest.fixture
def world(
    client: TestClient, clock: FakeClock, session_factory: sessionmaker[Session], settings: Settings
) -> World:
    w = World(client, clock, session_factory, settings)
    w.setup(policy(sms_only(example()), [(["person:asha"], "10m"), (["person:ravi"], "10m")]))
    w.alert("Checkout500")
    return w


def status(world: World) -> str:
    return str(
        world.client.get(
            f"/api/v1/incidents/{world.incident_id('Checkout500')}", headers=world.auth
        ).json()["status"]
    )


def test_signed_link_acknowledges_once(world: World) -> None:
    ack = world.actions["acknowledge"].removeprefix("http://onduty.test")
    page = world.client.get(ack)
    assert page.status_code == 200 and "Acknowledge incident #1?" in page.text
    assert status(world) == "triggered"  # a GET never acts (mail scanners open links)
    done = world.client.post(ack)
    assert done.status_code == 200 and done.json() == {
        "incident": 1,
        "status": "acknowledged",
        "by": "asha",
    }
    again = world.client.post(ack)
    assert again.status_code == 409 and again.json()["error"] == "this link was already used"
    world.run_until(30)
    assert world.pages() == [(0, "sms", "asha")]  # the acknowledgement stopped step 2


def test_expired_or_forged_links_do_nothing(world: World) -> None:
    resolve = world.actions["resolve"].removeprefix("http://onduty.test")
    assert world.client.post(resolve[:-3] + "abc").status_code == 404
    world.clock.advance(timedelta(hours=25))
    assert world.client.post(resolve).status_code == 404
    assert status(world) == "triggered"


def test_slack_button_acknowledges_with_a_verified_signature(world: World) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ASHA"},
        "actions": [{"action_id": "acknowledge", "value": "1"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(world.clock.now().timestamp()))
    headers = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signing.slack_signature(SLACK_SECRET, ts, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    forged = world.client.post(
        "/integrations/slack/interactions",
        content=body,
        headers={**headers, "X-Slack-Signature": "v0=" + "0" * 64},
    )
    assert forged.status_code == 401 and status(world) == "triggered"
    answer = world.client.post("/integrations/slack/interactions", content=body, headers=headers)
    assert answer.status_code == 200 and "#1 is acknowledged by Asha Rao" in answer.json()["text"]
    assert status(world) == "acknowledged"


def test_sms_reply_codes(world: World) -> None:
    url = "http://onduty.test/integrations/twilio/sms"

    def reply(text: str) -> str:
        form = {"From": "+15550100001", "Body": text, "MessageSid": "SM1"}
        sig = signing.twilio_signature(TWILIO_TOKEN, url, form)
        answer = world.client.post(
            "/integrations/twilio/sms", data=form, headers={"X-Twilio-Signature": sig}
        )
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(
            "application/xml"
        )
        return answer.text

    assert "Reply with the incident number" in reply("hello")
    assert "#1 acknowledged by Asha Rao" in reply("1A")
    assert "already acknowledged by asha" in reply("1a")
    assert "#1 resolved by Asha Rao" in reply("1R")
    unsigned = world.client.post(
        "/integrations/twilio/sms", data={"From": "+15550100001", "Body": "1R"}
    )
    assert unsigned.status_code == 401


def test_voice_keypad_acknowledges(world: World) -> None:
    gather = world.actions["voice_gather"]
    form = {"Digits": "1", "CallSid": "CA1"}
    sig = signing.twilio_signature(TWILIO_TOKEN, gather, form)
    answer = world.client.post(
        gather.removeprefix("http://onduty.test"), data=form, headers={"X-Twilio-Signature": sig}
    )
    assert answer.status_code == 200 and "Incident 1 is now acknowledged" in answer.text
    assert status(world) == "acknowledged"


# --- identity and shape of what Slack and Twilio send -----------------------------------------


def slack_post(world: World, body: bytes) -> Any:
    ts = str(int(world.clock.now().timestamp()))
    headers = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signing.slack_signature(SLACK_SECRET, ts, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return world.client.post("/integrations/slack/interactions", content=body, headers=headers)


def slack_body(payload: object) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_a_signed_slack_payload_without_a_user_acts_as_nobody(world: World) -> None:
    # arjun has no Slack id: a lookup by a missing user.id used to find him (NULL = NULL).
    acks = [{"action_id": "acknowledge", "value": "1"}]
    for user in ({}, {"id": None}, {"id": ""}, {"id": "  "}, None):
        payload = {"type": "block_actions", "actions": acks}
        answer = slack_post(world, slack_body({**payload, "user": user}))
        assert answer.status_code == 422 and answer.json()["field"] == "payload", answer.text
    unknown = slack_post(world, slack_body({"user": {"id": "U0NOBODY"}, "actions": acks}))
    assert unknown.status_code == 200 and "not linked to a person" in unknown.json()["text"]
    assert status(world) == "triggered"


@pytest.mark.parametrize(
    "body",
    [
        b"payload=%7Bnot+json",
        b"no-payload-field",
        b"",
        b"payload=%5B1%2C2%5D",  # a JSON array
        b"\xff\xfe",
        slack_body({"user": {"id": "U0ASHA"}, "actions": {"action_id": "acknowledge"}}),
        slack_body({"user": {"id": "U0ASHA"}, "actions": ["acknowledge"]}),
        slack_body({"user": {"id": "U0ASHA"}, "actions": [{"action_id": "acknowledge"}]}),
        slack_body(
            {"user": {"id": "U0ASHA"}, "actions": [{"action_id": "resolve", "value": "1e3"}]}
        ),
        slack_body(
            {
                "user": {"id": "U0ASHA"},
                "actions": [{"action_id": "acknowledge", "value": str(2**63)}],
            }
        ),
        slack_body(
            {
                "user": {"id": "U0ASHA"},
                "actions": [{"action_id": "acknowledge", "value": str(2**31)}],
            }
        ),
    ],
)
def test_a_malformed_but_signed_slack_payload_is_422(world: World, body: bytes) -> None:
    answer = slack_post(world, body)
    assert answer.status_code == 422 and answer.json()["field"] == "payload", answer.text
    assert status(world) == "triggered"


def test_an_sms_without_a_sender_acts_as_nobody(world: World) -> None:
    with world.session_factory() as s, s.begin():  # someone without a phone number
        s.add(Person(id="nophone", name="No Phone"))
    url = "http://onduty.test/integrations/twilio/sms"
    for form in ({"Body": "1A"}, {"From": "", "Body": "1A"}):
        sig = signing.twilio_signature(TWILIO_TOKEN, url, form)
        answer = world.client.post(
            "/integrations/twilio/sms", data=form, headers={"X-Twilio-Signature": sig}
        )
        assert answer.status_code == 200 and "Reply with the incident number" in answer.text
    assert status(world) == "triggered"


def voice(world: World, url: str, digits: str) -> Any:
    form = {"Digits": digits, "CallSid": "CA1"}
    sig = signing.twilio_signature(TWILIO_TOKEN, url, form)
    return world.client.post(
        url.removeprefix("http://onduty.test"), data=form, headers={"X-Twilio-Signature": sig}
    )


def test_the_voice_keypad_takes_only_its_own_url_and_only_once(world: World) -> None:
    # An e-mail link's token (here: acknowledge) is no keypad URL, whatever digit is pressed.
    ack_token = world.actions["acknowledge"].rsplit("/", 1)[1]
    borrowed = f"http://onduty.test/integrations/twilio/voice/{ack_token}"
    assert voice(world, borrowed, "2").status_code == 404
    assert status(world) == "triggered"
    # Nor is a keypad URL an action link.
    gather = world.actions["voice_gather"]
    keypad_token = gather.rsplit("/", 1)[1]
    assert world.client.post(f"/actions/{keypad_token}").status_code == 404
    assert status(world) == "triggered"
    first = voice(world, gather, "1")
    assert "Incident 1 is now acknowledged" in first.text
    again = voice(world, gather, "2")
    assert again.status_code == 200 and "already answered" in again.text
    assert status(world) == "acknowledged"


def test_links_die_with_the_incident_generation(world: World) -> None:
    """A link acts only on the incident as it was when the link was sent: after an acknowledge
    (by any channel), a resolve or a reopen, the message's other links are refused."""
    ack = world.actions["acknowledge"].removeprefix("http://onduty.test")
    resolve = world.actions["resolve"].removeprefix("http://onduty.test")
    assert world.client.post(ack).json()["status"] == "acknowledged"
    stale = world.client.post(resolve)
    assert stale.status_code == 409
    assert stale.json() == {
        "error": "incident #1 changed since this link was sent: it is now acknowledged; open "
        "the incident page to act on it",
        "field": "token",
    }
    assert status(world) == "acknowledged"
    page = world.client.get(resolve)
    assert page.status_code == 409 and "changed since this link was sent" in page.text
    assert "<form" not in page.text.split("<main", 1)[1]
    # Refused, not used up: it keeps saying why, rather than "already used".
    assert world.client.post(resolve).json()["error"].startswith("incident #1 changed")
