"""Pure escalation planning: from a policy snapshot and a position in it, which step runs next,
whom it pages and when the one after is due; and when each of a person's notification rules
fires. The engine (escalation/service.py) and the dry-run (escalation/dryrun.py) both walk a
policy with these functions, so what the dry-run predicts is what the engine does.

No database and no clock: the caller passes the instant and a `resolve(target)` that answers
who a target names at that instant (the engine and the dry-run both use the rota's answer)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

TRIGGERED, ESCALATED = "incident.triggered", "incident.escalated"


@dataclass(frozen=True)
class Nobody:
    """A step whose targets named nobody at that instant: skipped at once (never silence)."""

    step: int  # 0-based index in the policy
    cycle: int
    targets: tuple[str, ...]


@dataclass(frozen=True)
class StepRun:
    """The step that runs: its people, each with the target that named them first."""

    step: int  # 0-based
    cycle: int
    targets: tuple[str, ...]
    people: tuple[tuple[str, str], ...]  # (person, target)
    event: str
    next_at: datetime  # when the following step is due


@dataclass(frozen=True)
class Advance:
    """The outcome of running the due step at an instant: the steps that named nobody (in
    order), then either a step that ran, or the end of the policy (`run` is None). `step` and
    `cycle` are the position to continue from."""

    nobody: tuple[Nobody, ...]
    run: StepRun | None
    step: int
    cycle: int


def advance(
    policy: Mapping[str, Any],
    *,
    step: int,
    cycle: int,
    at: datetime,
    resolve: Callable[[str], Sequence[str]],
) -> Advance:
    """Run the due step of `policy` (`{"repeat": n, "steps": [{"notify", "wait_s"}]}`) from
    position (`step`, `cycle`) at `at`. A step naming nobody falls through to the next one at
    once; past the last step the next cycle starts while `repeat` allows, else the policy is
    exhausted. A person named by several targets of one step is paged once."""
    steps = policy.get("steps", [])
    repeat = int(policy.get("repeat", 0))
    skipped: list[Nobody] = []
    while True:
        if step >= len(steps):
            if cycle < repeat and steps:
                cycle, step = cycle + 1, 0
                continue
            return Advance(tuple(skipped), None, step, cycle)
        current = steps[step]
        targets = tuple(current["notify"])
        people: list[tuple[str, str]] = []
        for target in targets:
            for person in resolve(target):
                if all(person != p for p, _ in people):
                    people.append((person, target))
        if not people:
            skipped.append(Nobody(step, cycle, targets))
            step += 1
            continue
        run = StepRun(
            step=step,
            cycle=cycle,
            targets=targets,
            people=tuple(people),
            event=TRIGGERED if (step, cycle) == (0, 0) else ESCALATED,
            next_at=at + timedelta(seconds=int(current["wait_s"])),
        )
        return Advance(tuple(skipped), run, step + 1, cycle)


@dataclass(frozen=True)
class Rule:
    """One of a person's notification rules: contact method, its type, delay in seconds."""

    method_id: int
    channel: str
    after_s: int


def rule_times(rules: Sequence[Rule], at: datetime) -> list[tuple[int, Rule, datetime]]:
    """When each rule of a person paged at `at` fires: (index, rule, due instant), in the
    rules' order (the index is part of the outbox key)."""
    return [(i, rule, at + timedelta(seconds=rule.after_s)) for i, rule in enumerate(rules)]
