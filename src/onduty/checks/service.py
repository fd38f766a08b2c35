"""Daily checks at run time: checklists falling due (assigned to the on-call people, ticked by
them, an alert when missed), heartbeats (pings, an alert when late that resolves at the next
ping) and http probes (an alert after `failures` failures in a row, resolved on recovery).

Alerts go through the normal intake (`incidents.ingest`): dedup by a key per check and period,
the criticality rules (channel `check`, labels `check` and `check_type`), escalation. Services
take a session and `now`, flush, and never commit; the engine's job runs under the lease."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.audit import service as audit
from onduty.checks import schedule
from onduty.checks.models import Check, CheckRun
from onduty.checks.probe import Outcome, Probe
from onduty.db import dialect
from onduty.errors import InvalidInput, NotFound
from onduty.incidents import ingest
from onduty.intake.signal import Signal
from onduty.notify.notices import notice
from onduty.schedules import service as schedules_service
from onduty.services.models import Integration, Service
from onduty.slack import threads as slack_threads

_RUNS = cast(Table, CheckRun.__table__)
_CHECKS = cast(Table, Check.__table__)
_PING_READ = select(_CHECKS.c.id, _CHECKS.c.state, _CHECKS.c.spec).where(
    _CHECKS.c.key == bindparam("key"), _CHECKS.c.type == "heartbeat"
)
_PING_WRITE = (
    update(_CHECKS)
    .where(_CHECKS.c.id == bindparam("check"))
    .values(last_ping_at=bindparam("now"), pings=_CHECKS.c.pings + 1, next_due_at=bindparam("due"))
)
CHANNEL = "check"  # the alerts' channel, for criticality rules
SEVERITY = {"checklist": "warning", "heartbeat": "error", "http": "error"}


# --- where a check belongs --------------------------------------------------------------------


def team_and_service(session: Session, check: Check) -> tuple[str | None, str | None]:
    """The check's team (its own, else its service's) and the service its alerts go to (its
    own, else the team's first service by id)."""
    if check.service_id is not None:
        service = session.get(Service, check.service_id)
        return (check.team_id or (service.team_id if service else None)), check.service_id
    first = session.scalars(
        select(Service.id).where(Service.team_id == check.team_id).order_by(Service.id)
    ).first()
    return check.team_id, first


def _zone(session: Session, team_id: str | None) -> str:
    organization, teams = schedules_service.time_zones(session)
    return teams.get(team_id, organization) if team_id else organization


def _history(
    session: Session, check: Check, kind: str, now: datetime, *, key: str | None = None, **kw: Any
) -> bool:
    """Append to the check's history; with a `key`, once only (False if written before)."""
    row = {"check_id": check.id, "at": now, "kind": kind, "key": key, "ok": True, **kw}
    if key is None:
        session.execute(_RUNS.insert(), [row])
        return True
    made = session.execute(dialect.insert_new(session, _RUNS).returning(CheckRun.id), [row])
    return made.first() is not None


def _alert(
    session: Session, check: Check, action: str, suffix: str, summary: str, now: datetime
) -> None:
    """A trigger or resolve signal for the check's service, through the normal intake. The
    integration is a transient object (never stored): it names the sender and the channel."""
    _team, service_id = team_and_service(session, check)
    if service_id is None or session.get(Service, service_id) is None:
        return  # lint refuses this; a check of a removed service raises nothing
    sender = Integration(
        name=f"check:{check.id}", type=CHANNEL, service_id=service_id, auto_resolve=True
    )
    signal = Signal(
        action="trigger" if action == "trigger" else "resolve",
        dedup_key=f"check:v1:{check.id}:{suffix}",
        summary=summary,
        source=CHANNEL,
        severity=SEVERITY[check.type],  # type: ignore[arg-type]
        labels={"check": check.id, "check_type": check.type},
    )
    ingest.ingest_many(session, [(sender, [signal])], now=now)


def _set_state(check: Check, state: str, now: datetime) -> None:
    if check.state != state:
        check.state, check.state_since = state, now


# --- the engine's job -------------------------------------------------------------------------


def run_due(session: Session, *, now: datetime) -> int:
    """Checklists due or missed and heartbeats late, as of `now`; returns how many things
    happened. Once-only per period by the history's unique keys."""
    count = 0
    for check in session.scalars(select(Check).where(Check.type == "checklist")):
        count += _checklist(session, check, now)
    late = select(Check).where(
        Check.type == "heartbeat",
        Check.state != "failing",
        Check.next_due_at.is_not(None),
        Check.next_due_at <= now,
    )
    for check in session.scalars(dialect.lock(session, late)):
        _set_state(check, "failing", now)
        period = timedelta(seconds=check.spec["every_s"] + check.spec["grace_s"])
        last = check.last_ping_at
        _history(session, check, "late", now, ok=False, detail={"last_ping": _iso(last)})
        _alert(
            session,
            check,
            "trigger",
            "late",
            f"Heartbeat {check.id} is late: no ping "
            + (f"since {last:%Y-%m-%d %H:%M}Z" if last else "yet")
            + f" (expected every {_span(period)})",
            now,
        )
        count += 1
    # New or changed heartbeats and http checks: schedule them from now.
    for check in session.scalars(
        select(Check).where(Check.type != "checklist", Check.next_due_at.is_(None))
    ):
        spec = check.spec
        if check.type == "heartbeat":
            start = max(check.last_ping_at or now, now) if check.state == "failing" else now
            check.next_due_at = start + timedelta(seconds=spec["every_s"] + spec["grace_s"])
        else:
            check.next_due_at = now
    session.flush()
    return count


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _span(delta: timedelta) -> str:
    from onduty.durations import format_duration

    return format_duration(delta)


def _checklist(session: Session, check: Check, now: datetime) -> int:
    team_id, _service = team_and_service(session, check)
    zone = _zone(session, team_id)
    count = 0
    # Two days back: an engine that was down a day still records the misses once.
    for occ in schedule.occurrences(
        check.spec, zone, now - timedelta(days=2), now + timedelta(microseconds=1)
    ):
        day = occ.day.isoformat()
        people = _on_call(session, team_id, occ.due)
        if _history(
            session,
            check,
            "due",
            now,
            key=f"due:{check.id}:{day}",
            day=occ.day,
            detail={"assignees": people, "deadline": occ.deadline.isoformat()},
        ):
            count += 1
            if now < occ.deadline:
                text = (
                    f"Daily check {check.id} is due by {localtime.stamp(occ.deadline, zone)}: "
                    + "; ".join(check.spec["items"])
                )
                for person in people:
                    notice(
                        session,
                        person_id=person,
                        key=f"check:{check.id}:{day}:{person}",
                        event="oncall.check_due",
                        text=text,
                        now=now,
                    )
                who = ", ".join(people) or "nobody on call"
                slack_threads.post_to_channel(  # the team's channel, if it has one
                    session,
                    team_id=team_id or "",
                    text=f":ballot_box_with_check: {text} ({who})",
                    key=f"check:{check.id}:{day}",
                    now=now,
                )
        if now < occ.deadline or _done(session, check, occ.day):
            continue
        if _history(
            session, check, "missed", now, key=f"missed:{check.id}:{day}", day=occ.day, ok=False
        ):
            count += 1
            _set_state(check, "failing", now)
            left = [i for i in check.spec["items"] if i not in _ticked(session, check, occ.day)]
            _alert(
                session,
                check,
                "trigger",
                day,
                f"Daily check {check.id} of {day} not done by its deadline: " + "; ".join(left),
                now,
            )
    return count


def _on_call(session: Session, team_id: str | None, at: datetime) -> list[str]:
    """The people on call in the team at `at` (every slot): a checklist's assignees."""
    if team_id is None:
        return []
    try:
        rows = schedules_service.on_call_at(session, at=at, team_id=team_id)
    except NotFound:
        return []  # a team without a rota
    return sorted({r.person for r in rows if r.person})


def _ticked(session: Session, check: Check, day: Any) -> set[str]:
    return set(
        session.scalars(
            select(CheckRun.item).where(
                CheckRun.check_id == check.id, CheckRun.day == day, CheckRun.kind == "tick"
            )
        )
    )


def _done(session: Session, check: Check, day: Any) -> bool:
    return (
        session.scalars(
            select(CheckRun.id).where(
                CheckRun.check_id == check.id, CheckRun.day == day, CheckRun.kind == "done"
            )
        ).first()
        is not None
    )


def claim_probes(session: Session, *, now: datetime, limit: int = 200) -> list[Probe]:
    """Http checks due to be probed; each is moved on to its next probe time in this
    transaction, so a probe still running is not claimed again."""
    due = dialect.claim(
        session,
        select(Check)
        .where(Check.type == "http", Check.next_due_at <= now)
        .order_by(Check.next_due_at)
        .limit(limit),
    )
    probes = []
    for check in session.scalars(due):
        spec = check.spec
        check.next_due_at = now + timedelta(seconds=spec["every_s"])
        probes.append(
            Probe(
                check.id, spec["url"], spec["timeout_s"], spec["expect_status"], spec["expect_body"]
            )
        )
    session.flush()
    return probes


def record_probe(session: Session, outcome: Outcome, *, now: datetime) -> None:
    """A probe's outcome: the failures in a row counted, an alert at the check's `failures`-th,
    resolved by the first success after it. Failures and recoveries go in the history."""
    check = session.scalars(
        dialect.lock(session, select(Check).where(Check.id == outcome.check_id))
    ).first()
    if check is None or check.type != "http":
        return  # removed by a policy apply meanwhile
    check.last_run_at = now
    detail = {"status": outcome.status, "seconds": round(outcome.seconds, 3)}
    if outcome.ok:
        check.failures = 0
        if check.state == "failing":
            _history(session, check, "recovered", now, detail=detail)
            _alert(session, check, "resolve", "down", f"{check.id} recovered", now)
        _set_state(check, "ok", now)
        return
    check.failures += 1
    _history(session, check, "failed", now, ok=False, detail={**detail, "reason": outcome.reason})
    if check.failures >= check.spec["failures"] and check.state != "failing":
        _set_state(check, "failing", now)
        _alert(
            session,
            check,
            "trigger",
            "down",
            f"{check.id} failing: {outcome.reason} ({check.failures} times in a row, "
            f"{check.spec['url']})",
            now,
        )


# --- heartbeats and ticks ---------------------------------------------------------------------


def ping(session: Session, *, key: str, now: datetime) -> None:
    """A heartbeat's ping. Unknown key: NotFound, and nothing is written. Two statements when
    on time (read, update); a late one's recovery also resolves its alert."""
    # Core statements on the connection: this is the hot path of 1,000 heartbeats every 10 s.
    conn = session.connection()
    row = conn.execute(_PING_READ, {"key": key}).first()
    if row is None:
        raise NotFound("no heartbeat with this key", "key")
    check_id, state, spec = row
    conn.execute(
        _PING_WRITE,
        {
            "check": check_id,
            "now": now,
            "due": now + timedelta(seconds=spec["every_s"] + spec["grace_s"]),
        },
    )
    if state != "ok":
        check = session.get(Check, check_id)
        assert check is not None
        if state == "failing":
            _history(session, check, "recovered", now)
            _alert(session, check, "resolve", "late", f"Heartbeat {check_id} pinged again", now)
        _set_state(check, "ok", now)
        session.flush()


def _find_item(items: list[str], item: str) -> str:
    if item in items:
        return item
    if item.isdigit() and 1 <= int(item) <= len(items):
        return items[int(item) - 1]
    raise InvalidInput(
        f"no item {item!r}; items: " + "; ".join(f"{n}. {i}" for n, i in enumerate(items, 1)),
        "item",
    )


def tick(
    session: Session, *, check_id: str, item: str, actor: str, now: datetime
) -> dict[str, Any]:
    """Tick an item (its text or its number from 1) of the checklist's current occurrence.
    Ticking the last one marks the occurrence done (and resolves its alert if it was missed).
    A tick already made changes nothing and is not audited again."""
    check = session.get(Check, check_id)
    if check is None:
        raise NotFound(f"no check with id {check_id!r}", "id")
    if check.type != "checklist":
        raise InvalidInput(
            f"check {check_id!r} is a {check.type} check; only checklists are ticked", "id"
        )
    team_id, _ = team_and_service(session, check)
    occ = schedule.current(check.spec, _zone(session, team_id), now)
    assert occ is not None
    items: list[str] = check.spec["items"]
    text = _find_item(items, item)
    day = occ.day.isoformat()
    made = _history(
        session,
        check,
        "tick",
        now,
        key=f"tick:{check.id}:{day}:{items.index(text)}",
        day=occ.day,
        item=text,
        actor=actor,
        detail={"late": now > occ.deadline},
    )
    if made:
        audit.record(
            session,
            actor=actor,
            action="check.tick",
            object_type="check",
            object_id=check.id,
            at=now,
            after={"day": day, "item": text},
        )
        if _ticked(session, check, occ.day) >= set(items):
            _history(session, check, "done", now, key=f"done:{check.id}:{day}", day=occ.day)
            _set_state(check, "ok", now)
            missed = session.scalars(
                select(CheckRun.id).where(CheckRun.key == f"missed:{check.id}:{day}")
            ).first()
            if missed is not None:
                _alert(session, check, "resolve", day, f"Daily check {check.id} done", now)
    session.flush()
    return check_doc(session, check, now=now, base_url="")


# --- reads ------------------------------------------------------------------------------------


def check_doc(session: Session, check: Check, *, now: datetime, base_url: str) -> dict[str, Any]:
    """A check as the API shows it (SPEC §6.4: id, type, state, ping_url for heartbeats)."""
    team_id, service_id = team_and_service(session, check)
    doc: dict[str, Any] = {
        "id": check.id,
        "type": check.type,
        "team": team_id,
        "service": service_id,
        "state": check.state,
        "state_since": _iso(check.state_since),
    }
    if check.type == "heartbeat":
        doc |= {
            "ping_url": f"{base_url.rstrip('/')}/heartbeat/{check.key}",
            "last_ping_at": _iso(check.last_ping_at),
            "due_by": _iso(check.next_due_at),
            "pings": check.pings,
        }
    elif check.type == "http":
        doc |= {
            "url": check.spec["url"],
            "failures_in_a_row": check.failures,
            "last_run_at": _iso(check.last_run_at),
            "next_run_at": _iso(check.next_due_at),
        }
    else:
        occ = schedule.current(check.spec, _zone(session, team_id), now)
        assert occ is not None
        ticks = {
            r.item: r
            for r in session.scalars(
                select(CheckRun).where(
                    CheckRun.check_id == check.id, CheckRun.day == occ.day, CheckRun.kind == "tick"
                )
            )
        }
        due = session.scalars(
            select(CheckRun).where(CheckRun.key == f"due:{check.id}:{occ.day.isoformat()}")
        ).first()
        done = set(ticks) >= set(check.spec["items"])
        doc |= {
            "day": occ.day.isoformat(),
            "due_at": occ.due.isoformat(),
            "deadline": occ.deadline.isoformat(),
            # The occurrence's own state: done, open (due, before its deadline), missed, upcoming.
            "state": "done"
            if done
            else "upcoming"
            if now < occ.due
            else "open"
            if now < occ.deadline
            else "missed",
            "assignees": (due.detail or {}).get("assignees", []) if due else [],
            "items": [
                {
                    "item": i,
                    "done": i in ticks,
                    "by": ticks[i].actor if i in ticks else None,
                    "at": _iso(ticks[i].at) if i in ticks else None,
                }
                for i in check.spec["items"]
            ],
        }
    return doc


def list_checks(session: Session, *, now: datetime, base_url: str) -> list[dict[str, Any]]:
    return [
        check_doc(session, c, now=now, base_url=base_url)
        for c in session.scalars(select(Check).order_by(Check.id))
    ]


def history(session: Session, *, check_id: str, limit: int = 100) -> list[dict[str, Any]]:
    if session.get(Check, check_id) is None:
        raise NotFound(f"no check with id {check_id!r}", "id")
    rows = session.scalars(
        select(CheckRun)
        .where(CheckRun.check_id == check_id)
        .order_by(CheckRun.at.desc(), CheckRun.id.desc())
        .limit(limit)
    )
    return [
        {
            "at": r.at.isoformat(),
            "kind": r.kind,
            "ok": r.ok,
            "day": r.day.isoformat() if r.day else None,
            "item": r.item,
            "actor": r.actor,
            "detail": r.detail,
        }
        for r in rows
    ]
