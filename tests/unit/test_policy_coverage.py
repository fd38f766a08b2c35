"""Lint checks over the coming 8 weeks: gaps, double duty across teams, consecutive shifts."""

from __future__ import annotations

from tests.policy_cases import example, lint_doc


def test_time_off_with_nobody_to_cover_is_a_gap() -> None:
    doc = example()
    doc["teams"][0]["rota"]["slots"]["frontend"] = ["asha"]
    doc["time_off"] = [{"person": "asha", "start": "2026-12-10T00:00", "end": "2026-12-11T00:00"}]
    problems = [p for p in lint_doc(doc) if "nobody on call" in p.message]
    assert [(p.severity, p.message) for p in problems] == [
        (
            "error",
            "team 'checkout' slot 'frontend' has nobody on call from 2026-12-10 00:00 to "
            "2026-12-11 00:00 (time off with nobody to cover)",
        )
    ]


def test_time_off_with_a_colleague_to_cover_is_fine() -> None:
    doc = example()
    doc["time_off"] = [{"person": "asha", "start": "2026-12-10T00:00", "end": "2026-12-11T00:00"}]
    assert lint_doc(doc) == []


def test_time_off_across_a_handoff_and_past_the_8_weeks_is_named_whole() -> None:
    doc = example()
    doc["teams"][0]["rota"]["slots"]["frontend"] = ["asha"]
    doc["time_off"] = [
        {"person": "asha", "start": "2026-12-05T00:00", "end": "2026-12-09T00:00"},
        {"person": "asha", "start": "2027-01-15T00:00", "end": "2027-02-15T00:00"},
    ]
    problems = [p for p in lint_doc(doc) if "nobody on call" in p.message]
    # One message per slot: the first gap, from its start to its end (not to the handoff on
    # Monday 7 December, nor to the end of the 8 weeks looked at).
    assert [(p.severity, p.message) for p in problems] == [
        (
            "error",
            "team 'checkout' slot 'frontend' has nobody on call from 2026-12-05 00:00 to "
            "2026-12-09 00:00 (time off with nobody to cover)",
        )
    ]
    doc["time_off"] = doc["time_off"][1:]
    assert [p.message for p in lint_doc(doc) if "nobody on call" in p.message] == [
        "team 'checkout' slot 'frontend' has nobody on call from 2027-01-15 00:00 to "
        "2027-02-15 00:00 (time off with nobody to cover)"
    ]


def test_a_rota_that_starts_later_is_not_on_call_until_then_a_notice() -> None:
    doc = example()
    doc["teams"][1]["rota"]["start"] = "2026-12-07"
    problems = [p for p in lint_doc(doc) if p.severity != "warning"]
    # Its services still reach L1-L3 (the primary and secondary steps fall through at once).
    assert [(p.severity, p.message) for p in problems] == [
        (
            "notice",
            f"team 'catalog' slot '{slot}' has nobody on call from 2026-11-26 17:30 to "
            "2026-12-07 10:00 (before its rota starts)",
        )
        for slot in ("frontend", "backend")
    ]


def test_a_rota_months_ahead_names_the_gap_to_its_first_handoff() -> None:
    doc = example()
    doc["teams"][1]["rota"]["start"] = "2027-03-01"
    messages = [p.message for p in lint_doc(doc) if p.severity == "notice"]
    assert messages[0] == (
        "team 'catalog' slot 'frontend' has nobody on call from 2026-11-26 17:30 to "
        "2027-03-01 10:00 (before its rota starts)"
    )
    assert [p for p in lint_doc(doc) if p.severity == "error"] == []


def test_a_later_rota_is_an_error_when_a_service_would_then_page_nobody() -> None:
    doc = example()
    doc["teams"][1]["rota"]["start"] = "2026-12-07"
    doc["escalation_policies"].append(
        {
            "id": "rota-only",
            "steps": [{"notify": ["primary"], "wait": "5m"}, {"notify": ["team"], "wait": "5m"}],
        }
    )
    next(s for s in doc["services"] if s["id"] == "search")["escalation_policy"] = "rota-only"
    errors = [p.message for p in lint_doc(doc) if p.severity == "error"]
    assert errors == [
        f"team 'catalog' slot '{slot}' has nobody on call from 2026-11-26 17:30 to "
        "2026-12-07 10:00 (before its rota starts): service 'search' (escalation policy "
        "'rota-only') would page nobody"
        for slot in ("frontend", "backend")
    ]
    # A slot named by another team's policy counts too; a person named directly always answers.
    doc["escalation_policies"][-1]["steps"].append({"notify": ["person:cto"], "wait": "5m"})
    assert [p for p in lint_doc(doc) if p.severity == "error"] == []
    doc["escalation_policies"][-1]["steps"].pop()
    next(s for s in doc["services"] if s["id"] == "search")["escalation_policy"] = "standard"
    doc["escalation_policies"][-1]["steps"] = [{"notify": ["slot:catalog/backend"], "wait": "5m"}]
    next(s for s in doc["services"] if s["id"] == "payments")["escalation_policy"] = "rota-only"
    assert [p.message for p in lint_doc(doc) if p.severity == "error"] == [
        "team 'catalog' slot 'backend' has nobody on call from 2026-11-26 17:30 to "
        "2026-12-07 10:00 (before its rota starts): service 'payments' (escalation policy "
        "'rota-only') would page nobody"
    ]


def test_person_on_call_in_two_teams_at_once() -> None:
    doc = example()
    doc["teams"][1]["members"].append("asha")
    doc["teams"][1]["rota"]["slots"]["frontend"] = ["asha", "dev"]
    problems = [p for p in lint_doc(doc) if "two teams" in p.message]
    assert len(problems) == 1 and problems[0].severity == "error"
    assert problems[0].message.startswith(
        "asha is on call in two teams at once (checkout/frontend and catalog/frontend) "
        "from 2026-11-30"
    )


def test_more_consecutive_shifts_than_allowed() -> None:
    doc = example()
    doc["teams"][0]["rota"]["slots"]["backend"] = ["ravi"]
    doc["teams"][0]["rota"]["max_consecutive"] = 2
    problems = [p for p in lint_doc(doc) if "in a row" in p.message]
    assert [p.severity for p in problems] == ["warning"]
    assert "ravi is on call 3 periods in a row" in problems[0].message
    doc["teams"][0]["rota"]["slots"]["backend"] = ["ravi", "arjun"]
    assert [p for p in lint_doc(doc) if "in a row" in p.message] == []
