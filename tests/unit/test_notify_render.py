"""Rendering a Message for each channel, and the pure Twilio inbound helpers."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from onduty.notify import IncidentInfo, Message, PermanentError, render
from onduty.notify.channels import call_twiml, parse_sms_reply, parse_voice_digits, twiml_response

ACK = "https://onduty.example/a/ack?token=abc&sig=1"
RESOLVE = "https://onduty.example/a/resolve?token=def&sig=2"
GATHER = "https://onduty.example/hooks/twilio/voice?n=17&sig=3"
INCIDENT = IncidentInfo(
    id="inc_0042",
    number=42,
    title="checkout 500s",
    priority="P1",
    status="triggered",
    service="Storefront",
    team="Web",
    url="https://onduty.example/incidents/42",
)


def make_message(**changes: Any) -> Message:
    incident_changes = changes.pop("incident_changes", {})
    base = Message(
        event="incident.triggered",
        idempotency_key="outbox-17",
        recipient="asha",
        recipient_name="Asha Rao",
        incident=dataclasses.replace(INCIDENT, **incident_changes),
        step=1,
        actions={"acknowledge": ACK, "resolve": RESOLVE, "voice_gather": GATHER},
    )
    return dataclasses.replace(base, **changes)


def test_message_refuses_an_unknown_event_and_an_empty_key() -> None:
    with pytest.raises(ValueError, match="unknown event"):
        make_message(event="incident.exploded")
    with pytest.raises(ValueError, match="idempotency_key"):
        make_message(idempotency_key="")


@pytest.mark.parametrize(
    ("event", "status", "step", "expected"),
    [
        ("incident.triggered", "triggered", 1, "[P1] #42 Storefront: checkout 500s (triggered)"),
        (
            "incident.escalated",
            "triggered",
            2,
            "[P1] #42 Storefront: checkout 500s (escalated, step 2)",
        ),
        (
            "incident.acknowledged",
            "acknowledged",
            1,
            "[P1] #42 Storefront: checkout 500s (acknowledged)",
        ),
        ("incident.resolved", "resolved", None, "[P1] #42 Storefront: checkout 500s (resolved)"),
    ],
)
def test_subject(event: str, status: str, step: int | None, expected: str) -> None:
    message = make_message(event=event, step=step, incident_changes={"status": status})
    assert render.subject(message) == expected


def test_subject_and_bodies_without_an_incident() -> None:
    shift = make_message(event="oncall.shift_started", incident=None, step=None, actions={})
    assert render.subject(shift) == "[onduty] On-call shift started"
    assert "Your on-call shift has started." in render.text_body(shift)
    test = make_message(event="test", incident=None, step=None, actions={}, text="Ping <3")
    assert render.subject(test) == "[onduty] Test notification"
    assert "Ping &lt;3" in render.html_body(test)
    assert render.sms_body(test) == "onduty: Ping <3"
    assert render.webhook_payload(test)["incident"] is None
    assert render.slack_message(test)[1][0]["text"]["text"] == ":wave: Ping &lt;3"


@pytest.mark.parametrize(
    ("event", "status", "offered"),
    [
        ("incident.triggered", "triggered", ["acknowledge", "resolve"]),
        ("incident.escalated", "triggered", ["acknowledge", "resolve"]),
        ("incident.acknowledged", "acknowledged", ["resolve"]),
        ("incident.resolved", "resolved", []),
    ],
)
def test_offered_actions_follow_the_incident_status(
    event: str, status: str, offered: list[str]
) -> None:
    message = make_message(event=event, incident_changes={"status": status})
    assert render.offered_actions(message) == offered


def test_text_body_has_the_incident_and_action_links() -> None:
    body = render.text_body(make_message())
    assert body.startswith("Hello Asha Rao,\n")
    assert "P1 incident #42 triggered: checkout 500s" in body
    assert f"Acknowledge: {ACK}\n" in body
    assert f"Resolve: {RESOLVE}\n" in body
    assert "Open: https://onduty.example/incidents/42" in body
    assert GATHER not in body  # the voice callback is not for people


def test_html_body_escapes_everything_and_links_the_actions() -> None:
    message = make_message(
        recipient_name="<i>Asha</i>", incident_changes={"title": '<script>alert("x")</script>'}
    )
    html = render.html_body(message)
    assert "<script>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert 'href="https://onduty.example/a/ack?token=abc&amp;sig=1"' in html
    assert 'href="https://onduty.example/a/resolve?token=def&amp;sig=2"' in html
    assert ">Acknowledge</a>" in html and ">Resolve</a>" in html


def test_sms_body_triggered_has_reply_codes_and_the_ack_link() -> None:
    assert render.sms_body(make_message()) == (
        "onduty P1 #42 Storefront: checkout 500s. Reply 42A to acknowledge, 42R to resolve. "
        f"Ack: {ACK}"
    )


def test_sms_body_other_states() -> None:
    acked = make_message(event="incident.acknowledged", incident_changes={"status": "acknowledged"})
    assert render.sms_body(acked) == (
        "onduty P1 #42 Storefront: checkout 500s (acknowledged). Reply 42R to resolve"
    )
    resolved = make_message(event="incident.resolved", incident_changes={"status": "resolved"})
    assert render.sms_body(resolved) == "onduty P1 #42 Storefront: checkout 500s (resolved)."
    escalated = make_message(event="incident.escalated", step=3, actions={})
    assert render.sms_body(escalated) == (
        "onduty P1 #42 Storefront: checkout 500s (escalated, step 3). "
        "Reply 42A to acknowledge, 42R to resolve"
    )


def test_sms_body_clips_a_long_title_and_drops_a_link_that_does_not_fit() -> None:
    long_title = make_message(incident_changes={"title": "x" * 500})
    body = render.sms_body(long_title)
    core = body.split(". Ack: ")[0]
    assert len(core) <= render.SMS_CORE_LENGTH
    assert "x…. Reply 42A to acknowledge, 42R to resolve" in core
    long_link = make_message(actions={"acknowledge": "https://x.example/" + "a" * 300})
    assert "Ack:" not in render.sms_body(long_link)
    assert len(render.sms_body(long_link)) <= render.SMS_CORE_LENGTH


def test_voice_script_and_prompt() -> None:
    message = make_message()
    assert render.voice_script(message) == (
        "This is onduty. Priority 1 incident 42 on Storefront: checkout 500s. "
        "The incident is triggered."
    )
    assert render.voice_prompt(message) == "Press 1 to acknowledge. Press 2 to resolve."
    empty = make_message(incident_changes={"title": ""})
    assert "No summary provided" in render.voice_script(empty)


def test_slack_message_has_a_section_and_two_buttons() -> None:
    text, blocks = render.slack_message(make_message())
    assert text == "P1 #42 triggered: checkout 500s"
    section, actions = blocks
    assert section["type"] == "section"
    assert section["text"]["type"] == "mrkdwn"
    assert "<https://onduty.example/incidents/42|#42>" in section["text"]["text"]
    assert actions["type"] == "actions"
    buttons = actions["elements"]
    assert [b["action_id"] for b in buttons] == ["acknowledge", "resolve"]
    assert {b["value"] for b in buttons} == {"inc_0042"}
    assert buttons[0]["style"] == "primary"
    assert buttons[1]["confirm"]["confirm"]["text"] == "Resolve"
    assert all(len(b["text"]["text"]) <= 75 for b in buttons)


def test_slack_message_escapes_mentions_and_omits_buttons_when_resolved() -> None:
    message = make_message(
        event="incident.resolved",
        incident_changes={"title": "<!channel> a&b", "status": "resolved"},
    )
    _, blocks = render.slack_message(message)
    assert len(blocks) == 1
    assert "&lt;!channel&gt; a&amp;b" in blocks[0]["text"]["text"]
    assert "<!channel>" not in blocks[0]["text"]["text"]


def test_webhook_payload_has_the_spec_fields() -> None:
    payload = render.webhook_payload(make_message())
    assert payload == {
        "event": "incident.triggered",
        "incident": {
            "id": "inc_0042",
            "number": 42,
            "title": "checkout 500s",
            "priority": "P1",
            "status": "triggered",
            "service": "Storefront",
            "team": "Web",
            "url": "https://onduty.example/incidents/42",
        },
        "recipient": "asha",
        "step": 1,
        "actions": {"acknowledge": ACK, "resolve": RESOLVE},
        "idempotency_key": "outbox-17",
        "runbook_url": None,
    }


RUNBOOK = {
    "runbook_url": "https://onduty.example/runbooks/checkout-down",
    "runbook_title": "Checkout is down",
    "runbook_short_url": "https://onduty.example/rb/42",
}


def test_every_channel_links_the_runbook() -> None:
    message = make_message(incident_changes=RUNBOOK)
    assert render.webhook_payload(message)["runbook_url"] == RUNBOOK["runbook_url"]
    assert f"Runbook (Checkout is down): {RUNBOOK['runbook_url']}" in render.text_body(message)
    assert f'<a href="{RUNBOOK["runbook_url"]}">Checkout is down</a>' in render.html_body(message)
    _, blocks = render.slack_message(message)
    assert f"Runbook: <{RUNBOOK['runbook_url']}|Checkout is down>" in blocks[0]["text"]["text"]
    sms = render.sms_body(message)
    assert sms.endswith(" Runbook: https://onduty.example/rb/42") and len(sms) <= 320
    assert ". Ack: " in sms


def test_the_sms_keeps_the_ack_link_before_the_runbook_link() -> None:
    long_ack = "https://onduty.example/actions/" + "x" * 170
    message = make_message(
        incident_changes=RUNBOOK, actions={"acknowledge": long_ack, "resolve": RESOLVE}
    )
    sms = render.sms_body(message)
    assert long_ack in sms and "Runbook" not in sms and len(sms) <= 320


# --- Twilio inbound helpers


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        ("42A", (42, "acknowledge")),
        ("42a", (42, "acknowledge")),
        ("  42 r \n", (42, "resolve")),
        ("#42 ack", (42, "acknowledge")),
        ("7 resolve", (7, "resolve")),
        ("42ACKNOWLEDGE", (42, "acknowledge")),
        ("42", None),
        ("A42", None),
        ("42X", None),
        ("stop", None),
        ("", None),
        ("42A please", None),
    ],
)
def test_parse_sms_reply(reply: str, parsed: tuple[int, str] | None) -> None:
    assert parse_sms_reply(reply) == parsed


def test_sms_reply_codes_round_trip() -> None:
    for action in ("acknowledge", "resolve"):
        assert parse_sms_reply(render.sms_reply_code(42, action)) == (42, action)  # type: ignore[arg-type]


def test_parse_voice_digits() -> None:
    assert parse_voice_digits("1") == "acknowledge"
    assert parse_voice_digits("2") == "resolve"
    assert parse_voice_digits("9") is None
    assert parse_voice_digits("") is None


def test_call_twiml_gathers_one_key_posted_to_the_gather_url() -> None:
    root = ET.fromstring(call_twiml(make_message(), GATHER))
    assert root.tag == "Response"
    gather, goodbye = list(root)
    assert gather.tag == "Gather"
    assert gather.attrib == {"numDigits": "1", "action": GATHER, "method": "POST", "timeout": "10"}
    say = gather.find("Say")
    assert say is not None and say.text is not None
    assert "Press 1 to acknowledge. Press 2 to resolve." in say.text
    assert goodbye.tag == "Say"


def test_call_twiml_without_a_gather_url_only_speaks() -> None:
    root = ET.fromstring(call_twiml(make_message(), None))
    assert [child.tag for child in root] == ["Say"]
    too_long = make_message(incident_changes={"title": "x" * 5000})
    with pytest.raises(PermanentError, match="Twilio allows"):
        call_twiml(too_long, GATHER)


def test_twiml_response() -> None:
    assert twiml_response() == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    assert twiml_response(say="Acknowledged <#42>.").endswith(
        "<Response><Say>Acknowledged &lt;#42&gt;.</Say></Response>"
    )
    assert twiml_response(sms="Resolved #42").endswith(
        "<Response><Message>Resolved #42</Message></Response>"
    )


def test_public_surface_is_exported() -> None:
    import onduty.notify
    import onduty.notify.channels

    for module in (onduty.notify, onduty.notify.channels):
        assert len(set(module.__all__)) == len(module.__all__)
        assert all(hasattr(module, name) for name in module.__all__)


def test_a_reminder_is_a_notice_without_buttons() -> None:
    text = "The postmortem of incident 42 was due 2026-12-05 11:32 (Asia/Kolkata) and is draft"
    message = make_message(event="reminder", text=text)
    assert render.offered_actions(message) == []
    assert render.sms_body(message) == f"onduty reminder: {text}"
    assert render.subject(message).endswith("(reminder)")
    assert text in render.text_body(message)
    _, blocks = render.slack_message(message)
    assert len(blocks) == 1 and ":memo:" in blocks[0]["text"]["text"]
