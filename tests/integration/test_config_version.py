"""Reference data kept between transactions (db/config_version.py), told as an operator would:
another process changes the configuration while an incident escalates here, and the very next
step or alert uses the change. Each change is made by a real second process (`onduty policy
apply`, or a Python process making an override), whose commit bumps the configuration version
this process reads once per transaction."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from tests.integration.test_escalation_scenarios import policy
from tests.policy_cases import example, person, write_policy
from tests.scenario import World, sms_only

from onduty import models as m
from onduty.db import config_version


def in_another_process(db_url: str, *args: str, code: str | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
    env.update(ONDUTY_DATABASE_URL=db_url, ONDUTY_SECRET_KEY="another-process-secret-0123456789")
    if code is not None:
        argv = [sys.executable, "-c", textwrap.dedent(code)]
    else:
        argv = [str(Path(sys.executable).parent / "onduty"), *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def apply_elsewhere(db_url: str, doc: dict[str, Any], tmp_path: Path) -> None:
    path = write_policy(doc, tmp_path / "policy.yaml")
    in_another_process(db_url, "policy", "apply", str(path))


def test_an_override_made_in_another_process_is_paged_at_the_very_next_step(
    world: World, db_url: str
) -> None:
    world.setup(policy(sms_only(example()), [(["primary"], "5m"), (["primary"], "5m")]))
    world.alert("CheckoutDown")  # storefront is frontend: asha is its primary this week
    start = world.clock.now()
    in_another_process(
        db_url,
        code=f"""
        from datetime import datetime
        from onduty.db import make_engine, make_session_factory
        from onduty.schedules import service
        factory = make_session_factory(make_engine({db_url!r}))
        with factory() as session, session.begin():
            service.create_override(
                session, team_id="checkout", slot="frontend", person_id="neha",
                start=datetime.fromisoformat({start.isoformat()!r}),
                end=datetime.fromisoformat({(start + timedelta(hours=1)).isoformat()!r}),
                now=datetime.fromisoformat({start.isoformat()!r}), created_by="boss",
            )
        """,
    )
    world.run_until(6)
    assert world.pages() == [(0, "sms", "asha"), (5, "sms", "neha")]


def test_notification_rules_changed_in_another_process_apply_to_the_next_step(
    world: World, db_url: str, tmp_path: Path
) -> None:
    doc = policy(sms_only(example()), [(["person:asha"], "5m"), (["person:asha"], "5m")])
    world.setup(doc)
    world.alert("CheckoutDown")  # asha's rules (SMS at once) are now kept by this process
    person(doc, "asha")["notification_rules"] = [{"after": "0m", "via": "email"}]
    apply_elsewhere(db_url, doc, tmp_path)
    world.run_until(6)
    assert world.pages() == [(0, "sms", "asha"), (5, "email", "asha")]


def test_triage_rules_changed_in_another_process_apply_to_the_next_alert(
    world: World, db_url: str, tmp_path: Path
) -> None:
    doc = sms_only(example())
    world.setup(doc)
    world.alert("DiskFilling", severity="warning")
    doc["criticality_rules"].insert(0, {"when": {"severity": ["warning"]}, "priority": "P1"})
    apply_elsewhere(db_url, doc, tmp_path)
    world.alert("DiskFull", severity="warning")
    with world.session_factory() as session:
        priorities = dict(session.execute(select(m.Incident.title, m.Incident.priority)).all())
    assert priorities["DiskFilling is failing"] != "P1"
    assert priorities["DiskFull is failing"] == "P1"


def test_a_rolled_back_change_is_never_kept_under_a_version_others_see(world: World) -> None:
    world.setup(sms_only(example()))
    with world.session_factory() as session:
        before = config_version.current(session)
    with world.session_factory() as session:
        session.begin()
        config_version.bump(session)
        session.execute(select(m.CriticalityRule).limit(1))
        config_version.configured(session, "test.value", None, lambda: "uncommitted")
        session.rollback()
    with world.session_factory() as session, session.begin():
        assert config_version.current(session) == before
        config_version.bump(session)  # the same number the rolled-back bump had
    with world.session_factory() as session:
        got = config_version.configured(session, "test.value", None, lambda: "committed")
    assert got == "committed"
