"""Pure rendering of a `Message` into each channel's content: subject, text, HTML, SMS, speech,
Slack blocks and the webhook body. No I/O; the adapters only transport what this returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import jinja2

from onduty.notify.channels.base import (
    ACTION_ACKNOWLEDGE,
    ACTION_RESOLVE,
    ACTION_STATUS_PAGE,
    IncidentAction,
    IncidentInfo,
    Message,
)

EVENT_LABELS: Final[Mapping[str, str]] = {
    "incident.triggered": "triggered",
    "incident.escalated": "escalated",
    "incident.acknowledged": "acknowledged",
    "incident.resolved": "resolved",
    "incident.handed_over": "handed over to you",
    "oncall.shift_started": "on-call shift started",
    "oncall.shift_ended": "on-call shift ended",
    "status.update_due": "status page update due",
    "oncall.check_due": "daily check due",
    "oncall.handover": "weekly handover",
    "test": "test",
    "reminder": "reminder",
}
SMS_REPLY_CODES: Final[Mapping[IncidentAction, str]] = {"acknowledge": "A", "resolve": "R"}
"""Reply `<number><code>` (e.g. `42A`) to an SMS to act on incident `number`."""
VOICE_DIGITS: Final[Mapping[IncidentAction, str]] = {"acknowledge": "1", "resolve": "2"}
"""The key to press during a call for each action."""
SMS_CORE_LENGTH: Final = 160  # one GSM-7 segment for the part that must arrive whole
SMS_MAX_LENGTH: Final = 320  # the acknowledge link is added only if the SMS stays this short

_SLACK_EMOJI: Final[Mapping[str, str]] = {
    "incident.triggered": ":rotating_light:",
    "incident.escalated": ":rotating_light:",
    "incident.acknowledged": ":eyes:",
    "incident.resolved": ":white_check_mark:",
    "incident.handed_over": ":wrench:",
    "oncall.shift_started": ":calendar:",
    "oncall.shift_ended": ":checkered_flag:",
    "status.update_due": ":loudspeaker:",
    "oncall.check_due": ":ballot_box_with_check:",
    "oncall.handover": ":handshake:",
    "test": ":wave:",
    "reminder": ":memo:",
}
_DEFAULT_TEXT: Final[Mapping[str, str]] = {
    "oncall.shift_started": "Your on-call shift has started.",
    "oncall.shift_ended": "Your on-call shift has ended.",
    "status.update_due": "A status page update is due.",
    "test": "This is a test notification from onduty.",
}


def offered_actions(message: Message) -> list[IncidentAction]:
    """Return the actions that still make sense: both while triggered, resolve once acked."""
    incident = message.incident
    if incident is None or incident.status == "resolved" or message.event == "reminder":
        return []
    if incident.status == "acknowledged" or message.event == "incident.acknowledged":
        return [ACTION_RESOLVE]
    return [ACTION_ACKNOWLEDGE, ACTION_RESOLVE]


def sms_reply_code(number: int, action: IncidentAction) -> str:
    """Return the SMS reply that performs `action` on incident `number`, e.g. `42A`."""
    return f"{number}{SMS_REPLY_CODES[action]}"


def headline(message: Message) -> str:
    """Return a one-line summary: `P1 #42 Storefront: checkout 500s (escalated, step 2)`."""
    incident = message.incident
    if incident is None:
        return message.text or _DEFAULT_TEXT.get(message.event, EVENT_LABELS[message.event])
    return f"{_incident_line(incident)} ({_state(message)})"


def subject(message: Message) -> str:
    """Return the e-mail subject, e.g. `[P1] #42 Storefront: checkout 500s (triggered)`."""
    incident = message.incident
    if incident is None:
        label = {
            "test": "Test notification",
            "reminder": "Reminder",
            "oncall.check_due": "Daily check due",
            "oncall.handover": "Weekly handover",
        }.get(message.event, "On-call shift started")
        return f"[onduty] {label}"
    return (
        f"[{incident.priority}] #{incident.number} {incident.service}: {incident.title} "
        f"({_state(message)})"
    )


def text_body(message: Message) -> str:
    """Return the plain-text e-mail body, action links included."""
    lines = [f"Hello {message.recipient_name},", ""]
    incident = message.incident
    if incident is not None:
        lines += [
            f"{incident.priority} incident #{incident.number} {_state(message)}: {incident.title}",
            f"Service: {incident.service}",
            f"Team: {incident.team}",
            f"Status: {incident.status}",
        ]
        if message.text:
            lines += ["", message.text]
        lines.append("")
        for action, url in _action_links(message):
            lines.append(f"{action.capitalize()}: {url}")
        if ACTION_STATUS_PAGE in message.actions:
            lines.append(f"Post to status page: {message.actions[ACTION_STATUS_PAGE]}")
        lines.append(f"Open: {incident.url}")
        if incident.runbook_url:
            lines.append(f"Runbook ({incident.runbook_title}): {incident.runbook_url}")
    else:
        lines.append(headline(message))
    lines += ["", f"-- onduty (notification {message.idempotency_key})"]
    return "\n".join(lines) + "\n"


_BUTTON_STYLE = (
    "display: inline-block; padding: 8px 16px; margin-right: 8px; border-radius: 4px; "
    "color: #fff; text-decoration: none; background: "
)
_HTML = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!doctype html>
<html><body style="font-family: sans-serif; line-height: 1.4">
<p>Hello {{ name }},</p>
{% if incident %}<h2 style="margin: 0 0 8px">{{ incident.priority }} incident
#{{ incident.number }} {{ state }}: {{ incident.title }}</h2>
<table style="border-collapse: collapse">
<tr><th align="left">Service</th><td>{{ incident.service }}</td></tr>
<tr><th align="left">Team</th><td>{{ incident.team }}</td></tr>
<tr><th align="left">Status</th><td>{{ incident.status }}</td></tr>
</table>
{% if text %}<p>{{ text }}</p>{% endif %}
<p>{% for action, url in links %}<a href="{{ url }}" style="{{ button_style }}
{{- '#2e7d32' if action == 'resolve' else '#c62828' }}">{{ action | capitalize }}</a>
{% endfor %}<a href="{{ incident.url }}">Open incident #{{ incident.number }}</a></p>
{% if incident.runbook_url %}<p>Runbook: <a href="{{ incident.runbook_url }}">
{{- incident.runbook_title }}</a></p>{% endif %}
{% else %}<p>{{ headline }}</p>
{% endif %}<p style="color: #777; font-size: small">onduty notification {{ key }}</p>
</body></html>
"""
)


