"""apply makes the database match the file, idempotently; export round-trips."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.policy_cases import NOW, example

from onduty import models as m
from onduty.policy import apply_policy, export_yaml, lint, parse_text


def apply_doc(session_factory: sessionmaker[Session], doc: dict[str, Any]) -> list[str]:
    policy, _ = parse_text(yaml.safe_dump(doc, sort_keys=False))
    with session_factory() as session, session.begin():
        return apply_policy(session, policy)


def export(session_factory: sessionmaker[Session]) -> str:
    with session_factory() as session:
        return export_yaml(session)


def test_apply_creates_then_reports_no_changes(session_factory: sessionmaker[Session]) -> None:
    first = apply_doc(session_factory, example())
    assert "created person asha" in first
    assert "created team checkout" in first
    assert "created service storefront" in first
    assert "created escalation policy standard" in first
    assert apply_doc(session_factory, example()) == []
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(m.Person)) == 12
        assert all(p.managed for p in s.scalars(select(m.Person)))
        asha = s.get(m.Person, "asha")
        assert asha is not None
        assert [(r.after_s, r.contact_method.type) for r in asha.notification_rules] == [
            (0, "slack"),
            (60, "sms"),
            (180, "voice"),
        ]
        rota = s.get(m.Rota, "checkout")
        assert rota is not None
        assert [(sl.name, [p.person_id for p in sl.people]) for sl in rota.slots] == [
            ("frontend", ["asha", "neha"]),
            ("backend", ["ravi", "arjun"]),
        ]


def test_apply_reports_changes_and_removals(session_factory: sessionmaker[Session]) -> None:
    apply_doc(session_factory, example())
    doc = example()
    doc["people"][0]["name"] = "Asha R."
    doc["services"] = [s for s in doc["services"] if s["id"] != "search"]
    doc["teams"][0]["rota"]["slots"]["backend"] = ["arjun", "ravi"]
    changes = apply_doc(session_factory, doc)
    assert "changed person asha (name)" in changes
    assert "changed team checkout (rota)" in changes
    assert "removed service search" in changes
    assert len(changes) == 3
    with session_factory() as s:
        assert s.get(m.Service, "search") is None
    assert apply_doc(session_factory, doc) == []


def test_generated_integration_keys_are_kept(session_factory: sessionmaker[Session]) -> None:
    doc = example()
    del doc["services"][2]["integrations"][0]["key"]
    apply_doc(session_factory, doc)
    with session_factory() as s:
        key = s.scalars(select(m.Integration.key).where(m.Integration.service_id == "search")).one()
    assert len(key) == 32
    assert apply_doc(session_factory, doc) == []
    with session_factory() as s:
        again = s.scalars(
            select(m.Integration.key).where(m.Integration.service_id == "search")
        ).one()
    assert again == key


def test_objects_not_made_by_the_policy_are_left_alone(
    session_factory: sessionmaker[Session],
) -> None:
    apply_doc(session_factory, example())
    with session_factory() as s, s.begin():
        s.add(m.Person(id="contractor", name="C", email="c@x.io", managed=False))
    assert apply_doc(session_factory, example()) == []
    with session_factory() as s:
        assert s.get(m.Person, "contractor") is not None


def test_overrides_and_time_off_are_applied_in_the_team_zone(
    session_factory: sessionmaker[Session],
) -> None:
    doc = example()
    doc["overrides"] = [
        {
            "team": "checkout",
            "slot": "backend",
            "person": "arjun",
            "start": "2026-12-02T18:00",
            "end": "2026-12-03T09:00",
        }
    ]
    doc["time_off"] = [{"person": "neha", "start": "2026-12-10T00:00", "end": "2026-12-12T00:00"}]
    changes = apply_doc(session_factory, doc)
    assert "created override checkout/backend arjun 2026-12-02 12:30Z" in changes
    assert "created time off neha 2026-12-09 18:30Z" in changes
    assert apply_doc(session_factory, doc) == []
    doc["overrides"] = []
    assert apply_doc(session_factory, doc) == [
        "removed override checkout/backend arjun 2026-12-02 12:30Z"
    ]


def test_export_lints_clean_and_applies_as_no_changes(
    session_factory: sessionmaker[Session],
) -> None:
    doc = example()
    doc["overrides"] = [
        {
            "team": "checkout",
            "slot": "backend",
            "person": "arjun",
            "start": "2026-12-02T18:00",
            "end": "2026-12-03T09:00",
            "reason": "swap",
        }
    ]
    apply_doc(session_factory, doc)
    text = export(session_factory)
    policy, lines = parse_text(text)
    assert lint(policy, lines, now=NOW) == []
    with session_factory() as session, session.begin():
        assert apply_policy(session, policy) == []
    assert export(session_factory) == text


def test_a_failed_apply_leaves_the_database_untouched(
    session_factory: sessionmaker[Session],
) -> None:
    apply_doc(session_factory, example())
    before = export(session_factory)
    doc = example()
    doc["people"][0]["name"] = "Changed"
    doc["services"][0]["team"] = "no-such-team"  # the foreign key fails at flush
    policy, _ = parse_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        with session_factory() as session, session.begin():
            apply_policy(session, policy)
    except Exception as exc:
        assert "foreign key" in str(exc).lower() or "FOREIGN KEY" in str(exc)
    else:
        raise AssertionError("apply should have failed")
    assert export(session_factory) == before


def test_export_leaves_integration_keys_out_unless_asked_and_apply_keeps_them(
    session_factory: sessionmaker[Session],
) -> None:
    """The exported file is meant for version control, so it holds no integration key; applying
    it (or the original file with its keys removed) keeps every stored key."""
    apply_doc(session_factory, example())

    def keys() -> dict[tuple[str, str], str]:
        with session_factory() as s:
            return {(g.service_id, g.name): g.key for g in s.scalars(select(m.Integration))}

    stored = keys()
    assert len(stored) == 7
    text = export(session_factory)
    assert not any(key in text for key in stored.values())
    assert all(
        set(g) >= {"id", "type"} and "key" not in g
        for s in yaml.safe_load(text)["services"]
        for g in s["integrations"]
    )
    with session_factory() as s:
        full = export_yaml(s, with_keys=True)
    assert all(key in full for key in stored.values())
    policy, _ = parse_text(text)
    with session_factory() as session, session.begin():
        assert apply_policy(session, policy) == []
    assert keys() == stored
