"""Google Cloud Monitoring (formerly Stackdriver) webhooks: schema 1.2, 1.1, v1 and the test."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from onduty.intake._json import (
    bounded_key,
    first_text,
    join,
    lenient_str,
    load_json,
    load_object,
    need_object,
    opt_object,
    parse_timestamp,
    string_map,
    unique_links,
)
from onduty.intake.signal import Action, IntakeError, Signal, normalise_severity

_STATES: dict[str, Action] = {
    "open": "trigger",
    "closed": "resolve",
    # Only the 2015 Stackdriver service sent this; kept so old relays still work.
    "acknowledged": "acknowledge",
}


def parse(
    body: bytes, headers: Mapping[str, str], *, config: Mapping[str, Any] | None = None
) -> list[Signal]:
    """Parse one Cloud Monitoring notification into one signal.

    Only ``incident.incident_id`` and ``incident.state`` are required, as Google publishes no
    required list and adds fields without bumping ``version``. ``state`` is read
    case-insensitively: open → trigger, closed → resolve, acknowledged (legacy) → acknowledge.
    Dedup key: ``gcp:v1:<incident_id>``. The console's "send test notification" body
    (``"version": "test"``) parses with ``is_test=True``. A Pub/Sub push envelope
    (``{"message": {"data": <base64 of the notification>}}``) is unwrapped first.
    Headers and config are not used.

    Raises:
        IntakeError: the body is not JSON, or a field has the wrong shape; `field` names it.
    """
    doc = _unwrap_pubsub(load_object(body))
    version = doc.get("version")
    incident = need_object(doc.get("incident"), "incident")

    incident_id = incident.get("incident_id")
    if isinstance(incident_id, int) and not isinstance(incident_id, bool):
        incident_id = str(incident_id)
    if not isinstance(incident_id, str) or not incident_id.strip():
        raise IntakeError(
            "incident.incident_id is missing"
            if incident_id in (None, "")
            else "incident.incident_id must be a non-empty string",
            "incident.incident_id",
        )
    incident_id = incident_id.strip()

    state = incident.get("state")
    if not isinstance(state, str) or not state.strip():
        raise IntakeError(
            "incident.state is missing"
            if state in (None, "")
            else "incident.state must be a string",
            "incident.state",
        )
    action = _STATES.get(state.strip().lower())
    if action is None:
        raise IntakeError(f"incident.state must be open or closed, not {state!r}", "incident.state")

    documentation = incident.get("documentation")
    doc_obj = documentation if isinstance(documentation, dict) else {}
    policy_labels = string_map(incident.get("policy_user_labels"), "incident.policy_user_labels")
    labels = _labels(incident, policy_labels)
    summary = (
        first_text(
            doc_obj.get("subject"),
            incident.get("summary"),
            incident.get("policy_name"),
            incident.get("condition_name"),
        )
        or f"Cloud Monitoring incident {incident_id}"
    )
    severity = normalise_severity(incident.get("severity")) or normalise_severity(
        policy_labels.get("severity")
    )
    links = unique_links(
        [lenient_str(incident.get("url"))]
        + [
            lenient_str(link.get("url"))
            for link in _as_list(doc_obj.get("links"))
            if isinstance(link, dict)
        ]
    )
    when = incident.get("started_at") if action == "trigger" else incident.get("ended_at")
    return [
        Signal(
            action=action,
            dedup_key=f"gcp:v1:{bounded_key(incident_id)}",
            summary=summary,
            source="gcp",
            severity=severity,
            labels=labels,
            details={"version": version, "incident": incident},
            links=links,
            occurred_at=parse_timestamp(when),
            source_dedup_key=incident_id,
            origin=lenient_str(incident.get("resource_display_name"))
            or lenient_str(incident.get("resource_name")),
            is_test=isinstance(version, str) and version.strip().lower() == "test",
        )
    ]


def _labels(incident: Mapping[str, Any], policy_labels: dict[str, str]) -> dict[str, str]:
    """Resource, metric and metadata labels, with the policy's user labels winning on clashes.

    The policy's labels are what the team wrote on purpose, so they override what the
    monitored resource happens to carry.
    """
    resource = opt_object(incident.get("resource"), "incident.resource")
    metric = opt_object(incident.get("metric"), "incident.metric")
    metadata = opt_object(incident.get("metadata"), "incident.metadata")
    labels: dict[str, str] = {}
    for name, value in (
        ("resource_type", resource.get("type")),
        ("metric_type", metric.get("type")),
        ("policy_name", incident.get("policy_name")),
        ("condition_name", incident.get("condition_name")),
        ("project_id", incident.get("scoping_project_id")),
    ):
        text = lenient_str(value)
        if text is not None:
            labels[name] = text
    labels.update(string_map(resource.get("labels"), "incident.resource.labels"))
    labels.update(string_map(metric.get("labels"), "incident.metric.labels"))
    labels.update(string_map(metadata.get("system_labels"), "incident.metadata.system_labels"))
    labels.update(string_map(metadata.get("user_labels"), "incident.metadata.user_labels"))
    labels.update(policy_labels)
    return labels


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _unwrap_pubsub(doc: dict[str, Any]) -> dict[str, Any]:
    message = doc.get("message")
    if "incident" in doc or not isinstance(message, dict) or "data" not in message:
        return doc
    path = join("message", "data")
    data = message.get("data")
    if not isinstance(data, str):
        raise IntakeError(f"{path} must be a base64 string", path)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise IntakeError(f"{path} is not valid base64", path) from None
    try:
        inner = load_json(raw)
    except IntakeError as exc:
        raise IntakeError(f"{path} does not hold a notification: {exc.message}", path) from None
    if not isinstance(inner, dict):
        raise IntakeError(f"{path} must hold a JSON object", path)
    return inner
