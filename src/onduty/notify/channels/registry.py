"""The channel registry: one adapter per contact-method type, built from Settings."""

from __future__ import annotations

from collections.abc import Mapping

from onduty.clock import Clock, SystemClock
from onduty.config import Settings
from onduty.notify.channels.base import Channel, PermanentError
from onduty.notify.channels.email import EmailChannel
from onduty.notify.channels.slack import SlackChannel
from onduty.notify.channels.twilio import TwilioSMSChannel, TwilioVoiceChannel
from onduty.notify.channels.webhook import WebhookChannel


def configured_types(settings: Settings) -> frozenset[str]:
    """The contact-method types this server can send on: what `build_channels` builds."""
    types = {"email", "webhook"}
    if settings.slack_bot_token:
        types.add("slack")
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number:
        types |= {"sms", "voice"}
    return frozenset(types)


def build_channels(settings: Settings, *, clock: Clock | None = None) -> dict[str, Channel]:
    """Return the configured channels keyed by contact-method type.

    `email` and `webhook` are always present (SMTP may run unauthenticated on localhost);
    `slack` needs `slack_bot_token`; `sms` and `voice` need the Twilio account SID, auth token
    and from number. A type left out is "not configured": `channel_for` turns that into a
    `PermanentError`, so delivery falls through to the person's next contact method.
    `clock` dates e-mails (the system clock by default).
    """
    timeout = settings.webhook_timeout_s
    channels: dict[str, Channel] = {
        "email": EmailChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            from_addr=settings.smtp_from,
            clock=clock or SystemClock(),
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout_s=timeout,
        ),
        "webhook": WebhookChannel(timeout_s=timeout),
    }
    configured = configured_types(settings)
    if "slack" in configured:
        channels["slack"] = SlackChannel(
            token=settings.slack_bot_token or "",
            base_url=settings.slack_base_url,
            timeout_s=timeout,
        )
    sid, token, number = (
        settings.twilio_account_sid or "",
        settings.twilio_auth_token or "",
        settings.twilio_from_number or "",
    )
    if "sms" in configured:
        for channel_type in (TwilioSMSChannel, TwilioVoiceChannel):
            channels[channel_type.type] = channel_type(
                account_sid=sid,
                auth_token=token,
                from_number=number,
                base_url=settings.twilio_base_url,
                timeout_s=timeout,
                # Delivery reports come back here (web/api/actions.py): an SMS not delivered
                # or a call not answered falls through to the next contact method at once.
                status_callback_url=f"{settings.base_url.rstrip('/')}/integrations/twilio/status",
            )
    return channels


def channel_for(channels: Mapping[str, Channel], channel_type: str) -> Channel:
    """Return the channel for a contact-method type.

    Raises:
        PermanentError: no channel of that type is configured (code `not_configured`).
    """
    try:
        return channels[channel_type]
    except KeyError:
        raise PermanentError(
            f"channel not configured: {channel_type}", code="not_configured"
        ) from None
