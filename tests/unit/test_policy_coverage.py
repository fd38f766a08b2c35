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


def test_a_rota_that_starts_later_leaves_a_gap() -> None:
    doc = example()
    doc["teams"][1]["rota"]["start"] = "2026-12-07"
    messages = [p.message for p in lint_doc(doc) if p.severity == "error"]
    assert any(
        m.startswith("team 'catalog' slot 'frontend' has nobody on call from 2026-11-26")
        for m in messages
    ), messages


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
