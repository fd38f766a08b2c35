"""The outbox API and its claims on the real database: enqueue is idempotent by key, claims take
pages first, and a claim held by an engine that died is sent again at once (the same
idempotency key) when that engine was on this machine, once its heartbeat lapses when it was
elsewhere, and at the send deadline as the last safety net. A FakeClock drives it all."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example
from tests.scenario import TYPES, alertmanager, sms_only

from onduty import models as m
from onduty.clock import FakeClock
from onduty.config import Settings
from onduty.engine import Engine, deliver, instance
from onduty.engine.deliver import Prepared
from onduty.engine.instance import Identity
from onduty.notify import FakeChannel, outbox
from onduty.notify.outbox import BULK, PAGE, OutboxItem


@pytest.fixture
def world(
    client: TestClient, clock: FakeClock, session_factory: sessionmaker[Session]
) -> Iterator[None]:
    # An hour after Monday's handoff, so shift-start notices stay out of the way.
    clock.advance(timedelta(hours=1))
    apply_doc(session_factory, sms_only(example()))
    yield


def person_method(session: Session, person: str) -> tuple[int, str]:
    method = session.scalars(
        select(m.ContactMethod).where(m.ContactMethod.person_id == person)
    ).first()
    assert method is not None
    return method.id, method.type


def test_enqueue_is_idempotent_by_key(
    world: None, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    now = clock.now()
    with session_factory() as s, s.begin():
        method, channel = person_method(s, "asha")
        note = OutboxItem(
            key="k1",
            event="test",
            due_at=now,
            person_id="asha",
            contact_method_id=method,
            channel=channel,
        )
        call = OutboxItem(
            key="k2", event="http.post", due_at=now, target="http", payload={"url": "x"}
        )
        made = outbox.enqueue_many(s, [note, call], now=now)
        assert len(made) == 2
        assert outbox.enqueue_many(s, [note, call], now=now) == []
        assert outbox.enqueue(s, note, now=now) is None
    with session_factory() as s:
        rows = {r.rule_key: r for r in s.scalars(select(m.OutboxMessage))}
    assert set(rows) == {"k1", "k2"}
    assert (rows["k1"].priority, rows["k1"].person_id, rows["k1"].target) == (1, "asha", None)
    assert (rows["k2"].priority, rows["k2"].person_id, rows["k2"].target) == (1, None, "http")
    assert rows["k2"].payload == {"url": "x"}


def test_an_item_is_for_a_person_or_a_target_never_both(
    world: None, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    now = clock.now()
    with pytest.raises(ValueError, match="for a person needs"):
        OutboxItem(key="a", event="test", due_at=now, person_id="asha")
    with pytest.raises(ValueError, match="for a target"):
        OutboxItem(key="b", event="x", due_at=now, target="http", person_id="asha", payload={})
    # The database refuses it too, whoever writes the row.
    with session_factory() as s, s.begin():
        method, channel = person_method(s, "asha")
        row = OutboxItem(key="c", event="x", due_at=now, target="http", payload={"u": 1}).row(now)
        row.update(person_id="asha", contact_method_id=method, channel=channel)
        with pytest.raises(IntegrityError), s.begin_nested():
            s.execute(insert(m.OutboxMessage), [row])


def test_claims_take_pages_first_and_keep_senders_for_pages(
    world: None, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    start = clock.now()
    with session_factory() as s, s.begin():
        method, channel = person_method(s, "asha")
        mailing = [
            OutboxItem(
                key=f"sub{i}",
                event="status.update",
                due_at=start - timedelta(minutes=5),  # due long before the pages
                target="http",
                payload={"url": "http://127.0.0.1:9/"},
                priority=BULK,
            )
            for i in range(10)
        ]
        pages = [
            OutboxItem(
                key=f"page{i}",
                event="incident.triggered",
                due_at=start,
                person_id="asha",
                contact_method_id=method,
                channel=channel,
            )
            for i in range(3)
        ]
        outbox.enqueue_many(s, [*mailing, *pages], now=start)
    with session_factory() as s, s.begin():
        rows = outbox.claimable(s, now=start, limit=6, others=2)
        assert [r.rule_key for r in rows] == ["page0", "page1", "page2", "sub0", "sub1"]
        assert [r.priority for r in rows] == [PAGE] * 3 + [BULK] * 2
    with session_factory() as s, s.begin():
        # No room for anything but pages: the mailing waits, however long it has been due.
        assert outbox.claimable(s, now=start, limit=6, others=0)[3:] == []


# --- claims of engines that died -------------------------------------------------------------


def this_start() -> str:
    return instance.process_start(os.getpid())


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def new_page(
    client: TestClient, session_factory: sessionmaker[Session], engine: Engine, clock: FakeClock
) -> None:
    """An alert, and its first page queued (not sent) by `engine`'s escalation step."""
    with session_factory() as s:
        integration = s.scalars(
            select(m.Integration.key).where(
                m.Integration.service_id == "storefront", m.Integration.name == "prod-alerts"
            )
        ).one()
    answer = client.post(f"/integrations/{integration}", content=alertmanager("Down"))
    assert answer.status_code == 202
    assert engine.start_escalations(clock.now()) == 1


