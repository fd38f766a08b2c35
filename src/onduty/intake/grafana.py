"""Grafana unified alerting webhook contact point: Alertmanager's shape plus Grafana's extras."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from onduty.intake._json import load_object, need_list
from onduty.intake.alertmanager import parse_group
from onduty.intake.signal import IntakeError, Signal


def parse(
    body: bytes, headers: Mapping[str, str], *, config: Mapping[str, Any] | None = None
) -> list[Signal]:
    """Parse a Grafana webhook body into one signal per alert.

    Dedup key: ``grafana:v1:<fingerprint>``, else ``grafana-labels:v1:<sha256 of sorted
    labels>``. Per-alert ``status`` (firing/resolved) wins; without it the group ``status``,
    then the group ``state`` (alerting/ok) decides. Links include the dashboard, panel and
    image URLs. The contact point's "Test" alert (alertname TestAlert) has ``is_test=True``.
    Legacy (pre-8) Grafana alert notifications, which carry no ``alerts`` array, are refused.
    The HMAC signature header is checked by the web layer, not here.

    Raises:
        IntakeError: the body is not JSON, or a field has the wrong shape; `field` names it.
    """
    doc = load_object(body)
    if "alerts" not in doc and ("ruleId" in doc or "evalMatches" in doc):
        raise IntakeError(
            "alerts is missing: legacy Grafana alerting notifications are not supported; "
            "use a unified alerting webhook contact point",
            "alerts",
        )
    need_list(doc.get("alerts"), "alerts")
    return parse_group(doc, source="grafana", key_kind="grafana")
