"""Settings: the one place that reads the environment (`ONDUTY_*`), read once and passed down."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from onduty.durations import parse_duration

DEMO_SECRET = "onduty-demo-secret-change-me"


class Settings(BaseSettings):
    """Process settings. Secrets left at their placeholder are refused unless `demo` is on."""

    model_config = SettingsConfigDict(env_prefix="ONDUTY_", extra="ignore")

    database_url: str = "sqlite:///onduty.db"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEMO_SECRET
    engine_tick: timedelta = timedelta(seconds=1)
    demo: bool = False
    # `onduty serve` runs the engine in each serving process unless told not to (--no-engine).
    serve_engine: bool = True
    # Inbound limits (SPEC §6.3). The body limit holds for every route (web/limits.py).
    max_body_bytes: int = Field(default=512 * 1024, ge=1024)
    integration_rate_limit: int = Field(default=300, ge=1)  # requests per minute per integration
    # Alerts in one inbound request; Alertmanager's `max_alerts` can keep a group under it.
    max_alerts_per_request: int = Field(default=100, ge=1)
    # The longest override or time off the API and the pages accept (the CLI is not limited).
    max_schedule_window: timedelta = timedelta(days=90)
    # Free failed sign-ins per (username, address), per address and per username before each
    # further attempt must wait (auth/throttle.py).
    login_throttle_after: int = Field(default=5, ge=1)
    login_throttle_address_after: int = Field(default=30, ge=1)
    login_throttle_username_after: int = Field(default=100, ge=1)
    # Per contact method per 15 minutes; more are delayed, never dropped.
    sms_per_15m: int = Field(default=5, ge=1)
    voice_per_15m: int = Field(default=3, ge=1)
    # Outbound notification channels (notify/channels). A channel whose credentials are unset is
    # left out of the registry; every base URL is configurable so tests can use local servers.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "onduty@localhost"
    slack_base_url: str = "https://slack.com/api/"
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    webhook_timeout_s: float = 10
    # Outbound calls to external systems (notify/targets): the generic `http` target signs its
    # JSON POSTs with this secret; unset leaves the target out.
    http_target_secret: str | None = None
    # Jira Cloud REST v3 (notify/targets/jira.py), with an account's e-mail and API token; unset
    # leaves the target out. The webhook secret, when set, must sign every Jira webhook.
    jira_base_url: str | None = None
    jira_email: str | None = None
    jira_api_token: str | None = None
    jira_webhook_secret: str | None = None
    # The public report form (GET|POST /report): reports per client address per minute, and
    # the largest screenshot it takes (the whole request stays under max_body_bytes).
    report_rate_limit: int = Field(default=5, ge=1)
    report_upload_max_bytes: int = Field(default=256 * 1024, ge=1024)
    # Working days (the organisation's) until a postmortem is due after its incident is
    # resolved, and until a runbook task opened by a verdict short of "enough" is due.
    postmortem_due_days: int = Field(default=5, ge=1, le=60)
    runbook_task_due_days: int = Field(default=5, ge=1, le=60)
    # Intercom (SPEC §6.4): webhooks are verified with the app's client secret; replies and
    # notes on linked conversations are posted as `intercom_admin_id` with the access token.
    intercom_base_url: str = "https://api.intercom.io"
    intercom_token: str | None = None
    intercom_admin_id: str | None = None
    intercom_client_secret: str | None = None
    # Subscribe form: requests per client address per hour before 429.
    subscribe_per_hour: int = Field(default=10, ge=1)

    @field_validator("engine_tick", "max_schedule_window", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_duration(value)
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if not self.demo and self.secret_key == DEMO_SECRET:
            raise ValueError(
                "ONDUTY_SECRET_KEY is still the demo placeholder: set it to a long random value "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        if len(self.secret_key) < 16:
            raise ValueError("ONDUTY_SECRET_KEY must be at least 16 characters")
        return self


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment, with explicit overrides (CLI flags, tests) on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
