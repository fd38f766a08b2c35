"""Each channel adapter against a local server that speaks its provider's wire format."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.channel_servers import (
    Reply,
    SlackServer,
    SmtpHandler,
    TwilioServer,
    WebhookReceiver,
    free_port,
    smtp_server,
)

from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.notify import (
    Address,
    Channel,
    FakeChannel,
    IncidentInfo,
    Message,
    PermanentError,
    Receipt,
    RetryableError,
    build_channels,
    channel_for,
)
from onduty.notify.channels import (
    EmailChannel,
    SlackChannel,
    TwilioSMSChannel,
    TwilioVoiceChannel,
    WebhookChannel,
)
from onduty.notify.signing import verify_webhook

ACK = "https://onduty.example/a/ack?token=abc&sig=1"
RESOLVE = "https://onduty.example/a/resolve?token=def&sig=2"
GATHER = "https://onduty.example/hooks/twilio/voice?n=17&sig=3"
SECRET = "webhook-secret-0001"
SLACK_TOKEN = "xoxb-test-token"
TWILIO_SID = "AC00000000000000000000000000000001"
TWILIO_TOKEN = "twilio-auth-token-test-01"
TWILIO_FROM = "+15005550006"
ASHA_PHONE = "+15551230001"
NOW = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)


def make_message(**changes: Any) -> Message:
    base = Message(
        event="incident.triggered",
        idempotency_key="outbox-17",
        recipient="asha",
        recipient_name="Asha Rao",
        incident=IncidentInfo(
            id="inc_0042",
            number=42,
            title="checkout 500s <b>",
            priority="P1",
            status="triggered",
            service="Storefront",
            team="Web",
            url="https://onduty.example/incidents/42",
        ),
        step=1,
        actions={"acknowledge": ACK, "resolve": RESOLVE, "voice_gather": GATHER},
    )
    return dataclasses.replace(base, **changes)


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


# --- webhook


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def test_webhook_posts_signed_json(receiver: WebhookReceiver) -> None:
    channel = WebhookChannel(timeout_s=2)
    address = Address("webhook", f"{receiver.url}/hooks/asha?src=onduty", secret=SECRET)
    receipt = channel.send(make_message(), address)

    assert receipt == Receipt(provider_id=None, detail="HTTP 200")
    (request,) = receiver.requests
    assert (request.method, request.path, request.query) == ("POST", "/hooks/asha", "src=onduty")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Onduty-Idempotency-Key"] == "outbox-17"
    verify_webhook(request.body, SECRET, request.headers["X-Onduty-Signature"])
    body = request.json()
    assert set(body) == {
        "event",
        "incident",
        "recipient",
        "step",
        "actions",
        "idempotency_key",
        "runbook_url",
    }
    assert body["event"] == "incident.triggered"
    assert body["incident"]["number"] == 42
    incident_fields = {"id", "number", "title", "priority", "status", "service", "team", "url"}
    assert set(body["incident"]) == incident_fields
    assert body["recipient"] == "asha"
    assert body["step"] == 1
    assert body["actions"] == {"acknowledge": ACK, "resolve": RESOLVE}
    assert body["idempotency_key"] == "outbox-17"


def test_webhook_resend_carries_the_same_key(receiver: WebhookReceiver) -> None:
    channel = WebhookChannel(timeout_s=2)
    address = Address("webhook", f"{receiver.url}/hook", secret=SECRET)
    channel.send(make_message(), address)
    channel.send(make_message(), address)
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["X-Onduty-Idempotency-Key"] == second.headers["X-Onduty-Idempotency-Key"]


@pytest.mark.parametrize("status", [400, 401, 404, 410, 301])
def test_webhook_4xx_is_permanent(receiver: WebhookReceiver, status: int) -> None:
    receiver.fail_next(Reply(status, headers={"Location": "https://elsewhere.example/"}))
    with pytest.raises(PermanentError) as info:
        WebhookChannel(timeout_s=2).send(
            make_message(), Address("webhook", f"{receiver.url}/hook", secret=SECRET)
        )
    assert info.value.code == str(status)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_webhook_transient_statuses_are_retryable(receiver: WebhookReceiver, status: int) -> None:
    receiver.fail_next(Reply(status, headers={"Retry-After": "7"}))
    with pytest.raises(RetryableError) as info:
        WebhookChannel(timeout_s=2).send(
            make_message(), Address("webhook", f"{receiver.url}/hook", secret=SECRET)
        )
    assert info.value.retry_after == 7.0


def test_webhook_connection_refused_is_retryable() -> None:
    with pytest.raises(RetryableError, match="ConnectError"):
        WebhookChannel(timeout_s=2).send(
            make_message(), Address("webhook", f"{closed_url()}/hook", secret=SECRET)
        )


@pytest.mark.parametrize(
    ("value", "secret", "reason"),
    [
        ("ftp://example.com/x", SECRET, "not an http"),
        ("https://example.com/x", None, "no signing secret"),
        ("http:///no-host", SECRET, "no host"),
        ("http://exa mple.com/x", SECRET, "no host"),
    ],
)
def test_webhook_bad_address_is_permanent(value: str, secret: str | None, reason: str) -> None:
    with pytest.raises(PermanentError, match=reason):
        WebhookChannel(timeout_s=2).send(make_message(), Address("webhook", value, secret=secret))


# --- e-mail


def email_channel(port: int, **options: Any) -> EmailChannel:
    return EmailChannel(
        host="127.0.0.1",
        port=port,
        from_addr="onduty@ops.example",
        clock=FakeClock(NOW),
        timeout_s=2,
        **options,
    )


def parse_mail(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_email_sends_text_and_html(tmp_path: Any) -> None:
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        receipt = email_channel(port).send(
            make_message(), Address("email", "Asha Rao <asha@ops.example>")
        )

    (envelope,) = handler.envelopes
    assert envelope.mail_from == "onduty@ops.example"
    assert envelope.rcpt_tos == ["asha@ops.example"]
    assert isinstance(envelope.content, bytes)
    mail = parse_mail(envelope.content)
    assert mail["Subject"] == "[P1] #42 Storefront: checkout 500s <b> (triggered)"
    assert mail["From"] == "onduty@ops.example"
    assert mail["To"] == "Asha Rao <asha@ops.example>"
    assert mail["Date"] == "Mon, 30 Nov 2026 04:30:00 +0000"
    assert mail["Message-ID"] == "<onduty.outbox-17@ops.example>"
    assert receipt.provider_id == "<onduty.outbox-17@ops.example>"
    assert mail["X-Onduty-Idempotency-Key"] == "outbox-17"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["References"].startswith("<onduty.incident.")
    assert mail.get_content_type() == "multipart/alternative"
    text_part = mail.get_body(("plain",))
    html_part = mail.get_body(("html",))
    assert isinstance(text_part, EmailMessage) and isinstance(html_part, EmailMessage)
    text, html = text_part.get_content(), html_part.get_content()
    assert f"Acknowledge: {ACK}" in text and f"Resolve: {RESOLVE}" in text
    assert "checkout 500s <b>" in text
    assert "checkout 500s &lt;b&gt;" in html and "<b>" not in html
    assert 'href="https://onduty.example/a/ack?token=abc&amp;sig=1"' in html
    assert 'href="https://onduty.example/a/resolve?token=def&amp;sig=2"' in html


def test_email_resend_has_the_same_message_id() -> None:
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        channel = email_channel(port)
        channel.send(make_message(), Address("email", "asha@ops.example"))
        channel.send(make_message(), Address("email", "asha@ops.example"))
    ids = {parse_mail(bytes(e.content))["Message-ID"] for e in handler.envelopes}  # type: ignore[arg-type]
    assert ids == {"<onduty.outbox-17@ops.example>"}
    odd = email_channel(1).message_id("row 17/ä")
    assert odd == email_channel(1).message_id("row 17/ä")
    assert " " not in odd and "ä" not in odd


def test_email_logs_in_when_credentials_are_set() -> None:
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        email_channel(port, username="onduty", password="smtp-pass").send(
            make_message(), Address("email", "asha@ops.example")
        )
        with pytest.raises(PermanentError) as info:
            email_channel(port, username="onduty", password="wrong").send(
                make_message(), Address("email", "asha@ops.example")
            )
    # smtplib tries each advertised mechanism (PLAIN, then LOGIN) before giving up.
    assert handler.logins[0] == ("onduty", "smtp-pass")
    assert set(handler.logins[1:]) == {("onduty", "wrong")}
    assert len(handler.envelopes) == 1
    assert info.value.code == "535"


def test_email_recipient_rejected_550_is_permanent() -> None:
    handler = SmtpHandler(rcpt_reply="550 5.1.1 <asha@ops.example>: Recipient address rejected")
    with smtp_server(handler) as port, pytest.raises(PermanentError) as info:
        email_channel(port).send(make_message(), Address("email", "asha@ops.example"))
    assert info.value.code == "550"
    assert "Recipient address rejected" in str(info.value)
    assert handler.envelopes == []


def test_email_greylisted_451_is_retryable() -> None:
    handler = SmtpHandler(rcpt_reply="451 4.7.1 Greylisted, try again later")
    with smtp_server(handler) as port, pytest.raises(RetryableError, match="451"):
        email_channel(port).send(make_message(), Address("email", "asha@ops.example"))


def test_email_connection_refused_is_retryable() -> None:
    with pytest.raises(RetryableError, match="ConnectionRefusedError"):
        email_channel(free_port()).send(make_message(), Address("email", "asha@ops.example"))


@pytest.mark.parametrize("value", ["asha", "asha@ops.example\r\nBcc: eve@evil.example"])
def test_email_bad_address_is_permanent(value: str) -> None:
    with pytest.raises(PermanentError, match="not an e-mail address"):
        email_channel(1).send(make_message(), Address("email", value))


# --- Slack


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(SLACK_TOKEN, {"U0ASHA": "D0ASHA", "C0INCIDENTS": "C0INCIDENTS"}) as server:
        yield server


def slack_channel(server_url: str, token: str = SLACK_TOKEN) -> SlackChannel:
    return SlackChannel(token=token, base_url=f"{server_url}/api/", timeout_s=2)


def test_slack_posts_blocks_with_buttons(slack: SlackServer) -> None:
    receipt = slack_channel(slack.url).send(make_message(), Address("slack", "U0ASHA"))

    assert receipt.provider_id == "D0ASHA:1767225500.000100"
    (request,) = slack.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    assert request.headers["Content-Type"].startswith("application/json")
    args = request.json()
    assert args["channel"] == "U0ASHA"
    assert args["text"] == "P1 #42 triggered: checkout 500s <b>"
    section, actions = args["blocks"]
    assert "checkout 500s &lt;b&gt;" in section["text"]["text"]
    assert [(b["action_id"], b["value"]) for b in actions["elements"]] == [
        ("acknowledge", "inc_0042"),
        ("resolve", "inc_0042"),
    ]
    assert args["metadata"] == {
        "event_type": "onduty_notification",
        "event_payload": {"idempotency_key": "outbox-17", "incident_id": "inc_0042"},
    }


@pytest.mark.parametrize(
    ("token", "destination", "error"),
    [
        (SLACK_TOKEN, "U0NOBODY", "channel_not_found"),
        ("xoxb-revoked", "U0ASHA", "invalid_auth"),
    ],
)
def test_slack_errors_are_permanent(
    slack: SlackServer, token: str, destination: str, error: str
) -> None:
    with pytest.raises(PermanentError) as info:
        slack_channel(slack.url, token).send(make_message(), Address("slack", destination))
    assert info.value.code == error


@pytest.mark.parametrize(
    "reply",
    [
        Reply.json(429, {"ok": False, "error": "ratelimited"}, **{"Retry-After": "3"}),
        Reply.json(200, {"ok": False, "error": "ratelimited"}, **{"Retry-After": "3"}),
        Reply(503, b"<html>Service Unavailable</html>", {"Retry-After": "3"}),
    ],
)
def test_slack_rate_limit_and_outage_are_retryable(slack: SlackServer, reply: Reply) -> None:
    slack.fail_next(reply)
    with pytest.raises(RetryableError) as info:
        slack_channel(slack.url).send(make_message(), Address("slack", "U0ASHA"))
    assert info.value.retry_after == 3.0
    assert len(slack.requests) == 1  # the SDK did not retry behind the outbox's back


def test_slack_connection_refused_is_retryable() -> None:
    with pytest.raises(RetryableError, match="unreachable"):
        slack_channel(closed_url()).send(make_message(), Address("slack", "U0ASHA"))


# --- Twilio


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    with TwilioServer(TWILIO_SID, TWILIO_TOKEN, unsubscribed={"+15551239999"}) as server:
        yield server


def twilio_channel(
    kind: type[TwilioSMSChannel] | type[TwilioVoiceChannel], url: str, **options: Any
) -> TwilioSMSChannel | TwilioVoiceChannel:
    return kind(
        account_sid=TWILIO_SID,
        auth_token=options.pop("auth_token", TWILIO_TOKEN),
        from_number=TWILIO_FROM,
        base_url=url,
        timeout_s=2,
        **options,
    )


def test_twilio_sms_posts_the_form(twilio: TwilioServer) -> None:
    channel = twilio_channel(
        TwilioSMSChannel, twilio.url, status_callback_url="https://onduty.example/hooks/sms?v=1"
    )
    receipt = channel.send(make_message(), Address("sms", ASHA_PHONE))

    assert receipt == Receipt(provider_id=f"SM{1:032x}", detail="queued")
    (request,) = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert request.basic_auth() == (TWILIO_SID, TWILIO_TOKEN)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = request.form()
    assert set(form) == {"To", "From", "Body", "StatusCallback"}
    assert (form["To"], form["From"]) == (ASHA_PHONE, TWILIO_FROM)
    assert form["Body"] == (
        "onduty P1 #42 Storefront: checkout 500s <b>. Reply 42A to acknowledge, 42R to resolve. "
        f"Ack: {ACK}"
    )
    callback = urlsplit(form["StatusCallback"])
    assert parse_qs(callback.query) == {"v": ["1"], "idempotency_key": ["outbox-17"]}


def test_twilio_voice_posts_inline_twiml(twilio: TwilioServer) -> None:
    receipt = twilio_channel(TwilioVoiceChannel, twilio.url).send(
        make_message(), Address("voice", ASHA_PHONE)
    )

    assert receipt.provider_id == f"CA{1:032x}"
    (request,) = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Calls.json"
    assert request.basic_auth() == (TWILIO_SID, TWILIO_TOKEN)
    form = request.form()
    assert set(form) == {"To", "From", "Twiml"}
    gather = ET.fromstring(form["Twiml"]).find("Gather")
    assert gather is not None
    assert gather.attrib["action"] == GATHER
    assert gather.attrib["numDigits"] == "1"
    say = gather.find("Say")
    assert say is not None and say.text is not None
    assert "incident 42 on Storefront: checkout 500s <b>" in say.text
    assert "Press 1 to acknowledge" in say.text


@pytest.mark.parametrize(
    ("kind", "number", "code"),
    [
        (TwilioSMSChannel, TwilioServer.INVALID, "21211"),
        (TwilioSMSChannel, TwilioServer.NOT_MOBILE, "21614"),
        (TwilioSMSChannel, "+15551239999", "21610"),
        (TwilioVoiceChannel, TwilioServer.INVALID, "21211"),
    ],
)
def test_twilio_invalid_numbers_are_permanent(
    twilio: TwilioServer,
    kind: type[TwilioSMSChannel] | type[TwilioVoiceChannel],
    number: str,
    code: str,
) -> None:
    with pytest.raises(PermanentError) as info:
        twilio_channel(kind, twilio.url).send(make_message(), Address("sms", number))
    assert info.value.code == code
    assert len(twilio.requests) == 1


def test_twilio_bad_credentials_are_permanent(twilio: TwilioServer) -> None:
    with pytest.raises(PermanentError) as info:
        twilio_channel(TwilioSMSChannel, twilio.url, auth_token="wrong").send(
            make_message(), Address("sms", ASHA_PHONE)
        )
    assert info.value.code == "20003"


def test_twilio_refuses_a_non_e164_number_without_calling() -> None:
    with pytest.raises(PermanentError, match=r"E\.164"):
        twilio_channel(TwilioSMSChannel, closed_url()).send(
            make_message(), Address("sms", "555-1234")
        )


@pytest.mark.parametrize(
    "reply",
    [
        TwilioServer.error(429, 20429, "Too Many Requests"),
        TwilioServer.error(503, 20503, "Service Unavailable"),
        Reply(502, b"Bad Gateway"),
    ],
)
def test_twilio_rate_limit_and_outage_are_retryable(twilio: TwilioServer, reply: Reply) -> None:
    twilio.fail_next(reply)
    channel = twilio_channel(TwilioSMSChannel, twilio.url)
    with pytest.raises(RetryableError):
        channel.send(make_message(), Address("sms", ASHA_PHONE))
    # The retry with the same key goes through; Twilio itself cannot tell it is a repeat.
    assert channel.send(make_message(), Address("sms", ASHA_PHONE)).provider_id


def test_twilio_connection_refused_is_retryable() -> None:
    with pytest.raises(RetryableError, match="ConnectError"):
        twilio_channel(TwilioVoiceChannel, closed_url()).send(
            make_message(), Address("voice", ASHA_PHONE)
        )


# --- registry


def settings(**values: Any) -> Settings:
    return Settings(secret_key="test-secret-key-0123456789abcdef", **values)


def test_registry_leaves_out_channels_without_credentials() -> None:
    channels = build_channels(settings())
    assert sorted(channels) == ["email", "webhook"]
    with pytest.raises(PermanentError, match="channel not configured: sms") as info:
        channel_for(channels, "sms")
    assert info.value.code == "not_configured"
    half_twilio = build_channels(settings(twilio_account_sid=TWILIO_SID, twilio_auth_token="t"))
    assert "sms" not in half_twilio


def test_registry_channels_reach_the_configured_servers(
    receiver: WebhookReceiver, slack: SlackServer, twilio: TwilioServer
) -> None:
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        channels = build_channels(
            settings(
                smtp_port=port,
                smtp_from="pager@ops.example",
                slack_base_url=f"{slack.url}/api/",
                slack_bot_token=SLACK_TOKEN,
                twilio_base_url=twilio.url,
                twilio_account_sid=TWILIO_SID,
                twilio_auth_token=TWILIO_TOKEN,
                twilio_from_number=TWILIO_FROM,
                webhook_timeout_s=2,
            ),
            clock=FakeClock(NOW),
        )
        assert sorted(channels) == ["email", "slack", "sms", "voice", "webhook"]
        addresses = {
            "email": Address("email", "asha@ops.example"),
            "slack": Address("slack", "U0ASHA"),
            "sms": Address("sms", ASHA_PHONE),
            "voice": Address("voice", ASHA_PHONE),
            "webhook": Address("webhook", f"{receiver.url}/hook", secret=SECRET),
        }
        for kind, address in addresses.items():
            channel = channel_for(channels, kind)
            assert channel.type == kind
            assert isinstance(channel.send(make_message(), address), Receipt)
    assert len(handler.envelopes) == 1
    assert len(slack.requests) == 1
    assert [r.path.rsplit("/", 1)[1] for r in twilio.requests] == ["Messages.json", "Calls.json"]
    assert len(receiver.requests) == 1


# --- the fake


def test_fake_channel_records_and_fails_on_request() -> None:
    fake: Channel = FakeChannel("sms")
    assert isinstance(fake, FakeChannel)
    fake.fail_next(2, retry_after=15)
    fake.fail_next(permanent=True, reason="number unsubscribed")
    address = Address("sms", ASHA_PHONE)
    for _ in range(2):
        with pytest.raises(RetryableError) as retry:
            fake.send(make_message(), address)
        assert retry.value.retry_after == 15
    with pytest.raises(PermanentError, match="unsubscribed"):
        fake.send(make_message(), address)
    assert fake.send(make_message(), address) == Receipt("sms-1", "recorded")
    assert fake.send(make_message(), address).provider_id == "sms-2"
    assert fake.attempts == 5
    assert fake.duplicates() == ["outbox-17"]
    (first, _) = fake.take()
    assert (first.message.idempotency_key, first.address) == ("outbox-17", address)
    assert fake.sent == []
    fake.fail_next()
    fake.reset()
    assert fake.send(make_message(), address).provider_id == "sms-1"


def test_fake_channel_is_thread_safe() -> None:
    fake = FakeChannel()
    fake.fail_next(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(25):
            try:
                fake.send(make_message(idempotency_key=f"{n}-{i}"), Address("fake", "x"))
                result = "sent"
            except RetryableError:
                result = "retry"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("retry") == 50
    assert len(fake.sent) == 150 and fake.attempts == 200
    assert fake.duplicates() == []
    assert len({s.receipt.provider_id for s in fake.sent}) == 150
