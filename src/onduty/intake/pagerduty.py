"""PagerDuty Events API v2 (`POST /v2/enqueue`): validation as PagerDuty does it, and its replies.

Tools that already send to PagerDuty are pointed at onduty unchanged, so the checks, the error
texts and the response bodies follow PagerDuty's own.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from onduty.intake._json import (
    clip_summary,
    kind_of,
    lenient_str,
    load_json,
    parse_timestamp,
    unique_links,
)
from onduty.intake.signal import ACTIONS, SEVERITIES, Action, IntakeError, Signal

ROUTING_KEY_LENGTH = 32
MAX_DEDUP_KEY = 255

_ALPHANUMERIC = re.compile(r"[A-Za-z0-9]*")

# Error texts PagerDuty returns in `errors` (the first three as observed from its API; the
# rest in the same style, as PagerDuty does not publish the full list).
ROUTING_KEY_MISSING = "'routing_key' is missing or blank"
ROUTING_KEY_LENGTH_WRONG = (
    f"Length of 'routing_key' is incorrect (should be {ROUTING_KEY_LENGTH} characters)"
)
ROUTING_KEY_NOT_ALPHANUMERIC = "'routing_key' cannot contain non-alphanumeric characters."
EVENT_ACTION_MISSING = "'event_action' is missing or blank"
EVENT_ACTION_INVALID = "'event_action' must be one of trigger, acknowledge, resolve"
DEDUP_KEY_MISSING = "'dedup_key' is missing or blank"
DEDUP_KEY_TOO_LONG = f"'dedup_key' is too long (maximum is {MAX_DEDUP_KEY} characters)"
PAYLOAD_MISSING = "'payload' is missing or blank"
SEVERITY_INVALID = "'payload.severity' must be one of critical, error, warning, info"
JSON_PARSE_ERROR = "JSON parse error"


def _missing(field: str) -> str:
    return f"'{field}' is missing or blank"


def _not_a(field: str, kind: str, value: object) -> str:
    return f"'{field}' must be {kind}, not {kind_of(value)}"


def parse(
    body: bytes, headers: Mapping[str, str], *, config: Mapping[str, Any] | None = None
) -> list[Signal]:
    """Validate one Events API v2 event and return it as one signal.

    Checks, all reported at once as PagerDuty does: ``routing_key`` present, 32 characters,
    ASCII letters and digits (set ``config={"check_routing_key_format": False}`` to accept any
    non-empty key); ``event_action`` one of trigger/acknowledge/resolve; ``dedup_key`` at most
    255 characters and required for acknowledge/resolve; on trigger, ``payload`` with
    non-blank ``summary`` and ``source`` and ``severity`` one of critical/error/warning/info.
    Over-long summaries are cut to 1024 characters rather than refused. Dedup key:
    ``pd:v1:<dedup_key>``. A trigger without ``dedup_key`` yields ``dedup_key=None``: this
    module stays pure, so the caller makes a UUID and calls `with_generated_key`.

    Raises:
        IntakeError: with ``errors`` holding every PagerDuty error text; `message`/`field`
            are the first. Build the 400 body with `pagerduty_error_body`.
    """
    check_format = bool((config or {}).get("check_routing_key_format", True))
    try:
        doc = load_json(body)
    except IntakeError as exc:
        raise IntakeError(exc.message, None, errors=[JSON_PARSE_ERROR]) from None
    if not isinstance(doc, dict):
        message = f"body must be a JSON object, not {kind_of(doc)}"
        raise IntakeError(message, None, errors=["Event object format is unrecognized"])

    problems: list[tuple[str, str]] = []
    routing_key = _routing_key(doc.get("routing_key"), check_format, problems)
    action = _event_action(doc.get("event_action"), problems)
    dedup_key = _dedup_key(doc.get("dedup_key"), action, problems)
    raw_payload = doc.get("payload")
    payload = raw_payload if isinstance(raw_payload, dict) else {}
    if action == "trigger":
        _check_trigger_payload(raw_payload, problems)
    if problems:
        message, field = problems[0]
        raise IntakeError(message, field, errors=[text for text, _ in problems])
    if action is None or routing_key is None:  # pragma: no cover - each None added a problem
        raise IntakeError(EVENT_ACTION_MISSING, "event_action")

    summary = lenient_str(payload.get("summary"))
    severity = payload.get("severity")
    labels = {
        name: text
        for name in ("source", "component", "group", "class")
        if (text := lenient_str(payload.get(name))) is not None
    }
    return [
        Signal(
            action=action,
            dedup_key=None if dedup_key is None else pagerduty_dedup_key(dedup_key),
            summary=clip_summary(summary) if summary else f"PagerDuty {action} {dedup_key}",
            source="pagerduty",
            severity=severity if severity in SEVERITIES else None,
            labels=labels,
            # The routing key is a credential: it goes into its own field, never the details.
            details={k: v for k, v in doc.items() if k != "routing_key"},
            links=_links(doc),
            occurred_at=parse_timestamp(payload.get("timestamp")),
            source_dedup_key=dedup_key,
            origin=labels.get("source"),
            client=lenient_str(doc.get("client")),
            client_url=lenient_str(doc.get("client_url")),
            routing_key=routing_key,
        )
    ]


def _routing_key(value: object, check_format: bool, problems: list[tuple[str, str]]) -> str | None:
    field = "routing_key"
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.append((ROUTING_KEY_MISSING, field))
        return None
    if not isinstance(value, str):
        problems.append((_not_a(field, "a string", value), field))
        return None
    if check_format:
        if len(value) != ROUTING_KEY_LENGTH:
            problems.append((ROUTING_KEY_LENGTH_WRONG, field))
        if not _ALPHANUMERIC.fullmatch(value):
            problems.append((ROUTING_KEY_NOT_ALPHANUMERIC, field))
    return value


def _event_action(value: object, problems: list[tuple[str, str]]) -> Action | None:
    if value is None or value == "":
        problems.append((EVENT_ACTION_MISSING, "event_action"))
        return None
    for action in ACTIONS:
        if value == action:
            return action
    problems.append((EVENT_ACTION_INVALID, "event_action"))
    return None


def _dedup_key(value: object, action: Action | None, problems: list[tuple[str, str]]) -> str | None:
    field = "dedup_key"
    if value is not None and not isinstance(value, str):
        problems.append((_not_a(field, "a string", value), field))
        return None
    if value is None or not value.strip():
        if action in ("acknowledge", "resolve"):
            problems.append((DEDUP_KEY_MISSING, field))
        return None
    if len(value) > MAX_DEDUP_KEY:
        problems.append((DEDUP_KEY_TOO_LONG, field))
        return None
    return value


def _check_trigger_payload(payload: object, problems: list[tuple[str, str]]) -> None:
    if payload is None:
        problems.append((PAYLOAD_MISSING, "payload"))
        return
    if not isinstance(payload, dict):
        problems.append((_not_a("payload", "an object", payload), "payload"))
        return
    for name in ("summary", "source", "severity"):
        field = f"payload.{name}"
        value = payload.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append((_missing(field), field))
        elif not isinstance(value, str):
            problems.append((_not_a(field, "a string", value), field))
        elif name == "severity" and value not in SEVERITIES:
            problems.append((SEVERITY_INVALID, field))


def _links(doc: Mapping[str, Any]) -> list[str]:
    found: list[str | None] = []
    for name, key in (("links", "href"), ("images", "href")):
        items = doc.get(name)
        if isinstance(items, list):
            found.extend(lenient_str(item.get(key)) for item in items if isinstance(item, dict))
    found.append(lenient_str(doc.get("client_url")))
    return unique_links(found)


def pagerduty_dedup_key(key: str) -> str:
    """The typed dedup key for a PagerDuty dedup_key."""
    return f"pd:v1:{key}"


def with_generated_key(signal: Signal, key: str) -> Signal:
    """Give a trigger sent without dedup_key the key the caller generated (a UUID)."""
    return dataclasses.replace(signal, dedup_key=pagerduty_dedup_key(key), source_dedup_key=key)


def pagerduty_success(dedup_key: str) -> dict[str, str]:
    """PagerDuty's 202 body."""
    return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


def pagerduty_error(errors: Iterable[str]) -> dict[str, Any]:
    """PagerDuty's 400 body for an event that is JSON but breaks the rules."""
    return {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)}


def pagerduty_unrecognized(errors: Iterable[str] = (JSON_PARSE_ERROR,)) -> dict[str, Any]:
    """PagerDuty's 400 body for a body that is not an event object at all."""
    return {
        "status": "Unrecognized object",
        "message": "Event object format is unrecognized",
        "errors": list(errors),
    }


def pagerduty_error_body(error: IntakeError) -> dict[str, Any]:
    """The 400 body PagerDuty would send for this parse error."""
    if error.field is None:
        return pagerduty_unrecognized(error.errors)
    return pagerduty_error(error.errors)
