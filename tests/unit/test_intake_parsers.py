"""Table tests of the intake parsers over realistic payloads in tests/fixtures/payloads/."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from onduty.errors import InvalidInput
from onduty.intake import (
    PARSERS,
    IntakeError,
    Signal,
    check_config,
    normalise_severity,
    pagerduty_error,
    pagerduty_error_body,
    pagerduty_success,
    pagerduty_unrecognized,
    with_generated_key,
)
from onduty.intake import __all__ as intake_all

PAYLOADS = Path(__file__).resolve().parent.parent / "fixtures" / "payloads"
AM_LINKS = [
    "http://prometheus.example.com:9090/graph?g0.expr=job%3Acheckout_5xx%3Aratio5m+%3E+0.05&g0.tab=1",
    "https://runbooks.example.com/checkout/5xx",
]
AM_GROUP_KEY = '{}/{team="payments"}:{alertname="HighErrorRate", service="checkout"}'
GCP_URL = (
    "https://console.cloud.google.com/monitoring/alerting/alerts/0.q7f3kd2lm9xa"
    "?channelType=webhook&project=acme-payments-prod"
)
ROUTING_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
NESTED_CONFIG = {
    "alerts": "checks",
    "summary": "check.name",
    "dedup_key": "check.key",
    "status": "result.state",
    "severity": "result.level",
    "links": "result.links",
    "details": "result",
    "resolved_values": ["passing"],
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def labels_key(kind: str, labels: dict[str, str]) -> str:
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return f"{kind}-labels:v1:" + hashlib.sha256(canonical.encode()).hexdigest()


DISK_1 = {
    "alertname": "DiskWillFillIn4Hours",
    "device": "/dev/nvme0n1p1",
    "instance": "db-1:9100",
    "severity": "warning",
    "team": "infra",
}
DISK_2 = {**DISK_1, "instance": "db-2:9100"}


@dataclass
class Ok:
    """A fixture that parses; each dict lists the Signal attributes one signal must have."""

    fixture: str
    signals: list[dict[str, Any]]
    config: dict[str, Any] | None = None


@dataclass
class Bad:
    """A fixture that must be refused with this field and message (and PagerDuty errors)."""

    fixture: str
    field: str | None
    message: str
    errors: list[str] = field(default_factory=list)
    config: dict[str, Any] | None = None


OK_CASES = [
    Ok(
        "alertmanager_firing_group_of_3.json",
        [
            {
                "action": "trigger",
                "dedup_key": "am:v1:4b1c9e07aa3f52d8",
                "source_dedup_key": "4b1c9e07aa3f52d8",
                "summary": "checkout 5xx ratio above 5%",
                "source": "alertmanager",
                "severity": "critical",
                "occurred_at": datetime(2026, 1, 1, 0, 3, 12, 418231, tzinfo=UTC),
                "group_key": AM_GROUP_KEY,
                "links": AM_LINKS,
                "origin": "checkout-7d9f8:8080",
                "labels": {
                    "alertname": "HighErrorRate",
                    "service": "checkout",
                    "severity": "critical",
                    "team": "payments",
                    "instance": "checkout-7d9f8:8080",
                },
                "is_test": False,
            },
            # startsAt with a +05:30 offset is read as the same instant in UTC.
            {
                "action": "trigger",
                "dedup_key": "am:v1:9e02d7c41f66ab30",
                "occurred_at": at("2026-01-01T00:03:40"),
                "group_key": AM_GROUP_KEY,
            },
            {
                "action": "trigger",
                "dedup_key": "am:v1:c3a8f1e2d4b56970",
                "occurred_at": at("2026-01-01T00:04:02"),
                "group_key": AM_GROUP_KEY,
            },
        ],
    ),
    Ok(
        "alertmanager_mixed_firing_and_resolved.json",
        [
            {"action": "trigger", "dedup_key": "am:v1:4b1c9e07aa3f52d8"},
            # The alert's own status wins over the group's "firing"; a resolve carries endsAt.
            {
                "action": "resolve",
                "dedup_key": "am:v1:9e02d7c41f66ab30",
                "occurred_at": datetime(2026, 1, 1, 0, 9, 55, 2000, tzinfo=UTC),
            },
        ],
    ),
    Ok(
        "alertmanager_resolved.json",
        [
            {
                "action": "resolve",
                "dedup_key": "am:v1:4b1c9e07aa3f52d8",
                "occurred_at": datetime(2026, 1, 1, 0, 21, 7, 500000, tzinfo=UTC),
                "severity": "critical",
            }
        ],
    ),
    Ok(
        "alertmanager_missing_fingerprint.json",
        [
            # No alert status: the group's "firing" applies. Generator URL "" gives no link.
            {
                "action": "trigger",
                "dedup_key": labels_key("am", DISK_1),
                "source_dedup_key": None,
                "summary": "Disk on db-1 fills within 4h",
                "severity": "warning",
                "links": [],
                "occurred_at": at("2026-03-29T00:58:00"),
            },
            # Label order in the body does not change the key; no annotations → alertname.
            {
                "action": "resolve",
                "dedup_key": labels_key("am", DISK_2),
                "summary": "DiskWillFillIn4Hours",
                "occurred_at": at("2026-03-29T01:02:00"),
            },
        ],
    ),
    Ok(
        "gcp_1_2_open.json",
        [
            {
                "action": "trigger",
                "dedup_key": "gcp:v1:0.q7f3kd2lm9xa",
                "source_dedup_key": "0.q7f3kd2lm9xa",
                "summary": "[ALERT - Critical] checkout-api latency",
                "source": "gcp",
                "severity": "critical",
                "occurred_at": at("2025-12-31T23:55:00"),
                "links": [GCP_URL, "https://runbooks.example.com/checkout/latency"],
                "origin": "checkout-api",
                "group_key": None,
                "is_test": False,
            }
        ],
    ),
    Ok(
        "gcp_1_2_closed.json",
        [
            {
                "action": "resolve",
                "dedup_key": "gcp:v1:0.q7f3kd2lm9xa",
                "occurred_at": at("2026-01-01T00:09:00"),
            }
        ],
    ),
    Ok(
        "gcp_1_2_open_no_severity.json",
        [
            # "OPEN" in capitals; "no severity" falls back to the policy's severity label.
            {
                "action": "trigger",
                "dedup_key": "gcp:v1:0.n2c8wq1v7hpe",
                "severity": "warning",
                "summary": (
                    "Pub/Sub backlog for orders-sub is above the threshold of 10000 "
                    "with a value of 18243."
                ),
            }
        ],
    ),
    Ok(
        "gcp_test_notification.json",
        [
            {
                "action": "trigger",
                "dedup_key": "gcp:v1:12345",
                "summary": "Test Incident",
                "is_test": True,
                "occurred_at": None,
                "severity": None,
            }
        ],
    ),
    Ok(
        "gcp_1_1_closed.json",
        [
            {
                "action": "resolve",
                "dedup_key": "gcp:v1:5c1f9e2ab77d4f0e9a3b6c8d2e4f6a81",
                "occurred_at": at("2026-01-01T00:05:00"),
                "origin": "db-replica-3",
                "labels": {"policy_name": "Replica lag", "condition_name": "Replication lag"},
                "is_test": False,
            }
        ],
    ),
    Ok(
        "gcp_stackdriver_v1_acknowledged.json",
        [{"action": "acknowledge", "dedup_key": "gcp:v1:f2e1d0c9b8a7", "occurred_at": None}],
    ),
    Ok(
        "gcp_pubsub_push.json",
        [{"action": "trigger", "dedup_key": "gcp:v1:0.q7f3kd2lm9xa", "severity": "critical"}],
    ),
    Ok(
        "grafana_firing.json",
        [
            {
                "action": "trigger",
                "dedup_key": "grafana:v1:a17c02f9d3be4410",
                "summary": "CPU above 90% on web-1",
                "source": "grafana",
                "severity": "warning",
                "occurred_at": at("2026-01-01T00:04:00"),
                "links": [
                    "https://grafana.example.com/alerting/grafana/bdk21x9yz/view?orgId=1",
                    "https://grafana.example.com/d/node-overview?orgId=1",
                    "https://grafana.example.com/d/node-overview?orgId=1&viewPanel=4",
                    "https://runbooks.example.com/cpu",
                ],
                "is_test": False,
            }
        ],
    ),
    Ok(
        "grafana_resolved.json",
        [
            {
                "action": "resolve",
                "dedup_key": "grafana:v1:a17c02f9d3be4410",
                "occurred_at": at("2026-01-01T00:19:00"),
            }
        ],
    ),
    Ok(
        "grafana_test_notification.json",
        [{"action": "trigger", "is_test": True, "summary": "Notification test", "links": []}],
    ),
    Ok(
        "pagerduty_trigger.json",
        [
            {
                "action": "trigger",
                "dedup_key": "pd:v1:checkout-api/5xx-ratio",
                "source_dedup_key": "checkout-api/5xx-ratio",
                "summary": "checkout-api 5xx ratio 7.2% (threshold 5%)",
                "source": "pagerduty",
                "severity": "critical",
                "occurred_at": datetime(2026, 1, 1, 0, 3, 12, 418000, tzinfo=UTC),
                "origin": "checkout-api.prod.example.com",
                "labels": {
                    "source": "checkout-api.prod.example.com",
                    "component": "checkout-api",
                    "group": "payments",
                    "class": "http-errors",
                },
                "links": [
                    "https://runbooks.example.com/checkout/5xx",
                    "https://grafana.example.com/d/checkout",
                    "https://monitoring.example.com",
                ],
                "client": "Example Monitoring",
                "client_url": "https://monitoring.example.com",
                "routing_key": ROUTING_KEY,
            }
        ],
    ),
    Ok(
        "pagerduty_acknowledge.json",
        [
            {
                "action": "acknowledge",
                "dedup_key": "pd:v1:checkout-api/5xx-ratio",
                "severity": None,
                "routing_key": ROUTING_KEY,
            }
        ],
    ),
    Ok(
        "pagerduty_resolve.json",
        [{"action": "resolve", "dedup_key": "pd:v1:checkout-api/5xx-ratio"}],
    ),
    Ok(
        "pagerduty_trigger_without_dedup_key.json",
        [{"action": "trigger", "dedup_key": None, "source_dedup_key": None, "severity": "error"}],
    ),
    Ok(
        "pagerduty_alertmanager_resolve.json",
        [
            {
                "action": "resolve",
                "dedup_key": "pd:v1:"
                "3f1d2c5b8e7a9f60b4c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0",
                "summary": "[RESOLVED:1] HighErrorRate (checkout payments)",
                "client": "Alertmanager",
            }
        ],
    ),
    Ok(
        "generic_flat_trigger.json",
        [
            {
                "action": "trigger",
                "dedup_key": "generic:v1:uptime-checkout-eu",
                "summary": "Checkout EU is DOWN (HTTP 503)",
                "source": "generic",
                "severity": "error",
                "labels": {"service": "checkout", "region": "eu", "attempt": "3"},
                "links": ["https://uptime.example.com/monitors/412"],
                "occurred_at": at("2026-02-14T03:12:09"),
            }
        ],
    ),
    Ok(
        "generic_flat_resolved.json",
        [
            {
                "action": "resolve",
                "dedup_key": "generic:v1:uptime-checkout-eu",
                "occurred_at": at("2026-02-14T03:20:00"),
            }
        ],
    ),
    Ok(
        "generic_nested_batch.json",
        [
            {
                "action": "trigger",
                "dedup_key": "generic:v1:login-page",
                "summary": "Login page renders",
                "severity": "critical",
                "links": ["https://checks.example.com/login"],
                "details": {
                    "state": "failing",
                    "level": "critical",
                    "links": [{"url": "https://checks.example.com/login"}],
                },
            },
            {"action": "resolve", "dedup_key": "generic:v1:search-api", "severity": "warning"},
        ],
        config=NESTED_CONFIG,
    ),
    Ok(
        "generic_array_body.json",
        [
            {
                "action": "trigger",
                "dedup_key": "generic-summary:v1:"
                + hashlib.sha256(b"Cron job 'invoice-export' missed its 02:00 run").hexdigest(),
                "source_dedup_key": None,
                "severity": "warning",
            },
            {"action": "trigger", "dedup_key": "generic:v1:17", "source_dedup_key": "17"},
        ],
    ),
]

BAD_CASES = [
    Bad("alertmanager_invalid_labels.json", "alerts[2].labels", "must be an object, not an array"),
    Bad(
        "alertmanager_invalid_label_value.json",
        "alerts[2].labels.shard",
        "must be a string, not an object",
    ),
    Bad("alertmanager_invalid_status.json", "alerts[0].status", "must be firing or resolved"),
    Bad("alertmanager_invalid_not_json.json", None, "body is not valid JSON"),
    Bad("gcp_invalid_state.json", "incident.state", "must be open or closed, not 'flapping'"),
    Bad("gcp_invalid_missing_incident_id.json", "incident.incident_id", "is missing"),
    Bad("gcp_invalid_resource_labels.json", "incident.resource.labels", "must be an object"),
    Bad("grafana_invalid_legacy.json", "alerts", "legacy Grafana alerting"),
    Bad(
        "pagerduty_invalid_severity.json",
        "payload.severity",
        "'payload.severity' must be one of critical, error, warning, info",
        ["'payload.severity' must be one of critical, error, warning, info"],
    ),
    Bad(
        "pagerduty_invalid_trigger_fields.json",
        "routing_key",
        "Length of 'routing_key' is incorrect (should be 32 characters)",
        [
            "Length of 'routing_key' is incorrect (should be 32 characters)",
            "'routing_key' cannot contain non-alphanumeric characters.",
            "'payload.summary' is missing or blank",
            "'payload.source' is missing or blank",
        ],
    ),
    Bad(
        "pagerduty_invalid_resolve_without_key.json",
        "dedup_key",
        "'dedup_key' is missing or blank",
        ["'dedup_key' is missing or blank"],
    ),
    Bad(
        "pagerduty_invalid_action.json",
        "event_action",
        "'event_action' must be one of trigger, acknowledge, resolve",
        ["'event_action' must be one of trigger, acknowledge, resolve"],
    ),
    Bad("pagerduty_invalid_not_json.json", None, "body is not valid JSON", ["JSON parse error"]),
    Bad("generic_invalid_no_summary.json", "summary", "no summary found"),
]


def kind_of_fixture(name: str) -> str:
    return name.split("_", 1)[0]


def run(name: str, config: dict[str, Any] | None = None) -> list[Signal]:
    return PARSERS[kind_of_fixture(name)]((PAYLOADS / name).read_bytes(), {}, config=config)


def test_every_fixture_is_in_a_table() -> None:
    tabled = {case.fixture for case in OK_CASES} | {case.fixture for case in BAD_CASES}
    assert {p.name for p in PAYLOADS.glob("*.json")} == tabled


@pytest.mark.parametrize("case", OK_CASES, ids=lambda c: c.fixture)
def test_parses(case: Ok) -> None:
    signals = run(case.fixture, case.config)
    assert len(signals) == len(case.signals)
    for signal, expected in zip(signals, case.signals, strict=True):
        assert isinstance(signal, Signal)
        actual = {name: getattr(signal, name) for name in expected}
        assert actual == expected
        json.dumps(signal.details, allow_nan=False)
        assert signal.occurred_at is None or signal.occurred_at.tzinfo is UTC


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda c: c.fixture)
def test_refuses(case: Bad) -> None:
    with pytest.raises(IntakeError) as caught:
        run(case.fixture, case.config)
    assert caught.value.field == case.field
    assert case.message in caught.value.message
    if case.errors:
        assert list(caught.value.errors) == case.errors


def test_registry_and_public_names() -> None:
    assert set(PARSERS) == {"alertmanager", "gcp", "grafana", "generic", "pagerduty"}
    import onduty.intake as intake

    assert all(hasattr(intake, name) for name in intake_all)
    assert issubclass(IntakeError, InvalidInput)


def test_a_group_shares_one_group_key_and_details_keep_the_alert() -> None:
    signals = run("alertmanager_firing_group_of_3.json")
    assert {s.group_key for s in signals} == {AM_GROUP_KEY}
    assert signals[1].details["alert"]["fingerprint"] == "9e02d7c41f66ab30"
    assert signals[1].details["group"]["receiver"] == "oncall-payments"
    assert "alerts" not in signals[1].details["group"]


def test_label_key_ignores_label_order() -> None:
    body = {"status": "firing", "alerts": [{"labels": {"b": "2", "a": "1"}}]}
    swapped = {"status": "firing", "alerts": [{"labels": {"a": "1", "b": "2"}}]}
    parse = PARSERS["alertmanager"]
    first = parse(json.dumps(body).encode(), {})[0]
    second = parse(json.dumps(swapped).encode(), {})[0]
    assert first.dedup_key == second.dedup_key == labels_key("am", {"a": "1", "b": "2"})


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"[]", None, "body must be a JSON object, not an array"),
        (b"{}", "alerts", "alerts is missing"),
        (b'{"alerts": {}}', "alerts", "alerts must be an array, not an object"),
        (b'{"alerts": [{"labels": {"a": "1"}}]}', "alerts[0].status", "group has no status"),
        (b'{"status": "firing", "alerts": [7]}', "alerts[0]", "must be an object, not a number"),
        (b'{"status": "firing", "alerts": [{}]}', "alerts[0].labels", "neither a fingerprint"),
        (b'{"status": "boom", "alerts": []}', "status", "must be firing or resolved"),
        (
            b'{"status": "firing", "alerts": [{"fingerprint": 5}]}',
            "alerts[0].fingerprint",
            "string",
        ),
        (b'{"a": NaN}', None, "body is not valid JSON"),
        (b'{"a": 1e999}', None, "body is not valid JSON"),
        (b'{"a": "\\ud800"}', None, "unpaired surrogate"),
        (b"\xff\xfe\x00", None, "body is not valid JSON"),
        (b"[" * 100_000, None, "nested"),
        (b"[" * 70 + b"]" * 70, None, "nested more than 64 levels"),
    ],
)
def test_alertmanager_errors_name_the_field(body: bytes, field: str | None, message: str) -> None:
    with pytest.raises(IntakeError) as caught:
        PARSERS["alertmanager"](body, {})
    assert caught.value.field == field
    assert message in caught.value.message


def test_empty_alert_list_is_nothing_to_do() -> None:
    assert PARSERS["alertmanager"](b'{"status":"resolved","alerts":[]}\n', {}) == []


def test_go_zero_end_time_is_no_time() -> None:
    body = {
        "status": "resolved",
        "alerts": [{"labels": {"a": "1"}, "endsAt": "0001-01-01T00:00:00Z"}],
    }
    assert PARSERS["alertmanager"](json.dumps(body).encode(), {})[0].occurred_at is None


def test_gcp_pubsub_data_must_be_base64() -> None:
    with pytest.raises(IntakeError) as caught:
        PARSERS["gcp"](b'{"message": {"data": "not base64!"}}', {})
    assert caught.value.field == "message.data"


def test_pagerduty_trigger_without_key_takes_the_generated_one() -> None:
    [signal] = run("pagerduty_trigger_without_dedup_key.json")
    keyed = with_generated_key(signal, "5b9d1a9c2f0e4d7b8a6c3e1f0d2b4a68")
    assert keyed.dedup_key == "pd:v1:5b9d1a9c2f0e4d7b8a6c3e1f0d2b4a68"
    assert keyed.source_dedup_key == "5b9d1a9c2f0e4d7b8a6c3e1f0d2b4a68"
    assert keyed.summary == signal.summary


def test_pagerduty_details_never_hold_the_routing_key() -> None:
    [signal] = run("pagerduty_trigger.json")
    assert "routing_key" not in signal.details
    assert signal.details["payload"]["custom_details"]["ratio"] == 0.072


def test_pagerduty_routing_key_format_check_can_be_switched_off() -> None:
    body = (PAYLOADS / "pagerduty_trigger.json").read_text().replace(ROUTING_KEY, "svc-checkout")
    with pytest.raises(IntakeError):
        PARSERS["pagerduty"](body.encode(), {})
    config = {"check_routing_key_format": False}
    [signal] = PARSERS["pagerduty"](body.encode(), {}, config=config)
    assert signal.routing_key == "svc-checkout"


@pytest.mark.parametrize(
    ("event", "errors"),
    [
        ({}, ["'routing_key' is missing or blank", "'event_action' is missing or blank"]),
        (
            {"routing_key": ROUTING_KEY, "event_action": "trigger"},
            ["'payload' is missing or blank"],
        ),
        (
            {"routing_key": ROUTING_KEY, "event_action": "trigger", "payload": {"severity": 1}},
            [
                "'payload.summary' is missing or blank",
                "'payload.source' is missing or blank",
                "'payload.severity' must be a string, not a number",
            ],
        ),
        (
            {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "x" * 256},
            ["'dedup_key' is too long (maximum is 255 characters)"],
        ),
        (
            {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "   "},
            ["'dedup_key' is missing or blank"],
        ),
    ],
)
def test_pagerduty_reports_every_error(event: dict[str, Any], errors: list[str]) -> None:
    with pytest.raises(IntakeError) as caught:
        PARSERS["pagerduty"](json.dumps(event).encode(), {})
    assert list(caught.value.errors) == errors
    assert pagerduty_error_body(caught.value) == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": errors,
    }


def test_pagerduty_long_summary_is_cut_not_refused() -> None:
    event = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "payload": {"summary": "x" * 2000, "source": "h", "severity": "info"},
    }
    [signal] = PARSERS["pagerduty"](json.dumps(event).encode(), {})
    assert len(signal.summary) == 1024


def test_pagerduty_response_bodies() -> None:
    assert pagerduty_success("checkout-api/5xx-ratio") == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "checkout-api/5xx-ratio",
    }
    assert pagerduty_error(["'payload.severity' is missing or blank"]) == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["'payload.severity' is missing or blank"],
    }
    assert pagerduty_unrecognized() == {
        "status": "Unrecognized object",
        "message": "Event object format is unrecognized",
        "errors": ["JSON parse error"],
    }
    with pytest.raises(IntakeError) as caught:
        run("pagerduty_invalid_not_json.json")
    assert pagerduty_error_body(caught.value) == pagerduty_unrecognized()


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"summary": ""}, "config.summary"),
        ({"summary": 3}, "config.summary"),
        ({"summary": "a..b"}, "config.summary"),
        ({"resolved_values": [1]}, "config.resolved_values"),
        ({"source": ""}, "config.source"),
        ({"sumary": "title"}, "config.sumary"),
    ],
)
def test_generic_config_errors_are_not_the_senders(config: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_config(config)
    assert not isinstance(caught.value, IntakeError)
    assert caught.value.field == field


def test_generic_configured_path_must_hold_the_right_type() -> None:
    body = b'{"event": {"title": ["not", "text"]}}'
    with pytest.raises(IntakeError) as caught:
        PARSERS["generic"](body, {}, config={"summary": "event.title"})
    assert caught.value.field == "event.title"
    assert "must be a string or a number, not an array" in caught.value.message


def test_generic_list_index_paths_and_custom_source() -> None:
    body = b'{"alerts": [{"name": "Queue stuck", "state": "ACK"}]}'
    config = {"summary": "alerts[0].name", "status": "alerts.0.state", "source": "queue-watch"}
    [signal] = PARSERS["generic"](body, {}, config=config)
    assert (signal.summary, signal.action, signal.source) == (
        "Queue stuck",
        "acknowledge",
        "queue-watch",
    )


def test_generic_alerts_path_must_be_an_array() -> None:
    with pytest.raises(IntakeError) as caught:
        PARSERS["generic"](b'{"checks": {"a": 1}}', {}, config={"alerts": "checks"})
    assert caught.value.field == "checks"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Critical", "critical"),
        ("CRITICAL", "critical"),
        (" error ", "error"),
        ("Warning", "warning"),
        ("warn", "warning"),
        ("P1", "critical"),
        ("high", "error"),
        ("informational", "info"),
        ("no severity", None),
        ("SEVERITY_UNSPECIFIED", None),
        ("", None),
        (3, None),
        (None, None),
    ],
)
def test_severity_spellings(given: object, expected: str | None) -> None:
    assert normalise_severity(given) == expected


def test_parse_by_integration_type() -> None:
    from onduty.intake import parse

    body = (PAYLOADS / "gcp_1_2_open.json").read_bytes()
    assert parse("gcp", body, {}) == PARSERS["gcp"](body, {})
