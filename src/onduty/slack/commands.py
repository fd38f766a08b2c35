"""The `/onduty` slash command, the buttons of incident messages and the report modal: who the
Slack user is (a person, by their `slack` member id, with that person's role), what they asked,
and the answer. Quick work (who, status, ack, resolve, help) is answered in the request; the
rest is queued through the outbox to the `slack` target (a dry-run's answer to the command's
`response_url`, a modal through views.open), so the answer to Slack is always immediate.

The caller (web/api/slack.py) has verified Slack's signature and refused replays; it commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.auth.models import ApiToken
from onduty.auth.service import ROLES, role_allows
from onduty.bounds import check_instant
from onduty.errors import OndutyError
from onduty.escalation import dryrun
from onduty.incidents import ingest
from onduty.incidents import service as incidents_service
from onduty.incidents.models import Incident
from onduty.notify import outbox
from onduty.people.models import Login, Person
from onduty.schedules import service as schedules_service
from onduty.services.models import Service

REPORT_CALLBACK = "onduty_report"
HELP = (
    "*/onduty* commands:\n"
    "• `who [team]` who is on call now\n"
    "• `status` open incidents\n"
    "• `ack N` / `resolve N` acknowledge or resolve incident #N\n"
    "• `dryrun SERVICE [P1-P4] [ISO time]` who would be paged, when and how\n"
    "• `report` report a bug (opens a form)\n"
    "• `help` this list"
)
ACTIONS = {"ack": "acknowledge", "acknowledge": "acknowledge", "resolve": "resolve"}


@dataclass(frozen=True)
class Actor:
    person: Person
    role: str


def actor(session: Session, slack_user: str) -> Actor | None:
    """The person with this Slack member id, and their role: the highest of their logins and
    unrevoked API tokens; a person without either is a responder (the pages they get already
    let them acknowledge and resolve, by link, SMS reply or keypad)."""
    person = session.scalars(select(Person).where(Person.slack == slack_user)).first()
    if person is None:
        return None
    roles = list(
        session.scalars(
            select(Login.role).where(Login.person_id == person.id, Login.disabled.is_(False))
        )
    )
    roles += session.scalars(
        select(ApiToken.role).where(ApiToken.person_id == person.id, ApiToken.revoked_at.is_(None))
    )
    known = [r for r in roles if r in ROLES]
    return Actor(person, max(known, key=ROLES.index) if known else "responder")


def unknown_user(slack_user: str) -> dict[str, Any]:
    return ephemeral(
        f"Your Slack account (<@{slack_user}>) is not linked to a person in onduty, so nothing "
        "was done. Ask an admin to add `slack: <your member id>` to your entry in the policy "
        "file."
    )


def ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def respond_later(
    session: Session, *, response_url: str, body: dict[str, Any], now: datetime
) -> None:
    outbox.enqueue(
        session,
        outbox.OutboxItem(
            key=f"slack:respond:{uuid.uuid4().hex}",
            event="slack.respond",
            due_at=now,
            target="slack",
            payload={"url": response_url, "body": body},
            priority=outbox.PAGE,  # someone is waiting for it
        ),
        now=now,
    )


# --- the slash command ----------------------------------------------------------------------


def run(
    session: Session,
    *,
    who: Actor,
    text: str,
    response_url: str,
    trigger_id: str,
    now: datetime,
) -> dict[str, Any]:
    """Answer `/onduty <text>` for `who`."""
    words = text.split()
    verb = words[0].lower() if words else "help"
    args = words[1:]
    if verb == "help":
        return ephemeral(HELP)
    if verb == "who":
        return ephemeral(_who(session, args[0] if args else None, now))
    if verb == "status":
        return ephemeral(_status(session))
    if verb in ACTIONS:
        return _act(session, who, ACTIONS[verb], args, now)
    if verb == "dryrun":
        return _dry_run(session, args, response_url, now)
    if verb == "report":
        _open_report(session, trigger_id, now)
        return ephemeral("Opening the bug report form…")
    return ephemeral(f"I do not know `{verb}`.\n{HELP}")


def _who(session: Session, team: str | None, now: datetime) -> str:
    try:
        rows = schedules_service.on_call_at(session, at=now, team_id=team)
    except OndutyError as exc:
        return exc.message
    org, zones = schedules_service.time_zones(session)
    lines = [
        f"*{r.team}/{r.slot}*: {r.person or 'nobody'} until "
        f"{localtime.short(r.end, zones.get(r.team, org))}"
        for r in rows
    ]
    return "\n".join(lines) or "No team has a rota."


def _status(session: Session) -> str:
    open_ = incidents_service.list_incidents(session, status=None, team=None, service=None)
    rows = [i for i in open_ if i.status != "resolved"][:20]
    if not rows:
        return "No open incidents."
    return "\n".join(
        f"*#{i.number}* {i.priority} {i.status}: {i.title} ({i.service_id})"
        + (f", held by {i.acknowledged_by}" if i.acknowledged_by else "")
        for i in rows
    )


def _by_number(session: Session, text: str) -> Incident:
    number = text.lstrip("#")
    if not number.isdigit() or len(number) > 9:
        raise OndutyError(f"`{text}` is not an incident number", "number")
    incident = session.scalars(select(Incident).where(Incident.number == int(number))).first()
    if incident is None:
        raise OndutyError(f"there is no incident #{number}", "number")
    return incident


def act(session: Session, who: Actor, action: str, incident_id: int, now: datetime) -> str:
    """Acknowledge, resolve or escalate as `who`, if their role allows it; the answer."""
    if not role_allows(who.role, "responder"):
        return f"You are a {who.role} in onduty: you cannot {action} incidents."
    incident = incidents_service.ACTIONS[action](
        session, incident_id=incident_id, actor=who.person.id, channel="slack", now=now
    )
    if action == "escalate":
        return f"#{incident.number} escalated by {who.person.name} to the next step."
    return f"#{incident.number} is {incident.status} by {who.person.name}."


def _act(
    session: Session, who: Actor, action: str, args: list[str], now: datetime
) -> dict[str, Any]:
    if not args:
        return ephemeral(f"Say which incident: `/onduty {action[:3]} 42`.")
    try:
        incident = _by_number(session, args[0])
        text = act(session, who, action, incident.id, now)
    except OndutyError as exc:
        return ephemeral(exc.message)
    return {"response_type": "in_channel", "text": text}


def _dry_run(session: Session, args: list[str], response_url: str, now: datetime) -> dict[str, Any]:
    if not args:
        return ephemeral("Say which service: `/onduty dryrun storefront P1 2026-12-06T03:00`.")
    service, priority, at = args[0], "P1", now
    for arg in args[1:]:
        if arg.upper() in ("P1", "P2", "P3", "P4"):
            priority = arg.upper()
            continue
        try:
            org, _ = schedules_service.time_zones(session)
            at = check_instant(localtime.to_utc(datetime.fromisoformat(arg), org))
        except (ValueError, OverflowError):
            return ephemeral(
                f"`{arg}` is neither a priority (P1-P4) nor an ISO date and time from 1970 on."
            )
    try:
        run_ = dryrun.dry_run(session, service_id=service, at=at, priority=priority)
    except OndutyError as exc:
        return ephemeral(exc.message)
    respond_later(
        session,
        response_url=response_url,
        body=ephemeral(dry_run_text(run_)),
        now=now,
    )
    return ephemeral(f"Working out who would be paged for a {priority} on {service}…")


def dry_run_text(run_: dryrun.DryRun) -> str:
    """A dry-run as Slack lines, in the team's zone."""
    zone = run_.team_zone
    head = (
        f"*Dry-run*: {run_.priority} on *{run_.service}* at "
        f"{localtime.short(run_.asked_at, zone)} ({zone})"
    )
    lines = [head]
    for e in run_.entries[:40]:
        when = f"`+{e.offset_seconds // 60}m` {localtime.short(e.at, zone)}"
        if e.kind == dryrun.PAGE:
            step = f"step {e.step}" + (f" (repeat {e.repeat})" if e.repeat else "")
            line = f"{when} · {step} · *{e.person}* by {e.via}"
        elif e.kind == dryrun.NOBODY:
            line = f"{when} · step {e.step} · *nobody* ({', '.join(e.targets)})"
        elif e.kind == dryrun.UNREACHABLE:
            line = f"{when} · step {e.step} · *{e.person}* has no contact method"
        else:
            line = f"{when} · {e.note}"
        if e.note and e.kind in (dryrun.PAGE, dryrun.UNREACHABLE):
            line += f" _({e.note})_"
        lines.append(line)
    if len(run_.entries) > 40:
        lines.append(f"… and {len(run_.entries) - 40} more: see the Dry-run page.")
    return "\n".join(lines)


