"""The loader: strict schema, every error at once, each with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.policy_cases import EXAMPLE

from onduty.policy import PolicyError, load_file, parse_text

BROKEN = """\
version: 1
organization:
  name: Acme
  timezone: Mars/Base
  ack_timeout: 5x
  working_hours: {days: [mon, funday], start: "9am", end: "18:00"}
people:
  - id: asha
    name: Asha
    phone: +15550100001
    colour: red
  - id: Bad Id
  - id: ravi
    name: Ravi
    phone: "555-0100"
    email: not-an-email
teams:
  - id: checkout
    name: Checkout
    rota:
      handoff: {day: mon, time: "25:00"}
      start: 2026-13-01
      length: 36h
      slots: {frontend: [asha]}
services:
  - {id: s, name: S, team: checkout, integrations: [{id: x, type: nagios}]}
escalation_policies:
  - {id: std, steps: [{notify: [boss], wait: 5m}]}
"""


def messages(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_text(text)
    return [p.format("p.yaml") for p in info.value.problems]


def test_every_error_is_reported_at_once_with_its_line() -> None:
    got = messages(BROKEN)
    expected = [
        "p.yaml:4: organization.timezone: 'Mars/Base' is not an IANA time zone",
        "p.yaml:5: organization.ack_timeout: '5x' is not a duration",
        "p.yaml:6: organization.working_hours.days[1]: 'funday' is not a weekday",
        "p.yaml:6: organization.working_hours.start: '9am' is not a time of day",
        "p.yaml:10: people[0].phone: must be a string, got 15550100001; quote it in YAML",
        "p.yaml:11: unknown key 'colour' in people[0]",
        "p.yaml:12: people[1].id: 'Bad Id' is not a valid id",
        "p.yaml:12: missing required key 'name' in people[1]",
        "p.yaml:15: people[2].phone: '555-0100' is not an E.164 phone number",
        "p.yaml:16: people[2].email: 'not-an-email' is not an e-mail address",
        "p.yaml:21: teams[0].rota.handoff.time: '25:00' is not a time of day",
        "p.yaml:22: teams[0].rota.start: '2026-13-01' is not a date",
        "p.yaml:23: teams[0].rota.length: rota length must be a whole number of days",
        "p.yaml:26: services[0].integrations[0].type: 'nagios' is not allowed",
        "p.yaml:28: escalation_policies[0].steps[0].notify[0]: 'boss' is not a target",
    ]
    for want in expected:
        assert any(g.startswith(want) for g in got), (want, got)
    assert len(got) == len(expected), got


def test_invalid_yaml_is_one_line_with_its_line_number() -> None:
    got = messages("version: 1\norganization:\n  name: [unclosed\n")
    assert len(got) == 1, got
    assert got[0].split(": invalid YAML")[0] in ("p.yaml:3", "p.yaml:4"), got


def test_duplicate_keys_are_errors() -> None:
    got = messages("version: 1\norganization: {name: A}\norganization: {name: B}\n")
    assert got == ["p.yaml:3: duplicate key 'organization' in (document)"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "p.yaml:1: the file is empty"),
        ("- 1\n- 2\n", "p.yaml:1: the top level must be a mapping"),
        ("version: 2\norganization: {name: A}\n", "p.yaml:1: version: 2 is not allowed"),
        ("organization: {name: A}\n", "p.yaml:1: missing required key 'version' in (document)"),
    ],
)
def test_document_level_errors(text: str, message: str) -> None:
    got = messages(text)
    assert got and got[0].startswith(message), got


def test_missing_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_file(tmp_path / "nope.yaml")
    assert [p.message for p in info.value.problems] == [
        "cannot read the file: No such file or directory"
    ]


def test_the_example_policy_loads() -> None:
    policy, lines = load_file(EXAMPLE)
    assert [t.id for t in policy.teams] == ["checkout", "catalog"]
    assert policy.teams[0].rota is not None
    assert list(policy.teams[0].rota.slots) == ["frontend", "backend"]
    assert lines.of(("teams", 0, "rota", "slots", "backend")) > lines.of(("teams", 0, "id"))


def test_slot_long_form_with_windows() -> None:
    text = EXAMPLE.read_text().replace(
        "frontend: [asha, neha]",
        "frontend: {people: [asha, neha], "
        'windows: [{days: [mon, tue], start: "09:00", end: "19:00"}]}',
    )
    policy, _ = parse_text(text)
    assert policy.teams[0].rota is not None
    slot = policy.teams[0].rota.slots["frontend"]
    assert slot.people == ["asha", "neha"] and slot.windows[0].days == ["mon", "tue"]
