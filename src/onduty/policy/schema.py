"""The policy file, version 1 (SPEC §6.1), as strict Pydantic models: unknown keys are errors,
strings must be strings, and every value is checked for its form (durations, zones, E.164)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from onduty import localtime
from onduty.durations import parse_duration
from onduty.errors import InvalidInput

LEVELS = ("L1", "L2", "L3")
PRIORITIES = ("P1", "P2", "P3", "P4")
INTEGRATION_TYPES = ("alertmanager", "gcp", "grafana", "generic", "pagerduty", "intercom", "jira")
CONTACT_TYPES = ("email", "sms", "voice", "slack", "webhook")
BASIC_TARGETS = ("primary", "secondary", "L1", "L2", "L3", "team")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TARGET = re.compile(r"^(primary|secondary|L1|L2|L3|team|person:[^\s/]+|slot:[^\s/]+/[^\s/]+)$")


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"{value!r} is not a valid id (lower-case letters, digits, '-' and '_', max 64)"
        )
    return value


def _zone(value: str) -> str:
    try:
        localtime.zone(value)
    except InvalidInput as e:
        raise ValueError(e.message) from None
    return value


def _e164(value: str) -> str:
    if not _E164.match(value):
        raise ValueError(f'{value!r} is not an E.164 phone number (e.g. "+15550100001")')
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def _hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError(f'{value!r} is not a time of day as HH:MM (e.g. "09:00")')
    return value


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(value)


def _weekday(value: str) -> str:
    if value not in localtime.WEEKDAYS:
        raise ValueError(f"{value!r} is not a weekday (one of {', '.join(localtime.WEEKDAYS)})")
    return value


def _target(value: str) -> str:
    if not _TARGET.match(value):
        raise ValueError(
            f"{value!r} is not a target (primary, secondary, L1, L2, L3, team, "
            "person:<id>, slot:<team>/<slot>)"
        )
    return value


def _date(value: Any) -> Any:
    # YAML gives a date for an unquoted 2026-11-30; accept the quoted spelling too.
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date as YYYY-MM-DD") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"{value!r} is not a date as YYYY-MM-DD")
    return value


def _instant(value: Any) -> Any:
    # Local wall-clock ("2026-12-02T18:00", read in the team's zone) or with an offset.
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date and time as YYYY-MM-DDTHH:MM")


Slug = Annotated[StrictStr, AfterValidator(_slug)]
Zone = Annotated[StrictStr, AfterValidator(_zone)]
Phone = Annotated[StrictStr, AfterValidator(_e164)]
Email = Annotated[StrictStr, AfterValidator(_email)]
HHMM = Annotated[StrictStr, AfterValidator(_hhmm)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
Weekday = Annotated[StrictStr, AfterValidator(_weekday)]
Target = Annotated[StrictStr, AfterValidator(_target)]
Day = Annotated[date, BeforeValidator(_date)]
Instant = Annotated[datetime, BeforeValidator(_instant)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkingHours(Strict):
    days: list[Weekday] = Field(min_length=1)
    start: HHMM
    end: HHMM

    @model_validator(mode="after")
    def _order(self) -> WorkingHours:
        if len(set(self.days)) != len(self.days):
            raise ValueError("working_hours.days lists a day twice")
        if self.end <= self.start:
            raise ValueError(f"working hours end ({self.end}) must be after start ({self.start})")
        return self


DEFAULT_WORKING_HOURS = WorkingHours(
    days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="18:00"
)


class OrganizationIn(Strict):
    name: StrictStr = Field(min_length=1)
    timezone: Zone = "UTC"
    ack_timeout: Duration = timedelta(minutes=5)
    working_hours: WorkingHours = DEFAULT_WORKING_HOURS


class ContactMethodIn(Strict):
    id: Slug
    type: Literal["email", "sms", "voice", "slack", "webhook"]
    address: StrictStr | None = None  # e-mail address, phone number or Slack member id
    url: StrictStr | None = None  # webhook only
    secret: StrictStr | None = None  # webhook only: HMAC key for X-Onduty-Signature

    @model_validator(mode="after")
    def _fits_type(self) -> ContactMethodIn:
        if self.type == "webhook":
            if not self.url or not re.match(r"^https?://", self.url):
                raise ValueError("a webhook contact method needs url: http(s)://…")
        else:
            if self.url is not None or self.secret is not None:
                raise ValueError(f"url and secret are only for webhook, not {self.type}")
            if not self.address:
                raise ValueError(f"a {self.type} contact method needs address")
            if self.type in ("sms", "voice"):
                _e164(self.address)
            elif self.type == "email":
                _email(self.address)
        return self


class NotificationRuleIn(Strict):
    after: Duration
    via: StrictStr  # a contact method type (email, sms, …) or a contact method id


class PersonIn(Strict):
    id: Slug
    name: StrictStr = Field(min_length=1)
    email: Email | None = None
    phone: Phone | None = None
    slack: StrictStr | None = None
    timezone: Zone | None = None
    discipline: StrictStr | None = None
    contact_methods: list[ContactMethodIn] = []
    notification_rules: list[NotificationRuleIn] | None = None


class WindowIn(Strict):
    days: list[Weekday] = Field(min_length=1)
    start: HHMM
    end: HHMM


class SlotIn(Strict):
    people: list[StrictStr]
    windows: list[WindowIn] = []


def _slot(value: Any) -> Any:
    # SPEC's short form is a plain list of people; the long form adds windows.
    return {"people": value} if isinstance(value, list) else value


class HandoffIn(Strict):
    day: Weekday
    time: HHMM


class RotaIn(Strict):
    timezone: Zone | None = None
    handoff: HandoffIn
    start: Day
    length: Duration = timedelta(days=7)
    max_consecutive: StrictInt | None = Field(default=None, ge=1)
    slots: dict[StrictStr, Annotated[SlotIn, BeforeValidator(_slot)]] = Field(min_length=1)

    @field_validator("length")
    @classmethod
    def _whole_days(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0 or value.total_seconds() % 86400:
            raise ValueError("rota length must be a whole number of days (e.g. 1d, 7d, 2w)")
        return value


class SupportIn(Strict):
    L1: list[StrictStr] = []
    L2: list[StrictStr] = []
    L3: list[StrictStr] = []


class TeamIn(Strict):
    id: Slug
    name: StrictStr = Field(min_length=1)
    members: list[StrictStr] = []
    support: SupportIn = SupportIn()
    rota: RotaIn | None = None
    slack_channel: StrictStr | None = None  # a Slack channel id (C…) for the team's incidents

    @field_validator("slack_channel")
    @classmethod
    def _slack_channel(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[CG][A-Z0-9]{2,31}", value):
            raise ValueError("slack_channel must be a Slack channel id such as C0INCID01")
        return value


class OverrideIn(Strict):
    team: StrictStr
    slot: StrictStr
    person: StrictStr
    start: Instant
    end: Instant
    reason: StrictStr | None = None


class TimeOffIn(Strict):
    person: StrictStr
    start: Instant
    end: Instant
    reason: StrictStr | None = None


class IntegrationIn(Strict):
    id: Slug
    type: Literal["alertmanager", "gcp", "grafana", "generic", "pagerduty", "intercom", "jira"]
    key: StrictStr | None = None
    mapping: dict[StrictStr, Any] | None = None  # generic only: dotted paths per field
    rate_limit: StrictInt | None = Field(default=None, ge=1)
    auto_resolve: StrictBool = True
    tag: StrictStr | None = None  # intercom only: take only conversations with this tag
    reply_as: Literal["reply", "note"] = "reply"  # intercom only: how status updates are posted
    label: StrictStr | None = None  # jira only: an issue created in Jira with it opens an incident

    @model_validator(mode="after")
    def _fits_type(self) -> IntegrationIn:
        if self.tag is not None and self.type != "intercom":
            raise ValueError("tag is only for intercom integrations")
        if self.label is not None and self.type != "jira":
            raise ValueError("label is only for jira integrations")
        return self

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not _KEY.match(value):
            raise ValueError("key must be 16–64 letters, digits, '-' or '_'")
        return value


class ServiceIn(Strict):
    id: Slug
    name: StrictStr = Field(min_length=1)
    team: StrictStr
    discipline: StrictStr | None = None
    escalation_policy: StrictStr | None = None
    integrations: list[IntegrationIn] = []


class StepIn(Strict):
    notify: list[Target] = Field(min_length=1)
    wait: Duration


class EscalationPolicyIn(Strict):
    id: Slug
    name: StrictStr | None = None
    repeat: StrictInt = Field(default=0, ge=0, le=9)
    steps: list[StepIn] = Field(min_length=1)


class PriorityIn(Strict):
    page: Literal["always", "working_hours"] = "always"
    backlog: StrictBool = False
    status_page: StrictBool = False
    postmortem: StrictBool = False
    update_every: Duration | None = None
    resolve_within: Duration | None = None


DEFAULT_PRIORITIES: dict[str, PriorityIn] = {
    "P1": PriorityIn(
        page="always",
        status_page=True,
        postmortem=True,
        update_every=timedelta(hours=1),
        resolve_within=timedelta(hours=4),
    ),
    "P2": PriorityIn(
        page="always",
        status_page=True,
        postmortem=True,
        update_every=timedelta(hours=1),
        resolve_within=timedelta(days=1),
    ),
    "P3": PriorityIn(page="working_hours", backlog=True, resolve_within=timedelta(days=3)),
    "P4": PriorityIn(page="working_hours", backlog=True, resolve_within=timedelta(days=14)),
}


class RuleWhenIn(Strict):
    service: list[StrictStr] | None = None
    severity: list[Literal["critical", "error", "warning", "info"]] | None = None
    labels: dict[StrictStr, StrictStr] | None = None
    channel: list[StrictStr] | None = None
    client_tier: list[StrictStr] | None = None
    words: list[StrictStr] | None = None
    min_affected_clients: StrictInt | None = Field(default=None, ge=1)


class CriticalityRuleIn(Strict):
    when: RuleWhenIn | None = None
    priority: Literal["P1", "P2", "P3", "P4"]


COMPONENT_STATUSES = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)


class ComponentIn(Strict):
    id: Slug
    name: StrictStr = Field(min_length=1)
    group: StrictStr | None = None  # served as a Statuspage group component
    description: StrictStr | None = None
    services: list[StrictStr] = []  # onduty services whose incidents affect it


class StatusPageIn(Strict):
    name: StrictStr = Field(min_length=1)
    components: list[ComponentIn] = []


TemplateKey = Literal[
    "status_investigating",
    "status_update",
    "status_resolved",
    "client_email",
    "intercom_reply",
    "developer_handover",
]
PriorityName = Literal["P1", "P2", "P3", "P4"]


class JiraIn(Strict):
    projects: dict[StrictStr, StrictStr] = {}  # team id -> Jira project key
    create_for: list[PriorityName] = ["P1", "P2", "P3", "P4"]
    # journey stage (acknowledged, handed_over, resolved) -> the Jira transition's name
    transitions: dict[StrictStr, StrictStr] = {}
    done_statuses: list[StrictStr] = ["Done"]
    issue_type: StrictStr = "Bug"
    priorities: dict[PriorityName, StrictStr] = {}  # onduty priority -> Jira priority name
    labels: list[StrictStr] = ["onduty"]


class HandoverIn(Strict):
    day: Weekday
    time: HHMM
    duration: Duration = timedelta(minutes=30)


class CheckIn(Strict):
    """A daily check (SPEC §6.4): a `checklist` ticked by the on-call people, an `http` probe
    the engine runs, or a `heartbeat` that must be pinged."""

    id: Slug
    type: Literal["checklist", "http", "heartbeat"]
    team: StrictStr | None = None
    service: StrictStr | None = None
    # checklist
    at: HHMM | None = None
    days: list[Weekday] | None = None
    items: list[StrictStr] = []
    deadline: Duration = timedelta(hours=2)  # not done this long after `at` raises an alert
    # http
    url: StrictStr | None = None
    timeout: Duration = timedelta(seconds=10)
    expect_status: StrictInt = Field(default=200, ge=100, le=599)
    expect_body: StrictStr | None = None
    failures: StrictInt = Field(default=3, ge=1, le=100)  # failing this many times in a row
    # http and heartbeat
    every: Duration | None = None
    grace: Duration = timedelta(0)
    key: StrictStr | None = None  # heartbeat only: the ping key (generated unless given)

    @model_validator(mode="after")
    def _fits_type(self) -> CheckIn:
        if self.team is None and self.service is None:
            raise ValueError("a check needs team or service")
        if self.type == "checklist":
            if self.at is None or not self.items:
                raise ValueError("a checklist needs at and items")
        elif self.every is None or self.every.total_seconds() < 1:
            raise ValueError(f"a {self.type} check needs every (at least 1s)")
        if self.type == "http" and (not self.url or not re.match(r"^https?://", self.url)):
            raise ValueError("an http check needs url: http(s)://…")
        if self.key is not None and (self.type != "heartbeat" or not _KEY.match(self.key)):
            raise ValueError("key is for heartbeat checks: 16–64 letters, digits, '-' or '_'")
        return self


class PolicyFile(Strict):
    version: Literal[1]
    organization: OrganizationIn
    people: list[PersonIn] = []
    teams: list[TeamIn] = []
    overrides: list[OverrideIn] = []
    time_off: list[TimeOffIn] = []
    services: list[ServiceIn] = []
    escalation_policies: list[EscalationPolicyIn] = []
    priorities: dict[Literal["P1", "P2", "P3", "P4"], PriorityIn] = {}
    criticality_rules: list[CriticalityRuleIn] = []
    status_page: StatusPageIn | None = None
    templates: dict[TemplateKey, StrictStr] = {}
    runbooks: StrictStr | None = None  # a folder of Markdown runbooks, relative to the file
    jira: JiraIn | None = None
    handover: HandoverIn | None = None
    checks: list[CheckIn] = []
