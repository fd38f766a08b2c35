"""Helpers for policy tests: the demo policy as a dict to mutate, and YAML round-trips."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from onduty.policy import Problem, lint, parse_text

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme" / "policy.yaml"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def example() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))


def lint_doc(doc: dict[str, Any]) -> list[Problem]:
    policy, lines = parse_text(yaml.safe_dump(doc, sort_keys=False))
    return lint(policy, lines, now=NOW)


def person(doc: dict[str, Any], ident: str) -> dict[str, Any]:
    return next(p for p in doc["people"] if p["id"] == ident)