def claim_as(
    identity: Identity | str,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
) -> list[Prepared]:
    """Claim due rows as the engine `identity` (a heartbeat first, as a running engine has),
    and send nothing: that engine dies holding the claims."""
    with session_factory() as s, s.begin():
        if isinstance(identity, Identity):
            instance.renew(s, identity, now=clock.now(), ttl=timedelta(seconds=15))
        holder = identity.id if isinstance(identity, Identity) else identity
        return deliver.claim(s, now=clock.now(), settings=settings, claimed_by=holder)


@pytest.fixture
def fakes() -> dict[str, FakeChannel]:
    return {t: FakeChannel(t) for t in TYPES}


@pytest.fixture
def survivor(
    world: None,
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fakes: dict[str, FakeChannel],
) -> Engine:
    return Engine(settings, session_factory, clock, fakes, holder="test")


def pages_sent(fakes: dict[str, FakeChannel]) -> list[tuple[str, str]]:
    return [
        (sent.message.recipient, sent.message.idempotency_key)
        for fake in fakes.values()
        for sent in fake.take()
        if sent.message.event.startswith("incident.")
    ]


@pytest.mark.parametrize(
    "dead",
    [
        lambda: Identity("gone:1", instance.host_key(), dead_pid(), "1"),
        # The pid lives again, but as another process (as in a container restarted as pid 1).
        lambda: Identity("gone:2", instance.host_key(), os.getpid(), "1"),
    ],
    ids=["pid-exited", "pid-reused"],
)
def test_claims_of_an_engine_gone_from_this_machine_are_sent_again_at_once(
    dead: Callable[[], Identity],
    client: TestClient,
    survivor: Engine,
    fakes: dict[str, FakeChannel],
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    identity = dead()
    new_page(client, session_factory, survivor, clock)
    [held] = claim_as(identity, session_factory, settings, clock)
    assert held.message is not None
    survivor.tick()  # the same instant: no deadline has passed, no heartbeat has lapsed
    assert pages_sent(fakes) == [(held.message.recipient, held.message.idempotency_key)]
    with session_factory() as s:
        row = s.get(m.OutboxMessage, held.row_id)
        assert row is not None
        assert (row.status, row.attempts, row.claimed_by) == ("sent", 2, survivor.identity.id)
        kinds = list(s.scalars(select(m.TimelineEvent.kind).order_by(m.TimelineEvent.id)))
        assert kinds[-2:] == ["notify.uncertain", "notify.sent"]
        assert s.get(m.EngineInstance, identity.id) is None  # forgotten with its claims
    survivor.tick()
    assert pages_sent(fakes) == []


@pytest.mark.parametrize(
    "alive",
    [
        lambda: Identity("elsewhere:7", "another-host/boot/pid:[1]", 7, "100"),
        lambda: Identity("twin:1", instance.host_key(), os.getpid(), this_start()),
    ],
    ids=["another-machine", "live-process-here"],
)
def test_claims_of_a_live_engine_wait_for_its_heartbeat_to_lapse(
    alive: Callable[[], Identity],
    client: TestClient,
    survivor: Engine,
    fakes: dict[str, FakeChannel],
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    identity = alive()
    new_page(client, session_factory, survivor, clock)
    [held] = claim_as(identity, session_factory, settings, clock)
    for _ in range(14):  # its heartbeat (15 s) still holds: it may be sending right now
        clock.advance(timedelta(seconds=1))
        survivor.tick()
    assert pages_sent(fakes) == []
    clock.advance(timedelta(seconds=2))  # 16 s: lapsed, long before the 60 s deadline
    survivor.tick()
    assert held.message is not None
    assert pages_sent(fakes) == [(held.message.recipient, held.message.idempotency_key)]


def test_a_claim_past_its_deadline_is_sent_again_whoever_held_it(
    client: TestClient,
    survivor: Engine,
    fakes: dict[str, FakeChannel],
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    new_page(client, session_factory, survivor, clock)
    [held] = claim_as("never-seen", session_factory, settings, clock)  # no heartbeat row
    clock.advance(timedelta(seconds=59))
    survivor.tick()
    assert pages_sent(fakes) == []
    clock.advance(timedelta(seconds=2))
    survivor.tick()
    assert held.message is not None
    assert pages_sent(fakes) == [(held.message.recipient, held.message.idempotency_key)]


def test_a_late_outcome_from_a_claim_given_back_does_not_undo_the_newer_one(
    client: TestClient,
    survivor: Engine,
    fakes: dict[str, FakeChannel],
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    paused = Identity("paused:1", "another-host/boot/pid:[1]", 7, "100")
    new_page(client, session_factory, survivor, clock)
    [held] = claim_as(paused, session_factory, settings, clock)
    clock.advance(timedelta(seconds=16))
    survivor.tick()  # the paused engine's heartbeat lapsed: sent by the survivor
    assert len(pages_sent(fakes)) == 1
    # The paused engine wakes up and its provider failed: nothing changes, nothing falls through.
    failing = FakeChannel(held.via)
    failing.fail_next(permanent=True)
    now = clock.now()
    assert deliver.send(session_factory, {held.via: failing}, {}, held, now) == "superseded"
    with session_factory() as s:
        row = s.get(m.OutboxMessage, held.row_id)
        assert row is not None and row.status == "sent"
        assert s.scalar(select(m.OutboxMessage.id).where(m.OutboxMessage.id != row.id)) is None
