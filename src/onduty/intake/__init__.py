"""Intake: pure parsers that turn a sender's request body into normalised alert signals.

No database and no web here; `PARSERS` maps an integration type to its parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

from onduty.intake import alertmanager, gcp, generic, grafana, pagerduty
from onduty.intake.generic import GenericMapping, check_config
from onduty.intake.pagerduty import (
    pagerduty_dedup_key,
    pagerduty_error,
    pagerduty_error_body,
    pagerduty_success,
    pagerduty_unrecognized,
    with_generated_key,
)
from onduty.intake.signal import (
    ACTIONS,
    MAX_KEY,
    MAX_SUMMARY,
    SEVERITIES,
    Action,
    IntakeError,
    Severity,
    Signal,
    normalise_severity,
)


class Parser(Protocol):
    """What every intake parser is: bytes and headers in, signals out, IntakeError if wrong."""

    def __call__(
        self, body: bytes, headers: Mapping[str, str], *, config: Mapping[str, Any] | None = None
    ) -> list[Signal]: ...


PARSERS: Mapping[str, Parser] = MappingProxyType(
    {
        "alertmanager": alertmanager.parse,
        "gcp": gcp.parse,
        "grafana": grafana.parse,
        "generic": generic.parse,
        "pagerduty": pagerduty.parse,
    }
)


def parse(
    kind: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    config: Mapping[str, Any] | None = None,
    max_alerts: int | None = None,
) -> list[Signal]:
    """Parse a body with the parser for integration type `kind`.

    Raises:
        KeyError: `kind` is not a known integration type (a programming error, not bad input).
        IntakeError: the body is wrong, or holds more than `max_alerts` alerts (each may open
            an incident); `field` names where.
    """
    signals = PARSERS[kind](body, headers, config=config)
    if max_alerts is not None and len(signals) > max_alerts:
        raise IntakeError(
            f"the request holds {len(signals)} alerts; at most {max_alerts} are accepted in one "
            "(Alertmanager's max_alerts keeps a group under it)",
            "alerts",
        )
    return signals


__all__ = [
    "ACTIONS",
    "MAX_KEY",
    "MAX_SUMMARY",
    "PARSERS",
    "SEVERITIES",
    "Action",
    "GenericMapping",
    "IntakeError",
    "Parser",
    "Severity",
    "Signal",
    "check_config",
    "normalise_severity",
    "pagerduty_dedup_key",
    "pagerduty_error",
    "pagerduty_error_body",
    "pagerduty_success",
    "pagerduty_unrecognized",
    "parse",
    "with_generated_key",
]