def html_body(message: Message) -> str:
    """Return the HTML e-mail body; every value is escaped, links are buttons."""
    return _HTML.render(
        name=message.recipient_name,
        incident=message.incident,
        state=_state(message),
        text=message.text,
        links=_action_links(message),
        headline=headline(message),
        key=message.idempotency_key,
        button_style=_BUTTON_STYLE,
    )


def sms_body(message: Message) -> str:
    """Return the SMS text: the headline and reply codes in one segment, plus the acknowledge
    link when the whole still fits in `SMS_MAX_LENGTH` characters."""
    incident = message.incident
    if message.event == "reminder" and message.text:
        return _clip(f"onduty reminder: {message.text}", SMS_MAX_LENGTH)
    if incident is None:
        return _clip(f"onduty: {headline(message)}", SMS_CORE_LENGTH)
    prefix = f"onduty {incident.priority} #{incident.number} {incident.service}: "
    state = "" if message.event == "incident.triggered" else f" ({_state(message)})"
    offered = offered_actions(message)
    codes = [f"{sms_reply_code(incident.number, a)} to {a}" for a in offered]
    tail = f"{state}. Reply {', '.join(codes)}" if codes else f"{state}."
    room = SMS_CORE_LENGTH - len(prefix) - len(tail)
    core = prefix + _clip(incident.title, max(room, 10)) + tail
    ack_url = message.actions.get(ACTION_ACKNOWLEDGE)
    ack = f". Ack: {ack_url}" if ACTION_ACKNOWLEDGE in offered and ack_url else ""
    runbook = f" Runbook: {incident.runbook_short_url}" if incident.runbook_short_url else ""
    # The acknowledge link matters more than the runbook's, which comes first when both fit.
    for tail in (ack + runbook, ack, runbook):
        if tail and len(core + tail) <= SMS_MAX_LENGTH:
            return core + tail
    return core


def voice_script(message: Message) -> str:
    """Return what the call says (without the key-press prompt, which the caller adds)."""
    incident = message.incident
    if incident is None:
        return f"This is onduty. {headline(message)}"
    priority = incident.priority.upper().replace("P", "Priority ", 1)
    return (
        f"This is onduty. {priority} incident {incident.number} on {incident.service}: "
        f"{incident.title or 'No summary provided'}. The incident is {_state(message)}."
    )


def voice_prompt(message: Message) -> str:
    """Return the key-press prompt for the call, e.g. `Press 1 to acknowledge. Press 2 ...`."""
    return " ".join(f"Press {VOICE_DIGITS[a]} to {a}." for a in offered_actions(message))


def slack_message(message: Message) -> tuple[str, list[dict[str, Any]]]:
    """Return `(fallback text, Block Kit blocks)` for chat.postMessage.

    The actions block carries two buttons, `action_id` `acknowledge` / `resolve` with the
    incident id as `value`, which the interactivity endpoint receives back in `block_actions`.
    """
    emoji = _SLACK_EMOJI[message.event]
    incident = message.incident
    if incident is None:
        text = headline(message)
        return text, [_section("onduty-notice", f"{emoji} {_slack_escape(text)}")]
    fallback = f"{incident.priority} #{incident.number} {_state(message)}: {incident.title}"
    summary = (
        f"{emoji} *{_slack_escape(incident.priority)} <{_slack_escape(incident.url)}|"
        f"#{incident.number}>* {_slack_escape(incident.title)}\n"
        f"Service: *{_slack_escape(incident.service)}* · Team: {_slack_escape(incident.team)} · "
        f"Status: *{_slack_escape(_state(message))}*"
    )
    if message.text:
        summary += "\n" + _slack_escape(message.text)
    if incident.runbook_url:
        summary += (
            f"\nRunbook: <{_slack_escape(incident.runbook_url)}|"
            f"{_slack_escape(incident.runbook_title or 'runbook')}>"
        )
    blocks: list[dict[str, Any]] = [_section(f"incident-{incident.id}", summary)]
    buttons = [_slack_button(action, incident) for action in offered_actions(message)]
    if buttons:
        blocks.append(
            {"type": "actions", "block_id": f"incident-{incident.id}-actions", "elements": buttons}
        )
    return fallback, blocks