# --- the report modal -----------------------------------------------------------------------

REPORT_FIELDS = (
    ("title", "Title", False),
    ("steps", "Steps to reproduce", True),
    ("actual", "What happened (actual)", True),
    ("expected", "What should happen (expected)", True),
    ("environment", "Environment", False),
)


def _open_report(session: Session, trigger_id: str, now: datetime) -> None:
    services = session.scalars(select(Service).order_by(Service.name)).all()
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": "service",
            "label": {"type": "plain_text", "text": "Service"},
            "element": {
                "type": "static_select",
                "action_id": "value",
                "options": [
                    {"text": {"type": "plain_text", "text": s.name[:75]}, "value": s.id}
                    for s in services[:100]
                ],
            },
        }
    ]
    for name, label, multiline in REPORT_FIELDS:
        blocks.append(
            {
                "type": "input",
                "block_id": name,
                "optional": name not in ("title", "actual"),
                "label": {"type": "plain_text", "text": label},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": multiline,
                },
            }
        )
    view = {
        "type": "modal",
        "callback_id": REPORT_CALLBACK,
        "title": {"type": "plain_text", "text": "Report a bug"},
        "submit": {"type": "plain_text", "text": "Report"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }
    outbox.enqueue(
        session,
        outbox.OutboxItem(
            key=f"slack:open:{trigger_id[:150]}",
            event="slack.open",
            due_at=now,
            target="slack",
            payload={"trigger_id": trigger_id, "view": view},
            priority=outbox.PAGE,  # a trigger_id expires in 3 seconds
        ),
        now=now,
    )


def submit_report(
    session: Session, *, who: Actor, values: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A submitted report modal: the incident, or the modal's field errors."""

    def value(block: str) -> str:
        field = values.get(block, {}).get("value", {})
        if not isinstance(field, dict):
            return ""
        picked = field.get("selected_option")
        raw = picked.get("value") if isinstance(picked, dict) else field.get("value")
        return raw.strip() if isinstance(raw, str) else ""

    service, title = value("service"), value("title")
    errors = {}
    if not service or session.get(Service, service) is None:
        errors["service"] = "Pick a service."
    if not title:
        errors["title"] = "Give the problem a title."
    if not value("actual"):
        errors["actual"] = "Say what happened."
    if errors:
        return {"response_action": "errors", "errors": errors}
    fields = {name: value(name) or None for name, _, _ in REPORT_FIELDS if name != "title"}
    fields["reporter"] = who.person.id
    ingest.report(
        session,
        service_id=service,
        title=title[:1000],
        channel="slack",
        actor=who.person.id,
        now=now,
        fields=fields,
    )
    return {"response_action": "clear"}
