"""escalation/plan.py on literal inputs: which step runs, whom it pages, when the next is due,
skipped steps, repeats and the end of the policy, and when each notification rule fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from onduty.escalation import plan

T0 = datetime(2026, 12, 6, 21, 30, tzinfo=UTC)
POLICY = {
    "repeat": 1,
    "steps": [
        {"notify": ["primary", "team"], "wait_s": 300},
        {"notify": ["L1"], "wait_s": 600},
        {"notify": ["L2"], "wait_s": 900},
    ],
}
WHO = {"primary": ["asha"], "team": ["asha", "ravi"], "L1": [], "L2": ["karan"]}


def resolve(target: str) -> list[str]:
    return WHO[target]


def test_the_first_step_pages_each_person_once_with_the_target_that_named_them() -> None:
    got = plan.advance(POLICY, step=0, cycle=0, at=T0, resolve=resolve)
    assert got.nobody == ()
    assert got.run == plan.StepRun(
        step=0,
        cycle=0,
        targets=("primary", "team"),
        people=(("asha", "primary"), ("ravi", "team")),
        event=plan.TRIGGERED,
        next_at=T0 + timedelta(minutes=5),
    )
    assert (got.step, got.cycle) == (1, 0)


def test_a_step_naming_nobody_falls_through_at_once() -> None:
    got = plan.advance(POLICY, step=1, cycle=0, at=T0, resolve=resolve)
    assert got.nobody == (plan.Nobody(1, 0, ("L1",)),)
    assert got.run is not None and (got.run.step, got.run.event) == (2, plan.ESCALATED)
    assert got.run.people == (("karan", "L2"),) and got.run.next_at == T0 + timedelta(minutes=15)


def test_repeat_starts_the_next_cycle_then_the_policy_runs_out() -> None:
    again = plan.advance(POLICY, step=3, cycle=0, at=T0, resolve=resolve)
    assert again.run is not None and (again.run.step, again.run.cycle) == (0, 1)
    assert again.run.event == plan.ESCALATED  # only step 1 of cycle 0 is the trigger
    done = plan.advance(POLICY, step=3, cycle=1, at=T0, resolve=resolve)
    assert (done.run, done.nobody, done.step, done.cycle) == (None, (), 3, 1)
    empty = plan.advance({"repeat": 3, "steps": []}, step=0, cycle=0, at=T0, resolve=resolve)
    assert empty.run is None and empty.cycle == 0  # no steps: no endless repeat


def test_rule_times_keep_the_rules_order_and_add_their_delays() -> None:
    rules = [plan.Rule(7, "slack", 0), plan.Rule(8, "sms", 60), plan.Rule(9, "voice", 180)]
    assert plan.rule_times(rules, T0) == [
        (0, rules[0], T0),
        (1, rules[1], T0 + timedelta(minutes=1)),
        (2, rules[2], T0 + timedelta(minutes=3)),
    ]