def webhook_payload(message: Message) -> dict[str, Any]:
    """Return the webhook contact method's JSON body (SPEC §6.3) plus `idempotency_key`."""
    incident = message.incident
    payload: dict[str, Any] = {
        "event": message.event,
        "incident": None
        if incident is None
        else {
            "id": incident.id,
            "number": incident.number,
            "title": incident.title,
            "priority": incident.priority,
            "status": incident.status,
            "service": incident.service,
            "team": incident.team,
            "url": incident.url,
        },
        "recipient": message.recipient,
        "step": message.step,
        "actions": {
            action: message.actions[action]
            for action in (ACTION_ACKNOWLEDGE, ACTION_RESOLVE, ACTION_STATUS_PAGE)
            if action in message.actions
        },
        "idempotency_key": message.idempotency_key,
    }
    if message.text is not None:
        payload["text"] = message.text
    if incident is not None:
        payload["runbook_url"] = incident.runbook_url
    return payload


def _incident_line(incident: IncidentInfo) -> str:
    return f"{incident.priority} #{incident.number} {incident.service}: {incident.title}"


def _state(message: Message) -> str:
    label = EVENT_LABELS[message.event]
    if message.event == "incident.escalated" and message.step is not None:
        return f"{label}, step {message.step}"
    return label


def _action_links(message: Message) -> list[tuple[str, str]]:
    return [(a, message.actions[a]) for a in offered_actions(message) if a in message.actions]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats <...> as links and mentions (<!channel>); a title from an alert
    # must not be able to ping a whole channel, so the three control characters are escaped.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(block_id: str, text: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": text}}


def _slack_button(action: IncidentAction, incident: IncidentInfo) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action,
        "text": {"type": "plain_text", "text": action.capitalize()},
        "value": incident.id,
    }
    if action == ACTION_ACKNOWLEDGE:
        button["style"] = "primary"
    else:
        button["style"] = "danger"
        button["confirm"] = {
            "title": {"type": "plain_text", "text": f"Resolve #{incident.number}?"},
            "text": {"type": "mrkdwn", "text": "This closes the incident for everyone."},
            "confirm": {"type": "plain_text", "text": "Resolve"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return button


# --- the team channel's incident message (notify/targets/slack.py) ---------------------------

CARD_BUTTONS = ("acknowledge", "resolve", "escalate", "runbook")
_CARD_EMOJI = {
    "triggered": ":rotating_light:",
    "acknowledged": ":eyes:",
    "resolved": ":white_check_mark:",
}


def incident_card(card: Mapping[str, Any], base_url: str) -> tuple[str, list[dict[str, Any]]]:
    """Return `(fallback text, blocks)` of an incident's message in its team's channel, showing
    its current state and who holds it; `card` is the JSON the domain queued (id, number,
    title, priority, status, service, team, held_by, note). Open incidents carry the buttons
    acknowledge (while triggered), resolve, escalate and runbook; a resolved one keeps runbook."""
    ident, number, status = str(card["id"]), int(card["number"]), str(card["status"])
    url = f"{base_url.rstrip('/')}/incidents/{ident}"
    emoji = _CARD_EMOJI.get(status, ":rotating_light:")
    title, priority = _slack_escape(str(card["title"])), _slack_escape(str(card["priority"]))
    service, team = _slack_escape(str(card["service"])), _slack_escape(str(card["team"]))
    lines = [
        f"{emoji} *{priority} <{_slack_escape(url)}|#{number}>* {title}",
        f"Service: *{service}* · Team: {team} · Status: *{_slack_escape(status)}*",
    ]
    if card.get("held_by"):
        lines.append(f"Held by: *{_slack_escape(str(card['held_by']))}*")
    if card.get("note"):
        lines.append(_slack_escape(str(card["note"])))
    blocks: list[dict[str, Any]] = [_section(f"incident-{ident}", "\n".join(lines))]
    offered = {
        "triggered": CARD_BUTTONS,
        "acknowledged": ("resolve", "escalate", "runbook"),
    }.get(status, ("runbook",))
    buttons = []
    for action in offered:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": action,
            "text": {"type": "plain_text", "text": action.capitalize()},
            "value": ident,
        }
        if action == "acknowledge":
            button["style"] = "primary"
        elif action == "resolve":
            button["style"] = "danger"
        buttons.append(button)
    blocks.append({"type": "actions", "block_id": f"incident-{ident}-actions", "elements": buttons})
    fallback = f"{card['priority']} #{number} {status}: {card['title']}"
    return fallback, blocks
