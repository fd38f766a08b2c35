"""SCENARIOS.md on onduty's model, with a FakeClock and one engine ticked by hand. Each test
ends with a quiet window: the whole log of sent messages is compared, so any extra message
fails it. Standard Acme policy: primary 5m, secondary 5m, L1 10m, L2 15m, L3 30m, repeat 1.
At the FakeClock's start (Mon 2026-11-30 10:00 IST) checkout's frontend is asha and its backend
ravi; L1 meera, L2 karan, L3 cto."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.policy_cases import example
from tests.scenario import World, sms_only

from onduty import models as m
from onduty.notify import models as ob


def policy(
    doc: dict[str, Any], steps: list[tuple[list[str], str]], repeat: int = 0
) -> dict[str, Any]:
    doc["escalation_policies"][0]["steps"] = [{"notify": t, "wait": w} for t, w in steps]
    doc["escalation_policies"][0]["repeat"] = repeat
    return doc


def test_s01_two_step_escalation_without_repeat(world: World) -> None:
    world.setup(policy(sms_only(example()), [(["person:asha"], "30m"), (["person:ravi"], "60m")]))
    world.alert("CheckoutDown")
    world.run_until(240)
    assert world.pages() == [(0, "sms", "asha"), (30, "sms", "ravi")]


def test_standard_policy_walks_primary_secondary_and_support_levels(world: World) -> None:
    world.setup(sms_only(example()))
    world.alert("CheckoutDown")
    world.run_until(200)
    # 5 + 5 + 10 + 15 + 30 = 65 minutes a cycle; repeat 1 runs it twice.
    assert world.pages() == [
        (0, "sms", "asha"),
        (5, "sms", "ravi"),
        (10, "sms", "meera"),
        (20, "sms", "karan"),
        (35, "sms", "cto"),
        (65, "sms", "asha"),
        (70, "sms", "ravi"),
        (75, "sms", "meera"),
        (85, "sms", "karan"),
        (100, "sms", "cto"),
    ]
    events = [e for _, _, _, e in world.log]
    assert events[0] == "incident.triggered" and set(events[1:]) == {"incident.escalated"}


def test_s02_acknowledge_stops_the_next_step_and_pending_rules(world: World) -> None:
    doc = policy(sms_only(example()), [(["person:asha"], "30m"), (["person:ravi"], "60m")])
    doc["people"][0]["notification_rules"] = [
        {"after": "0m", "via": "sms"},
        {"after": "20m", "via": "sms"},
    ]
    world.setup(doc)
    world.alert("CheckoutDown")
    world.run_until(3)
    world.act("CheckoutDown", "acknowledge")
    world.run_until(240)
    assert world.pages() == [(0, "sms", "asha")]
    with world.session_factory() as s:
        statuses = sorted(s.scalars(select(ob.OutboxMessage.status)))
    assert statuses == ["cancelled", "sent"]


def test_s03_repeat(world: World) -> None:
    world.setup(policy(sms_only(example()), [(["person:asha"], "10m")], repeat=5))
    world.alert("CheckoutDown")
    world.run_until(120)
    assert world.pages() == [(t, "sms", "asha") for t in (0, 10, 20, 30, 40, 50)]


def test_s06_resolve_cancels_everything(world: World) -> None:
    doc = policy(sms_only(example()), [(["person:asha"], "10m")], repeat=5)
    doc["people"][0]["notification_rules"] = [
        {"after": "0m", "via": "sms"},
        {"after": "30m", "via": "sms"},
    ]
    world.setup(doc)
    world.alert("CheckoutDown")
    world.run_until(2)
    world.alert("CheckoutDown", status="resolved")
    world.run_until(120)
    assert world.pages() == [(0, "sms", "asha")]


def test_s07_signal_after_resolve_pages_again_for_a_new_incident(world: World) -> None:
    world.setup(policy(sms_only(example()), [(["person:asha"], "60m")]))
    world.alert("DbDown")
    world.run_until(5)
    world.alert("DbDown", status="resolved")
    world.run_until(20)
    world.alert("DbDown")
    world.run_until(40)
    assert world.pages() == [(0, "sms", "asha"), (20, "sms", "asha")]


def test_s10_dedup_and_scope_per_service(world: World) -> None:
    world.setup(sms_only(example()))
    world.alert("Foo", fp="foo")
    world.alert("Foo", fp="foo")
    world.alert("Foo", service="search", fp="foo")
    world.run_until(1)
    assert sorted(world.pages()) == [(0, "sms", "asha"), (0, "sms", "sana")]


def test_s14_a_close_cancels_only_that_alerts_delayed_rules(world: World) -> None:
    doc = policy(sms_only(example()), [(["person:asha"], "60m")])
    doc["people"][0]["notification_rules"] = [
        {"after": "0m", "via": "sms"},
        {"after": "30m", "via": "sms"},
    ]
    world.setup(doc)
    for name in ("One", "Two", "Three"):
        world.alert(name)
    world.run_until(1)
    world.alert("Two", status="resolved")
    world.alert("Three", status="resolved")
    world.run_until(45)
    assert world.pages() == [(0, "sms", "asha")] * 3 + [(30, "sms", "asha")]


def test_s24_primary_then_secondary_and_ack_before_secondary(world: World) -> None:
    world.setup(policy(sms_only(example()), [(["primary"], "5m"), (["secondary"], "10m")]))
    world.alert("Slow")
    world.run_until(60)
    assert world.pages() == [(0, "sms", "asha"), (5, "sms", "ravi")]


def test_s25_several_people_on_one_step(world: World) -> None:
    world.setup(policy(sms_only(example()), [(["L1", "L2", "L3"], "30m")]))
    world.alert("Everyone")
    world.run_until(20)
    assert sorted(world.pages()) == [(0, "sms", "cto"), (0, "sms", "karan"), (0, "sms", "meera")]


def test_s26_immediate_and_delayed_contact_methods(world: World) -> None:
    doc = policy(sms_only(example()), [(["person:asha"], "120m")])
    doc["people"][0]["notification_rules"] = [
        {"after": "0m", "via": "sms"},
        {"after": "0m", "via": "voice"},
        {"after": "30m", "via": "sms"},
    ]
    world.setup(doc)
    world.alert("A")
    world.run_until(90)
    assert sorted(world.pages()) == [(0, "sms", "asha"), (0, "voice", "asha"), (30, "sms", "asha")]


def test_s29_missed_ticks_collapse(world: World) -> None:
    doc = policy(sms_only(example()), [(["person:asha"], "60m")])
    doc["people"][0]["notification_rules"] = [
        {"after": "1m", "via": "sms"},
        {"after": "2m", "via": "sms"},
    ]
    world.setup(doc)
    world.alert("A")
    world.clock.advance(timedelta(minutes=3))  # the engine was paused
    world.tick()
    world.run_until(20)
    assert world.pages() == [(3, "sms", "asha"), (3, "sms", "asha")]
    # Two rules, two messages: each rule fires once, however many ticks were missed.


def test_s32_two_acknowledgements_at_once(world: World) -> None:
    world.setup(policy(sms_only(example()), [(["L1", "L2"], "5m"), (["L3"], "5m")]))
    world.alert("A")
    incident = world.incident_id("A")
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def ack() -> None:
        barrier.wait()
        codes.append(
            world.client.post(
                f"/api/v1/incidents/{incident}/acknowledge", headers=world.auth
            ).status_code
        )

    threads = [threading.Thread(target=ack) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) in ([200, 200], [200, 409])
    world.run_until(30)
    assert sorted(world.pages()) == [(0, "sms", "karan"), (0, "sms", "meera")]
    detail = world.client.get(f"/api/v1/incidents/{incident}", headers=world.auth).json()
    acks = [e for e in detail["timeline"] if e["kind"] in ("acknowledged", "incident.acknowledged")]
    assert len(acks) == 1


def test_s38_nobody_on_call_falls_through_and_says_why(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    world.setup(
        policy(sms_only(example()), [(["slot:catalog/frontend"], "5m"), (["person:asha"], "5m")])
    )
    with session_factory() as s, s.begin():
        s.add(
            m.TimeOff(
                person_id="priya",
                start=world.clock.now() - timedelta(days=1),
                end=world.clock.now() + timedelta(days=1),
            )
        )
        s.add(
            m.TimeOff(
                person_id="dev",
                start=world.clock.now() - timedelta(days=1),
                end=world.clock.now() + timedelta(days=1),
            )
        )
    world.alert("A")
    world.run_until(30)
    assert world.pages() == [(0, "sms", "asha")]
    detail = world.client.get(
        f"/api/v1/incidents/{world.incident_id('A')}", headers=world.auth
    ).json()
    assert any(e["kind"] == "escalation.nobody" for e in detail["timeline"])


def test_s39_transient_errors_retry_then_fall_through(world: World) -> None:
    world.setup(policy(sms_only(example()), [(["person:asha"], "60m")]))
    world.fakes["sms"].fail_next(3)
    world.alert("A")
    world.run_until(10)
    # Three attempts (t=0, +10 s, +40 s), then the next contact method of asha's: e-mail.
    assert world.pages() == [(1, "email", "asha")] or world.pages() == [(0, "email", "asha")]
    assert world.fakes["sms"].attempts == 3


def test_s39_permanent_error_falls_through_at_once(world: World) -> None:
    world.setup(policy(sms_only(example()), [(["person:asha"], "60m")]))
    world.fakes["sms"].fail_next(1, permanent=True, reason="21211 invalid number")
    world.alert("A")
    world.run_until(5)
    assert world.pages() == [(0, "email", "asha")]
    detail = world.client.get(
        f"/api/v1/incidents/{world.incident_id('A')}", headers=world.auth
    ).json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert "notify.failed" in kinds and "notify.fallthrough" in kinds


def test_s35_sms_throttle_delays_never_drops(world: World) -> None:
    world.setup(policy(sms_only(example()), [(["person:asha"], "600m")]))
    for i in range(8):
        world.alert(f"Flood{i}")
    world.run_until(40)
    times = [t for t, kind, _ in world.pages() if kind == "sms"]
    assert times == [0] * 5 + [15] * 3


def test_s40_policy_is_a_snapshot_taken_when_escalation_starts(world: World) -> None:
    doc = policy(sms_only(example()), [(["person:asha"], "30m"), (["person:ravi"], "30m")])
    world.setup(doc)
    world.alert("A")
    world.run_until(1)
    changed = policy(sms_only(example()), [(["person:neha"], "60m")])
    from tests.integration.test_policy_apply import apply_doc

    apply_doc(world.session_factory, changed)
    world.run_until(45)
    # The open incident keeps the policy it started with; a new one uses the new policy.
    world.alert("B")
    world.run_until(50)
    assert world.pages() == [(0, "sms", "asha"), (30, "sms", "ravi"), (45, "sms", "neha")]


def test_manual_escalation_runs_the_next_step_now(world: World) -> None:
    world.setup(policy(sms_only(example()), [(["person:asha"], "30m"), (["person:ravi"], "30m")]))
    world.alert("A")
    world.run_until(2)
    world.act("A", "escalate")
    world.run_until(20)
    assert world.pages() == [(0, "sms", "asha"), (2, "sms", "ravi")]


def test_every_notification_is_recorded_once(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    world.setup(sms_only(example()))
    world.alert("A")
    world.run_until(12)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(m.Notification)) == 3
