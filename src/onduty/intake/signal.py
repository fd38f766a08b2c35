"""The normalised alert signal every intake parser returns, and the error a bad body raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from onduty.errors import InvalidInput

Action = Literal["trigger", "acknowledge", "resolve"]
Severity = Literal["critical", "error", "warning", "info"]

ACTIONS: tuple[Action, ...] = ("trigger", "acknowledge", "resolve")
SEVERITIES: tuple[Severity, ...] = ("critical", "error", "warning", "info")

# Spellings seen in the wild (Prometheus rules, GCP policy severities, Zabbix, Opsgenie-style
# P1..P5, syslog levels) folded onto PagerDuty's four levels, which onduty uses everywhere.
_SEVERITY_SYNONYMS: dict[str, Severity] = {
    **dict.fromkeys(
        ("critical", "crit", "fatal", "emergency", "emerg", "alert", "disaster", "page", "p1"),
        "critical",
    ),
    **dict.fromkeys(("sev1", "sev-1", "sev 1"), "critical"),
    **dict.fromkeys(("error", "err", "high", "major", "p2", "sev2", "sev-2", "sev 2"), "error"),
    **dict.fromkeys(
        ("warning", "warn", "medium", "minor", "average", "p3", "sev3", "sev-3", "sev 3"),
        "warning",
    ),
    **dict.fromkeys(
        ("info", "informational", "information", "notice", "low", "debug", "p4", "p5"),
        "info",
    ),
    **dict.fromkeys(("sev4", "sev-4", "sev 4", "sev5", "sev-5", "sev 5"), "info"),
}


def normalise_severity(value: object) -> Severity | None:
    """Fold a sender's severity spelling onto critical/error/warning/info, case-insensitively.

    Returns None for anything unknown, empty or explicitly unset ("no severity",
    "SEVERITY_UNSPECIFIED"), so that criticality rules fall through to their default instead of
    guessing.
    """
    if not isinstance(value, str):
        return None
    return _SEVERITY_SYNONYMS.get(value.strip().lower())


class IntakeError(InvalidInput):
    """A request body that no parser can turn into signals.

    `field` is the dotted JSON path of the offending value (``alerts[2].labels``), or None when
    the body as a whole is wrong (not JSON, not an object). `errors` lists every problem found;
    only the PagerDuty parser finds more than one, because PagerDuty answers with them all.
    """

    def __init__(
        self, message: str, field: str | None = None, *, errors: Sequence[str] | None = None
    ) -> None:
        super().__init__(message, field)
        self.errors: tuple[str, ...] = tuple(errors) if errors else (message,)


@dataclass(frozen=True, kw_only=True)
class Signal:
    """One alert event from one sender, in onduty's words.

    Attributes:
        action: trigger, acknowledge or resolve.
        dedup_key: typed key ``<kind>:v<n>:<value>`` (e.g. ``am:v1:4b1c9e07aa3f52d8``); the kind
            and version let the algorithm change later without colliding with stored keys.
            A value over `MAX_KEY` characters is its ``sha256:<hex>``.
            None only for a PagerDuty trigger sent without a dedup_key: the caller generates one
            (see `onduty.intake.pagerduty.with_generated_key`).
        summary: one-line title, stripped, at most `MAX_SUMMARY` characters.
        source: the parser that produced it: alertmanager, gcp, grafana, pagerduty, generic.
        severity: normalised severity, or None when the sender gave none we recognise.
        labels: flat string labels used by routing, runbook matching and criticality rules.
        details: the sender's data, JSON-serialisable, kept for the incident timeline.
        links: URLs worth showing a responder (console, runbook, dashboard), in sender order.
        occurred_at: when the sender says this event happened (start for a trigger, end for a
            resolve), aware UTC; None when it did not say or said something unreadable.
        group_key: Alertmanager/Grafana ``groupKey``, shared by all alerts of one notification,
            so the ingest can open one incident for the group (over `MAX_KEY`: its SHA-256).
        source_dedup_key: the key as the sender knows it (fingerprint, incident_id, PagerDuty
            dedup_key); PagerDuty's response echoes this one.
        origin: the affected system as the sender names it (PagerDuty ``payload.source``, the
            GCP resource, the ``instance`` label).
        client, client_url: the sending tool, when it says (PagerDuty ``client``/``client_url``).
        routing_key: PagerDuty's ``routing_key`` (the integration key); None for other senders.
        is_test: the sender's own "send test notification" event.
    """

    action: Action
    dedup_key: str | None
    summary: str
    source: str
    severity: Severity | None = None
    labels: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    occurred_at: datetime | None = None
    group_key: str | None = None
    source_dedup_key: str | None = None
    origin: str | None = None
    client: str | None = None
    client_url: str | None = None
    routing_key: str | None = None
    is_test: bool = False


MAX_SUMMARY = 1024
"""Longest summary kept; PagerDuty uses the same limit, and titles longer than this are noise."""

MAX_KEY = 255
"""Longest sender key (fingerprint, incident id, group key) kept as given; a longer one is kept
as its SHA-256 (`_json.bounded_key`), so it still deduplicates and fits the 300-character
columns with its typed prefix. PagerDuty's own limit for dedup_key."""
