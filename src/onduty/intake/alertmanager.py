"""Prometheus Alertmanager webhook (payload version 4): one notification in, one signal per alert.

Also holds the group reader that Grafana's webhook (the same shape plus extras) reuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from onduty.intake._json import (
    bounded_key,
    first_text,
    join,
    labels_digest,
    lenient_str,
    load_object,
    need_list,
    need_object,
    opt_str,
    parse_timestamp,
    string_map,
    unique_links,
)
from onduty.intake.signal import Action, IntakeError, Signal, normalise_severity

_STATUSES: dict[str, Action] = {"firing": "trigger", "resolved": "resolve"}

# Alert-level keys that are links a responder may want, in the order they are shown.
_LINK_KEYS = ("generatorURL", "dashboardURL", "panelURL", "imageURL")
_LINK_ANNOTATIONS = ("runbook_url", "runbook", "dashboard_url", "dashboard")


def parse(
    body: bytes, headers: Mapping[str, str], *, config: Mapping[str, Any] | None = None
) -> list[Signal]:
    """Parse an Alertmanager webhook body into one signal per alert.

    Dedup key: ``am:v1:<fingerprint>``, or ``am-labels:v1:<sha256 of sorted labels>`` for
    senders that leave the fingerprint out. Each alert's own ``status`` wins over the group
    ``status``. An empty ``alerts`` array is valid and yields no signals. Headers and config
    are not used (authentication is the web layer's job).

    Raises:
        IntakeError: the body is not JSON, or a field has the wrong shape; `field` names it.
    """
    return parse_group(load_object(body), source="alertmanager", key_kind="am")


def parse_group(doc: dict[str, Any], *, source: str, key_kind: str) -> list[Signal]:
    """Turn an Alertmanager-shaped group notification (AM v4 or Grafana) into signals."""
    group_action = _group_action(doc)
    alerts = need_list(doc.get("alerts"), "alerts")
    group_key = opt_str(doc.get("groupKey"), "groupKey")
    group_key = bounded_key(group_key) if group_key is not None else None
    group = {k: v for k, v in doc.items() if k != "alerts"}
    common_labels = string_map(doc.get("commonLabels"), "commonLabels")
    return [
        _alert_signal(
            alert,
            join("alerts", index),
            group_action=group_action,
            group=group,
            group_key=group_key,
            common_labels=common_labels,
            source=source,
            key_kind=key_kind,
        )
        for index, alert in enumerate(alerts)
    ]


def _group_action(doc: Mapping[str, Any]) -> Action | None:
    status = opt_str(doc.get("status"), "status")
    if status is not None:
        action = _STATUSES.get(status.strip().lower())
        if action is None:
            raise IntakeError(f"status must be firing or resolved, not {status!r}", "status")
        return action
    # Grafana also sends `state` alerting/ok; only consulted when `status` is absent.
    state = opt_str(doc.get("state"), "state")
    if state is not None:
        lowered = state.strip().lower()
        if lowered == "alerting":
            return "trigger"
        if lowered == "ok":
            return "resolve"
    return None


def _alert_signal(
    value: object,
    path: str,
    *,
    group_action: Action | None,
    group: dict[str, Any],
    group_key: str | None,
    common_labels: dict[str, str],
    source: str,
    key_kind: str,
) -> Signal:
    alert = need_object(value, path)
    action = _alert_action(alert, path, group_action)
    labels = string_map(alert.get("labels"), join(path, "labels"))
    if not labels:
        # Some relays put the shared labels only at group level.
        labels = dict(common_labels)
    annotations = string_map(alert.get("annotations"), join(path, "annotations"))
    fingerprint = opt_str(alert.get("fingerprint"), join(path, "fingerprint"))
    if fingerprint is not None and fingerprint.strip():
        fingerprint = fingerprint.strip()
        dedup_key = f"{key_kind}:v1:{bounded_key(fingerprint)}"
    elif labels:
        fingerprint = None
        dedup_key = f"{key_kind}-labels:v1:{labels_digest(labels)}"
    else:
        raise IntakeError(
            f"{path} has neither a fingerprint nor labels to deduplicate on",
            join(path, "labels"),
        )
    summary = first_text(
        annotations.get("summary"),
        annotations.get("title"),
        annotations.get("description"),
        annotations.get("message"),
        labels.get("alertname"),
        group.get("title") if isinstance(group.get("title"), str) else None,
    ) or (f"{source} alert {fingerprint or dedup_key}")
    links = unique_links(
        [lenient_str(alert.get(key)) for key in _LINK_KEYS]
        + [lenient_str(annotations.get(key)) for key in _LINK_ANNOTATIONS]
    )
    when = alert.get("startsAt") if action == "trigger" else alert.get("endsAt")
    return Signal(
        action=action,
        dedup_key=dedup_key,
        summary=summary,
        source=source,
        severity=normalise_severity(labels.get("severity") or labels.get("priority")),
        labels=labels,
        details={"alert": alert, "group": group},
        links=links,
        occurred_at=parse_timestamp(when),
        group_key=group_key,
        source_dedup_key=fingerprint,
        origin=labels.get("instance") or labels.get("job") or labels.get("service"),
        is_test=_is_grafana_test(labels, annotations) if source == "grafana" else False,
    )


def _alert_action(alert: Mapping[str, Any], path: str, group_action: Action | None) -> Action:
    status_path = join(path, "status")
    status = opt_str(alert.get("status"), status_path)
    if status is None:
        if group_action is None:
            raise IntakeError(f"{status_path} is missing and the group has no status", status_path)
        return group_action
    action = _STATUSES.get(status.strip().lower())
    if action is None:
        raise IntakeError(f"{status_path} must be firing or resolved, not {status!r}", status_path)
    return action


def _is_grafana_test(labels: Mapping[str, str], annotations: Mapping[str, str]) -> bool:
    # Grafana's "Test" button on a contact point sends this fixed alert.
    return labels.get("alertname") == "TestAlert" and (
        labels.get("instance") == "Grafana" or annotations.get("summary") == "Notification test"
    )
