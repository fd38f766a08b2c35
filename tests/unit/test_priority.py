"""Table tests of the pure criticality matcher, rule shadowing and DST-exact working hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from onduty.errors import InvalidInput
from onduty.incidents.priority import (
    DEFAULT_PRIORITY,
    Facts,
    Rule,
    in_working_hours,
    match,
    next_working_start,
    rule_shadowed,
)
from onduty.localtime import WEEKDAYS

# The criticality rules of SPEC §6.1's example policy.
SPEC_RULES = [
    Rule("P1", severity=frozenset({"critical"})),
    Rule("P2", service=frozenset({"storefront"}), severity=frozenset({"error"})),
    Rule("P4", labels={"env": "staging"}),
    Rule("P3"),
]


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (Facts(service="storefront", severity="critical"), ("P1", 0)),
        (Facts(service="storefront", severity="error"), ("P2", 1)),
        (Facts(service="search", severity="error"), ("P3", 3)),
        (Facts(service="search", severity="error", labels={"env": "staging"}), ("P4", 2)),
        (Facts(service="storefront", severity="critical", labels={"env": "staging"}), ("P1", 0)),
        (Facts(), ("P3", 3)),
    ],
)
def test_spec_rules_first_match_wins(facts: Facts, expected: tuple[str, int]) -> None:
    assert match(SPEC_RULES, facts) == expected


WORD_RULES = [
    Rule("P1", words=frozenset({"Data Loss", "outage"})),
    Rule("P2", channel=frozenset({"intercom"}), client_tier=frozenset({"enterprise"})),
    Rule("P2", min_affected_clients=10),
]


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (Facts(summary="Possible DATA loss in orders table"), ("P1", 0)),
        (Facts(summary="Checkout outage, EU"), ("P1", 0)),
        # Whole words only, and a phrase must appear in order.
        (Facts(summary="Checkout outages in EU"), (DEFAULT_PRIORITY, None)),
        (Facts(summary="loss of data"), (DEFAULT_PRIORITY, None)),
        (Facts(channel="intercom", client_tier="enterprise"), ("P2", 1)),
        (Facts(channel="intercom", client_tier="free"), (DEFAULT_PRIORITY, None)),
        (Facts(channel="intercom"), (DEFAULT_PRIORITY, None)),
        (Facts(affected_clients=10), ("P2", 2)),
        (Facts(affected_clients=9), (DEFAULT_PRIORITY, None)),
        (Facts(affected_clients=None), (DEFAULT_PRIORITY, None)),
    ],
)
def test_words_channels_tiers_and_client_counts(facts: Facts, expected: tuple[str, int]) -> None:
    assert match(WORD_RULES, facts) == expected


def test_no_rules_falls_back_to_p3() -> None:
    assert match([], Facts(severity="critical")) == ("P3", None)


def test_labels_must_all_match() -> None:
    rules = [Rule("P2", labels={"env": "prod", "tier": "1"})]
    assert match(rules, Facts(labels={"env": "prod", "tier": "1", "x": "y"})) == ("P2", 0)
    assert match(rules, Facts(labels={"env": "prod"})) == ("P3", None)


def test_rule_labels_are_a_private_copy() -> None:
    labels = {"env": "prod"}
    rule = Rule("P1", labels=labels)
    labels["env"] = "staging"
    assert match([rule], Facts(labels={"env": "prod"})) == ("P1", 0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"priority": "P5"}, "priority"),
        ({"priority": "P1", "severity": frozenset()}, "severity"),
        ({"priority": "P1", "words": frozenset({"!!"})}, "words"),
        ({"priority": "P1", "min_affected_clients": -1}, "min_affected_clients"),
    ],
)
def test_rules_are_checked(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Rule(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


CRIT = frozenset({"critical"})
CRIT_ERR = frozenset({"critical", "error"})


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (SPEC_RULES, []),
        # A rule without conditions shadows everything after it; the first shadower is named.
        ([Rule("P3"), Rule("P1", severity=CRIT), Rule("P4")], [(1, 0), (2, 0)]),
        (
            [Rule("P1", severity=CRIT_ERR), Rule("P2", severity=CRIT, service=frozenset({"a"}))],
            [(1, 0)],
        ),
        ([Rule("P1", severity=CRIT), Rule("P2", severity=CRIT_ERR)], []),
        ([Rule("P1", severity=CRIT), Rule("P2")], []),
        (
            [Rule("P1", labels={"env": "prod"}), Rule("P2", labels={"env": "prod", "t": "1"})],
            [(1, 0)],
        ),
        ([Rule("P1", labels={"env": "prod", "t": "1"}), Rule("P2", labels={"env": "prod"})], []),
        ([Rule("P1", labels={"env": "prod"}), Rule("P2", labels={"env": "dev"})], []),
        (
            [Rule("P1", words=frozenset({"outage"})), Rule("P2", words=frozenset({"DB outage"}))],
            [(1, 0)],
        ),
        ([Rule("P1", words=frozenset({"db outage"})), Rule("P2", words=frozenset({"outage"}))], []),
        (
            [
                Rule("P1", words=frozenset({"outage"})),
                Rule("P2", words=frozenset({"outage", "slow"})),
            ],
            [],
        ),
        ([Rule("P1", words=frozenset({"outage"})), Rule("P2")], []),
        ([Rule("P1", min_affected_clients=10), Rule("P2", min_affected_clients=50)], [(1, 0)]),
        ([Rule("P1", min_affected_clients=50), Rule("P2", min_affected_clients=10)], []),
        ([Rule("P1", min_affected_clients=10), Rule("P2")], []),
        (
            [
                Rule("P1", channel=frozenset({"slack"})),
                Rule(
                    "P2",
                    channel=frozenset({"slack"}),
                    client_tier=frozenset({"gold"}),
                    min_affected_clients=3,
                ),
            ],
            [(1, 0)],
        ),
        # Identical rules: the second is dead.
        ([Rule("P1", severity=CRIT), Rule("P2", severity=CRIT)], [(1, 0)]),
    ],
)
def test_rule_shadowed(rules: list[Rule], expected: list[tuple[int, int]]) -> None:
    assert rule_shadowed(rules) == expected


def test_a_shadowed_rule_really_never_matches() -> None:
    rules = [Rule("P1", severity=CRIT_ERR), Rule("P2", severity=CRIT, labels={"a": "b"})]
    assert rule_shadowed(rules) == [(1, 0)]
    assert match(rules, Facts(severity="critical", labels={"a": "b"})) == ("P1", 0)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


WEEK = frozenset(range(7))
MON_SAT = frozenset(WEEKDAYS[d] for d in ("mon", "tue", "wed", "thu", "fri", "sat"))
MON_FRI = frozenset(range(5))
NINE, SEVEN_PM = time(9), time(19)


@pytest.mark.parametrize(
    ("at", "zone", "days", "start", "end", "inside", "expected"),
    [
        # Kolkata (no DST), Mon–Sat 09:00–19:00: Saturday 19:30 IST → Monday 09:00 IST.
        (
            utc(2026, 1, 3, 14),
            "Asia/Kolkata",
            MON_SAT,
            NINE,
            SEVEN_PM,
            False,
            utc(2026, 1, 5, 3, 30),
        ),
        (utc(2026, 1, 5, 4), "Asia/Kolkata", MON_SAT, NINE, SEVEN_PM, True, utc(2026, 1, 5, 4)),
        # Start is inclusive, end exclusive.
        (
            utc(2026, 1, 5, 3, 30),
            "Asia/Kolkata",
            MON_SAT,
            NINE,
            SEVEN_PM,
            True,
            utc(2026, 1, 5, 3, 30),
        ),
        (
            utc(2026, 1, 5, 13, 30),
            "Asia/Kolkata",
            MON_SAT,
            NINE,
            SEVEN_PM,
            False,
            utc(2026, 1, 6, 3, 30),
        ),
        # New York over its spring change: Friday 17:00 EST → Monday 09:00 EDT (13:00 UTC).
        (
            utc(2026, 3, 6, 22),
            "America/New_York",
            MON_FRI,
            time(9),
            time(17),
            False,
            utc(2026, 3, 9, 13),
        ),
        # Berlin, clocks 02:00 → 03:00 on 29 March: a 02:30 start begins at 03:00 CEST.
        (
            utc(2026, 3, 29, 0, 45),
            "Europe/Berlin",
            WEEK,
            time(2, 30),
            time(6),
            False,
            utc(2026, 3, 29, 1),
        ),
        (
            utc(2026, 3, 29, 1),
            "Europe/Berlin",
            WEEK,
            time(2, 30),
            time(6),
            True,
            utc(2026, 3, 29, 1),
        ),
        # Berlin, clocks 03:00 → 02:00 on 25 October: 02:30 is its first occurrence (CEST).
        (
            utc(2026, 10, 25, 0),
            "Europe/Berlin",
            WEEK,
            time(2, 30),
            time(6),
            False,
            utc(2026, 10, 25, 0, 30),
        ),
        # Lord Howe moves only 30 minutes (02:00 → 02:30 on 4 October): 02:15 starts at 02:30.
        (
            utc(2026, 10, 3, 15),
            "Australia/Lord_Howe",
            WEEK,
            time(2, 15),
            time(8),
            False,
            utc(2026, 10, 3, 15, 30),
        ),
        # An overnight window belongs to the day it starts: Friday 22:00 → Saturday 06:00.
        (utc(2026, 1, 3, 3), "UTC", MON_FRI, time(22), time(6), True, utc(2026, 1, 3, 3)),
        (utc(2026, 1, 3, 7), "UTC", MON_FRI, time(22), time(6), False, utc(2026, 1, 5, 22)),
        # start == end is a whole day.
        (utc(2026, 1, 4, 12), "UTC", frozenset({6}), time(0), time(0), True, utc(2026, 1, 4, 12)),
    ],
)
def test_working_hours(
    at: datetime,
    zone: str,
    days: frozenset[int],
    start: time,
    end: time,
    inside: bool,
    expected: datetime,
) -> None:
    assert in_working_hours(at, zone, days, start, end) is inside
    result = next_working_start(at, zone, days, start, end)
    assert result == expected
    assert result.tzinfo is UTC


def test_working_hours_take_any_aware_instant() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    at = datetime(2026, 1, 5, 9, 30, tzinfo=ist)
    assert next_working_start(at, "Asia/Kolkata", MON_SAT, NINE, SEVEN_PM) == utc(2026, 1, 5, 4)


@pytest.mark.parametrize(
    ("zone", "days", "field"),
    [
        ("Mars/Olympus_Mons", WEEK, "zone"),
        ("../../etc/passwd", WEEK, "zone"),
        ("UTC", frozenset(), "days"),
        ("UTC", frozenset({7}), "days"),
    ],
)
def test_working_hours_refuse_bad_settings(zone: str, days: frozenset[int], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        next_working_start(utc(2026, 1, 1), zone, days, NINE, SEVEN_PM)
    assert caught.value.field == field


def test_working_hours_need_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="aware"):
        in_working_hours(datetime(2026, 1, 1, 9), "UTC", WEEK, NINE, SEVEN_PM)
