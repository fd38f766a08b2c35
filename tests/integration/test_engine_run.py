"""`Engine.run()` on the real clock: a step runs when it falls due, not at the next tick, and the
engine's threads stop when asked."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.test_policy_apply import apply_doc
from tests.policy_cases import example

from onduty import models as m
from onduty.clock import SystemClock
from onduty.config import Settings
from onduty.engine import Engine
from onduty.incidents import ingest as incident_ingest
from onduty.intake import Signal
from onduty.notify import FakeChannel


def test_a_step_runs_when_due_even_with_a_long_tick(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    apply_doc(session_factory, example())
    settings = settings.model_copy(update={"engine_tick": timedelta(seconds=30)})
    fakes = {t: FakeChannel(t) for t in ("email", "sms", "voice", "slack", "webhook")}
    engine = Engine(settings, session_factory, SystemClock(), fakes, holder="test")
    now = datetime.now(UTC)
    with session_factory() as session, session.begin():
        integration = session.scalars(
            select(m.Integration).where(m.Integration.service_id == "storefront")
        ).first()
        assert integration is not None
        signal = Signal(
            action="trigger",
            dedup_key="due-soon",
            summary="checkout is failing",
            severity="critical",
            labels={},
            details={},
            group_key=None,
            source=integration.type,
        )
        incident_id = incident_ingest.ingest(
            session, integration=integration, signals=[signal], now=now
        ).created[0]
    assert engine.start_escalations(now) == 1  # step 1 ran; step 2 is minutes away
    due = datetime.now(UTC) + timedelta(seconds=0.6)
    with session_factory() as session, session.begin():
        session.execute(
            update(m.EscalationState)
            .where(m.EscalationState.incident_id == incident_id)
            .values(next_at=due)
        )

    thread = threading.Thread(target=engine.run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        steps: list[int] = []
        while time.monotonic() < deadline and 1 not in steps:
            time.sleep(0.05)
            with session_factory() as session:
                steps = list(
                    session.scalars(
                        select(m.Notification.step).where(m.Notification.incident_id == incident_id)
                    )
                )
        with session_factory() as session:
            ran_at = session.scalar(
                select(m.Notification.created_at).where(
                    m.Notification.incident_id == incident_id, m.Notification.step == 1
                )
            )
    finally:
        engine.stop()
        thread.join(10)
    assert not thread.is_alive()
    assert ran_at is not None, "step 2 did not run within 10 s (the tick is 30 s)"
    assert timedelta(0) <= ran_at - due < timedelta(seconds=1)
