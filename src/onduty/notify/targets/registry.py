"""The target registry: one adapter per external system, built from Settings."""

from __future__ import annotations

from collections.abc import Mapping

from onduty.clock import Clock, SystemClock
from onduty.config import Settings
from onduty.notify.channels.base import PermanentError
from onduty.notify.targets.base import Target
from onduty.notify.targets.http import HttpTarget
from onduty.notify.targets.jira import JiraTarget
from onduty.notify.targets.slack import SlackTarget


def build_targets(settings: Settings, clock: Clock | None = None) -> dict[str, Target]:
    """Return the configured targets keyed by name. `http` needs `http_target_secret` (unsigned
    calls would let anyone forge them), `jira` its base URL, e-mail and API token, `slack`
    `slack_bot_token`, `intercom` a token and an admin id; `mail` uses the SMTP settings. A
    target left out is "not configured", which `target_for` turns into a `PermanentError`."""
    from onduty.notify.targets.intercom import IntercomTarget
    from onduty.notify.targets.mail import MailTarget

    targets: dict[str, Target] = {
        "mail": MailTarget(
            host=settings.smtp_host,
            port=settings.smtp_port,
            from_addr=settings.smtp_from,
            clock=clock or SystemClock(),
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    }
    if settings.intercom_token and settings.intercom_admin_id:
        targets["intercom"] = IntercomTarget(
            base_url=settings.intercom_base_url,
            token=settings.intercom_token,
            admin_id=settings.intercom_admin_id,
            timeout_s=settings.webhook_timeout_s,
        )
    if settings.http_target_secret:
        targets["http"] = HttpTarget(
            secret=settings.http_target_secret, timeout_s=settings.webhook_timeout_s
        )
    if settings.jira_base_url and settings.jira_email and settings.jira_api_token:
        targets["jira"] = JiraTarget(
            base_url=settings.jira_base_url,
            email=settings.jira_email,
            api_token=settings.jira_api_token,
            onduty_url=settings.base_url,
            timeout_s=settings.webhook_timeout_s,
        )
    if settings.slack_bot_token:
        targets["slack"] = SlackTarget(
            token=settings.slack_bot_token,
            base_url=settings.slack_base_url,
            public_url=settings.base_url,
            timeout_s=settings.webhook_timeout_s,
        )
    return targets


def target_for(targets: Mapping[str, Target], name: str) -> Target:
    """Return the target called `name`.

    Raises:
        PermanentError: no such target is configured (code `not_configured`).
    """
    try:
        return targets[name]
    except KeyError:
        raise PermanentError(f"target not configured: {name}", code="not_configured") from None
