"""Every lint rule: a case that trips it and the example policy, which trips none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from tests.policy_cases import NOW, example, lint_doc, person

from onduty.policy import lint, parse_text

Doc = dict[str, Any]


def test_the_example_policy_is_clean() -> None:
    assert lint_doc(example()) == []


def _set(path: list[Any], value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        target = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return mutate


def _append(path: list[Any], value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        target = doc
        for part in path:
            target = target[part]
        target.append(value)

    return mutate


def _no_contact(doc: Doc) -> None:
    p = person(doc, "meera")
    for key in ("email", "phone", "slack"):
        p.pop(key)


def _slow_voice(doc: Doc) -> None:
    person(doc, "asha")["notification_rules"][2]["after"] = "5m"


def _bad_via(doc: Doc) -> None:
    person(doc, "priya")["notification_rules"] = [{"after": "0m", "via": "pager"}]


def _dup_contact(doc: Doc) -> None:
    person(doc, "priya")["contact_methods"] = [
        {"id": "email", "type": "email", "address": "p@x.io"}
    ]


def _duplicate_integration_key(doc: Doc) -> None:
    doc["services"][1]["integrations"][1]["key"] = doc["services"][0]["integrations"][0]["key"]


def _shadowed(doc: Doc) -> None:
    doc["criticality_rules"].insert(
        1, {"when": {"severity": ["critical"], "words": ["db"]}, "priority": "P2"}
    )


CASES: list[tuple[str, Callable[[Doc], None], str, str]] = [
    (
        "duplicate person id",
        _append(["people"], {"id": "asha", "name": "Asha 2", "email": "a2@x.io"}),
        "error",
        "duplicate person id 'asha' (first at line",
    ),
    (
        "duplicate team id",
        _append(["teams"], {"id": "checkout", "name": "Dup"}),
        "error",
        "duplicate team id 'checkout'",
    ),
    (
        "duplicate service id",
        _append(
            ["services"],
            {
                "id": "search",
                "name": "S",
                "team": "catalog",
                "escalation_policy": "standard",
                "integrations": [{"id": "x", "type": "gcp"}],
            },
        ),
        "error",
        "duplicate service id 'search'",
    ),
    (
        "duplicate integration id",
        _append(["services", 0, "integrations"], {"id": "gcp", "type": "gcp"}),
        "error",
        "duplicate integration (in service 'storefront') id 'gcp'",
    ),
    (
        "duplicate integration key",
        _duplicate_integration_key,
        "error",
        "duplicate integration key id",
    ),
    ("duplicate contact method", _dup_contact, "error", "duplicate contact method (of 'priya'"),
    (
        "unknown member",
        _append(["teams", 0, "members"], "bob"),
        "error",
        "team 'checkout': unknown person 'bob'",
    ),
    (
        "unknown support person",
        _set(["teams", 0, "support", "L2"], ["bob"]),
        "error",
        "unknown person 'bob' at L2",
    ),
    (
        "unknown slot person",
        _set(["teams", 1, "rota", "slots", "backend"], ["sana", "zed"]),
        "error",
        "slot 'backend': unknown person 'zed'",
    ),
    (
        "slot person not a member",
        _set(["teams", 1, "rota", "slots", "backend"], ["sana", "asha"]),
        "warning",
        "'asha' is not a member of the team",
    ),
    (
        "team without L1",
        _set(["teams", 0, "support", "L1"], []),
        "error",
        "team 'checkout' has nobody at support level L1",
    ),
    (
        "team without L3",
        _set(["teams", 1, "support"], {"L1": ["kabir"], "L2": ["karan"]}),
        "error",
        "team 'catalog' has nobody at support level L3",
    ),
    ("team without rota", _set(["teams", 1, "rota"], None), "error", "team 'catalog' has no rota"),
    (
        "slot with nobody",
        _set(["teams", 0, "rota", "slots", "frontend"], []),
        "error",
        "slot 'frontend' has nobody in it",
    ),
    (
        "one slot: no secondary",
        _set(["teams", 0, "rota", "slots"], {"frontend": ["asha", "neha"]}),
        "error",
        "discipline 'backend' is not a slot",
    ),
    (
        "service unknown team",
        _set(["services", 0, "team"], "nope"),
        "error",
        "service 'storefront': unknown team 'nope'",
    ),
    (
        "service unknown policy",
        _set(["services", 0, "escalation_policy"], "nope"),
        "error",
        "unknown escalation policy 'nope'",
    ),
    (
        "service without policy",
        lambda d: d["services"][0].pop("escalation_policy"),
        "error",
        "service 'storefront' has no escalation_policy",
    ),
    (
        "service without integration",
        _set(["services", 2, "integrations"], []),
        "warning",
        "service 'search' has no integration",
    ),
    (
        "mapping on a non-generic integration",
        _set(["services", 0, "integrations", 0, "mapping"], {"summary": "a"}),
        "error",
        "mapping is only for integrations of type generic",
    ),
    ("unreachable person", _no_contact, "error", "person 'meera' cannot be reached"),
    ("rule via unknown method", _bad_via, "error", "via 'pager', which is neither"),
    (
        "notification after every wait",
        _slow_voice,
        "warning",
        "'asha' is notified via voice after 5m, but every step that pages them moves on within 5m",
    ),
    (
        "unknown person target",
        _set(["escalation_policies", 0, "steps", 0, "notify"], ["person:bob"]),
        "error",
        "unknown person 'bob'",
    ),
    (
        "unknown slot target",
        _set(["escalation_policies", 0, "steps", 0, "notify"], ["slot:checkout/mobile"]),
        "error",
        "unknown slot 'checkout/mobile'",
    ),
    (
        "unused policy",
        _append(
            ["escalation_policies"], {"id": "spare", "steps": [{"notify": ["L1"], "wait": "5m"}]}
        ),
        "warning",
        "escalation policy 'spare' is not used",
    ),
    (
        "override unknown slot",
        _append(
            ["overrides"],
            {
                "team": "checkout",
                "slot": "mobile",
                "person": "asha",
                "start": "2026-12-02T18:00",
                "end": "2026-12-03T09:00",
            },
        ),
        "error",
        "team 'checkout' has no slot 'mobile'",
    ),
    (
        "override unknown person",
        _append(
            ["overrides"],
            {
                "team": "checkout",
                "slot": "backend",
                "person": "bob",
                "start": "2026-12-02T18:00",
                "end": "2026-12-03T09:00",
            },
        ),
        "error",
        "override: unknown person 'bob'",
    ),
    (
        "override ends before it starts",
        _append(
            ["overrides"],
            {
                "team": "checkout",
                "slot": "backend",
                "person": "arjun",
                "start": "2026-12-03T18:00",
                "end": "2026-12-03T09:00",
            },
        ),
        "error",
        "override: end must be after start",
    ),
    (
        "time off unknown person",
        _append(
            ["time_off"], {"person": "bob", "start": "2026-12-02T00:00", "end": "2026-12-03T00:00"}
        ),
        "error",
        "time off: unknown person 'bob'",
    ),
    (
        "criticality rule unknown service",
        _set(["criticality_rules", 1, "when", "service"], ["nope"]),
        "error",
        "criticality rule: unknown service 'nope'",
    ),
    (
        "shadowed criticality rule",
        _shadowed,
        "warning",
        "criticality rule 2 can never match: rule 1",
    ),
    (
        "rule after the default",
        _append(["criticality_rules"], {"when": {"severity": ["error"]}, "priority": "P2"}),
        "warning",
        "can never match",
    ),
    (
        "no default rule",
        lambda d: d["criticality_rules"].pop(),
        "warning",
        "the last criticality rule has conditions",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "severity", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_lint_rule_trips(mutate: Callable[[Doc], None], severity: str, message: str) -> None:
    doc = example()
    doc.setdefault("overrides", [])
    doc.setdefault("time_off", [])
    mutate(doc)
    problems = lint_doc(doc)
    hits = [p for p in problems if message in p.message]
    assert hits, [p.message for p in problems]
    assert hits[0].severity == severity
    assert hits[0].line > 0


def test_problems_point_at_the_right_line() -> None:
    doc = example()
    doc["teams"][0]["members"].append("bob")
    text = yaml.safe_dump(doc, sort_keys=False)
    policy, lines = parse_text(text)
    problem = next(p for p in lint(policy, lines, now=NOW) if "bob" in p.message)
    assert text.splitlines()[problem.line - 1].strip() == "- bob"
