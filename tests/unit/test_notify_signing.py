"""Signing helpers against the published test vectors (FORMATS.md §7, §8.1, §11)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote_plus

import pytest

from onduty.notify.signing import (
    SignatureError,
    derive_key,
    sign_webhook,
    slack_signature,
    twilio_signature,
    verify_slack_request,
    verify_twilio_request,
    verify_webhook,
    webhook_key,
)

# --- X-Onduty-Signature: same scheme as Jira's X-Hub-Signature, so its vector applies (§7).
JIRA_SECRET = "jira-webhook-secret-01"
JIRA_BODY = (
    b'{"timestamp":1767225600000,"webhookEvent":"jira:issue_updated",'
    b'"issue_event_type_name":"issue_generic","issue":{"id":"10042","key":"OPS-42"}}'
)
JIRA_SIGNATURE = "sha256=8b25a671dd20ec14764723c3663297883a0b911afbcfd55682f160a2579e142f"


def test_webhook_signature_matches_the_sha256_vector() -> None:
    assert sign_webhook(JIRA_BODY, JIRA_SECRET) == JIRA_SIGNATURE
    verify_webhook(JIRA_BODY, JIRA_SECRET, JIRA_SIGNATURE)


@pytest.mark.parametrize(
    ("body", "secret", "signature"),
    [
        (JIRA_BODY + b" ", JIRA_SECRET, JIRA_SIGNATURE),  # body changed
        (JIRA_BODY, "other-secret", JIRA_SIGNATURE),  # wrong secret
        (JIRA_BODY, JIRA_SECRET, JIRA_SIGNATURE.removeprefix("sha256=")),  # no scheme prefix
        (JIRA_BODY, JIRA_SECRET, None),
        (JIRA_BODY, JIRA_SECRET, ""),
    ],
)
def test_webhook_signature_rejects(body: bytes, secret: str, signature: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_webhook(body, secret, signature)


def test_webhook_key_is_the_methods_own_secret_or_derived_from_the_server_secret() -> None:
    # Receivers verify with this key, so its derivation must never change.
    derived = "3d8a1444b94e4b9ad88e5a740e7e83b541a2c647cc677d71021ab59844095aaa"
    server = "test-secret-key-0123456789abcdef"
    assert webhook_key(server, 7, None) == derived == derive_key(server, "webhook:7")
    assert webhook_key(server, 7, "own-secret") == "own-secret"
    assert webhook_key(server, 8, None) != derived
    assert derived != server and server not in derived


# --- Slack v0 (§8.1)
SLACK_DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_DOC_TS = "1531420618"
SLACK_DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

OWN_SECRET = "oncall-test-signing-secret-0001"
OWN_TS = "1767225600"
OWN_NOW = datetime.fromtimestamp(1767225600, UTC)
SLASH_BODY = (
    b"token=legacyVerifTok123&team_id=T0ONCALL1&team_domain=example-ops&channel_id=C0INCID01&"
    b"channel_name=incidents&user_id=U0RESP001&user_name=jdoe&command=%2Foncall&"
    b"text=ack+INC-1042&api_app_id=A0ONCALL1&is_enterprise_install=false&"
    b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0ONCALL1%2F1111111111%2FAbCdEfGh&"
    b"trigger_id=1111111111.2222222222.abcdef0123456789"
)
SLASH_SIGNATURE = "v0=67c44ad06aec02618597d24d111bb5bae1a54552d3ac4ab4ac47f0807f4a1db7"
BLOCK_ACTIONS = {
    "type": "block_actions",
    "user": {"id": "U0RESP001", "username": "jdoe", "name": "jdoe", "team_id": "T0ONCALL1"},
    "api_app_id": "A0ONCALL1",
    "token": "legacyVerifTok123",
    "container": {
        "type": "message",
        "message_ts": "1767225500.000100",
        "channel_id": "C0INCID01",
        "is_ephemeral": False,
    },
    "trigger_id": "1111111111.2222222222.fedcba9876543210",
    "team": {"id": "T0ONCALL1", "domain": "example-ops"},
    "enterprise": None,
    "is_enterprise_install": False,
    "channel": {"id": "C0INCID01", "name": "incidents"},
    "message": {
        "type": "message",
        "subtype": "bot_message",
        "text": "INC-1042 triggered: checkout-api 5xx > 5%",
        "ts": "1767225500.000100",
        "bot_id": "B0ONCALL1",
    },
    "state": {"values": {}},
    "response_url": "https://hooks.slack.com/actions/T0ONCALL1/3333333333/XyZxYz",
    "actions": [
        {
            "action_id": "incident_ack",
            "block_id": "inc-1042-actions",
            "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True},
            "value": "INC-1042",
            "style": "primary",
            "type": "button",
            "action_ts": "1767225601.123456",
        }
    ],
}
BLOCK_ACTIONS_SIGNATURE = "v0=1e66cdfbe432e6a62907d5546396cbe7c62ae85e2a242553f239caf1ae132f29"


def block_actions_body() -> bytes:
    return ("payload=" + quote_plus(json.dumps(BLOCK_ACTIONS, separators=(",", ":")))).encode()


def test_slack_signature_matches_slacks_worked_example() -> None:
    assert slack_signature(SLACK_DOC_SECRET, SLACK_DOC_TS, SLACK_DOC_BODY) == SLACK_DOC_SIGNATURE
    verify_slack_request(
        SLACK_DOC_SECRET,
        SLACK_DOC_BODY,
        timestamp=SLACK_DOC_TS,
        signature=SLACK_DOC_SIGNATURE,
        now=datetime.fromtimestamp(int(SLACK_DOC_TS) + 1, UTC),
    )


def test_slack_signature_matches_own_slash_command_and_block_actions_vectors() -> None:
    body = block_actions_body()
    assert len(body) == 1440
    assert slack_signature(OWN_SECRET, OWN_TS, SLASH_BODY) == SLASH_SIGNATURE
    assert slack_signature(OWN_SECRET, OWN_TS, body) == BLOCK_ACTIONS_SIGNATURE
    for payload, signature in ((SLASH_BODY, SLASH_SIGNATURE), (body, BLOCK_ACTIONS_SIGNATURE)):
        verify_slack_request(
            OWN_SECRET, payload, timestamp=OWN_TS, signature=signature, now=OWN_NOW
        )


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=5), -timedelta(minutes=5), timedelta(seconds=0)]
)
def test_slack_accepts_inside_the_replay_window(skew: timedelta) -> None:
    verify_slack_request(
        OWN_SECRET, SLASH_BODY, timestamp=OWN_TS, signature=SLASH_SIGNATURE, now=OWN_NOW + skew
    )


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=5, seconds=1), -timedelta(minutes=5, seconds=1), timedelta(days=1)]
)
def test_slack_rejects_outside_the_replay_window(skew: timedelta) -> None:
    with pytest.raises(SignatureError, match="replay window"):
        verify_slack_request(
            OWN_SECRET,
            SLASH_BODY,
            timestamp=OWN_TS,
            signature=SLASH_SIGNATURE,
            now=OWN_NOW + skew,
        )


@pytest.mark.parametrize(
    ("body", "timestamp", "signature", "reason"),
    [
        (SLASH_BODY + b"&x=1", OWN_TS, SLASH_SIGNATURE, "does not match"),
        (SLASH_BODY, "1767225601", SLASH_SIGNATURE, "does not match"),  # timestamp is signed
        (SLASH_BODY, OWN_TS, "v1=" + SLASH_SIGNATURE[3:], "not a v0"),
        (SLASH_BODY, OWN_TS, None, "missing"),
        (SLASH_BODY, None, SLASH_SIGNATURE, "missing"),
        (SLASH_BODY, "yesterday", SLASH_SIGNATURE, "not a Unix time"),
    ],
)
def test_slack_rejects_bad_requests(
    body: bytes, timestamp: str | None, signature: str | None, reason: str
) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify_slack_request(
            OWN_SECRET, body, timestamp=timestamp, signature=signature, now=OWN_NOW
        )


# --- Twilio X-Twilio-Signature (§11)
TWILIO_TOKEN = "twilio-auth-token-test-01"
TWILIO_URL = "https://oncall.example.com/hooks/twilio/sms-status"
TWILIO_FORM = (
    "AccountSid=AC00000000000000000000000000000001&ApiVersion=2010-04-01&From=%2B15005550006&"
    "MessageSid=SM00000000000000000000000000000042&MessageStatus=delivered&"
    "SmsSid=SM00000000000000000000000000000042&SmsStatus=delivered&To=%2B15551230001"
)
TWILIO_SIGNATURE = "IrVoGEt7sA8IAgKguTEER6Wedyc="


def test_twilio_signature_matches_the_status_callback_vector() -> None:
    params = dict(parse_qsl(TWILIO_FORM))
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, params) == TWILIO_SIGNATURE
    # Order of the form fields does not matter: Twilio sorts them by name.
    reversed_pairs = list(reversed(parse_qsl(TWILIO_FORM)))
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, reversed_pairs) == TWILIO_SIGNATURE
    verify_twilio_request(TWILIO_TOKEN, TWILIO_URL, params, TWILIO_SIGNATURE)


def test_twilio_accepts_the_url_with_or_without_the_default_port() -> None:
    params = dict(parse_qsl(TWILIO_FORM))
    with_port = TWILIO_URL.replace("example.com/", "example.com:443/")
    verify_twilio_request(TWILIO_TOKEN, with_port, params, TWILIO_SIGNATURE)
    signed_with_port = twilio_signature(TWILIO_TOKEN, with_port, params)
    verify_twilio_request(TWILIO_TOKEN, TWILIO_URL, params, signed_with_port)


def test_twilio_signs_every_value_of_a_repeated_parameter() -> None:
    one = twilio_signature(TWILIO_TOKEN, TWILIO_URL, [("Digits", "1")])
    two = twilio_signature(TWILIO_TOKEN, TWILIO_URL, [("Digits", "2"), ("Digits", "1")])
    assert two == twilio_signature(TWILIO_TOKEN, TWILIO_URL + "Digits1Digits2", [])
    assert one != two


@pytest.mark.parametrize(
    ("url", "change", "signature"),
    [
        (TWILIO_URL, {"MessageStatus": "failed"}, TWILIO_SIGNATURE),
        (TWILIO_URL + "?x=1", {}, TWILIO_SIGNATURE),
        ("http://oncall.example.com/hooks/twilio/sms-status", {}, TWILIO_SIGNATURE),
        (TWILIO_URL, {}, None),
        (TWILIO_URL, {}, "not-base64"),
    ],
)
def test_twilio_rejects(url: str, change: dict[str, str], signature: str | None) -> None:
    params = dict(parse_qsl(TWILIO_FORM)) | change
    with pytest.raises(SignatureError):
        verify_twilio_request(TWILIO_TOKEN, url, params, signature)
