"""Property tests: any bytes, any JSON, any mangled real payload → signals or IntakeError."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onduty.intake import ACTIONS, PARSERS, SEVERITIES, IntakeError, Signal

PAYLOADS = Path(__file__).resolve().parent.parent / "fixtures" / "payloads"
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
GENERIC_CONFIGS: list[dict[str, Any] | None] = [
    None,
    {
        "alerts": "checks",
        "summary": "check.name",
        "dedup_key": ["check.key", "id"],
        "status": "result.state",
        "severity": "result.level",
        "labels": "check.labels",
        "links": "result.links",
        "details": "result",
        "occurred_at": "result.at",
    },
]

# Field names and values the parsers look for, so random documents reach past the first check.
WORDS = [
    "alerts", "status", "state", "labels", "annotations", "fingerprint", "startsAt", "endsAt",
    "groupKey", "commonLabels", "incident", "incident_id", "resource", "metric", "metadata",
    "documentation", "links", "url", "routing_key", "event_action", "dedup_key", "payload",
    "summary", "source", "severity", "timestamp", "message", "data", "version", "checks",
    "check", "result", "name", "key", "firing", "resolved", "open", "closed", "OPEN",
    "trigger", "acknowledge", "resolve", "critical", "alerting", "ok", "test", "1.2", "4",
    "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(WORDS)
)
keys = st.sampled_from(WORDS) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=40,
)
fixtures = sorted(PAYLOADS.glob("*.json"))


def check(kind: str, body: bytes, config: dict[str, Any] | None = None) -> None:
    try:
        signals = PARSERS[kind](body, {"content-type": "application/json"}, config=config)
    except IntakeError as error:
        assert isinstance(error.message, str) and error.message
        assert error.field is None or isinstance(error.field, str)
        assert all(isinstance(text, str) for text in error.errors)
        return
    assert isinstance(signals, list)
    for signal in signals:
        assert isinstance(signal, Signal)
        assert signal.action in ACTIONS
        assert signal.severity is None or signal.severity in SEVERITIES
        assert isinstance(signal.summary, str) and signal.summary.strip()
        assert len(signal.summary) <= 1024
        if signal.dedup_key is None:
            assert kind == "pagerduty" and signal.action == "trigger"
        else:
            assert isinstance(signal.dedup_key, str) and ":v1:" in signal.dedup_key
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in signal.labels.items())
        assert all(isinstance(link, str) and link for link in signal.links)
        assert signal.occurred_at is None or signal.occurred_at.tzinfo is UTC
        json.dumps(signal.details, allow_nan=False).encode("utf-8")


@FUZZ
@given(kind=st.sampled_from(sorted(PARSERS)), body=st.binary(max_size=300))
def test_random_bytes(kind: str, body: bytes) -> None:
    check(kind, body)


@FUZZ
@given(
    kind=st.sampled_from(sorted(PARSERS)),
    doc=json_values,
    config=st.sampled_from(GENERIC_CONFIGS),
)
def test_random_json(kind: str, doc: Any, config: dict[str, Any] | None) -> None:
    check(kind, json.dumps(doc).encode(), config if kind == "generic" else None)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found.extend(_paths(value, (*prefix, index)))
    return found


@st.composite
def mangled_fixtures(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real payload with one value replaced by random JSON or one key removed."""
    path = draw(st.sampled_from(fixtures))
    kind = path.name.split("_", 1)[0]
    try:
        doc = json.loads(path.read_text())
    except ValueError:
        return kind, path.read_bytes()
    target = draw(st.sampled_from(_paths(doc)))
    if not target:
        return kind, json.dumps(draw(json_values)).encode()
    parent = doc
    for step in target[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[target[-1]]
    else:
        parent[target[-1]] = draw(json_values)
    return kind, json.dumps(doc).encode()


@FUZZ
@given(case=mangled_fixtures(), config=st.sampled_from(GENERIC_CONFIGS))
def test_mangled_real_payloads(case: tuple[str, bytes], config: dict[str, Any] | None) -> None:
    kind, body = case
    check(kind, body, config if kind == "generic" else None)


@FUZZ
@given(path=st.sampled_from(fixtures), cut=st.integers(min_value=0, max_value=4000))
def test_truncated_real_payloads(path: Path, cut: int) -> None:
    body = path.read_bytes()
    check(path.name.split("_", 1)[0], body[: cut % (len(body) + 1)])
