"""Helpers for policy tests: the demo policy as a dict to mutate, and YAML round-trips."""

from __future__ import annotations

import copy
import shutil
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


def write_policy(doc: dict[str, Any], path: Path) -> Path:
    """Write `doc` as a policy file at `path`, with the demo's runbooks folder beside it when
    the file names one (lint refuses a runbooks folder that is not there)."""
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    if "runbooks" in doc:
        shutil.copytree(
            EXAMPLE.parent / doc["runbooks"], path.parent / doc["runbooks"], dirs_exist_ok=True
        )
    return path
