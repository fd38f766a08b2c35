"""Makes the database match a policy file, in the caller's transaction, and says what changed:
a line per created, changed or removed object, and an audit record for each. Only objects the
policy file made (`managed`) are changed or removed; others are left alone."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, inspect, select
from sqlalchemy.orm import Session

from onduty import models as m
from onduty.audit import service as audit
from onduty.clock import SystemClock
from onduty.db import config_version
from onduty.policy.schema import PolicyFile
from onduty.policy.state import Record, State, from_database, from_policy, has_status_page
from onduty.runbooks import service as runbooks_service
from onduty.statuspage import models as sp


def new_integration_key() -> str:
    return secrets.token_hex(16)


@dataclass
class _Changes:
    """What an apply changed: the lines it returns and an audit record per line, i.e. per object
    (`policy.create`, `policy.change`, `policy.remove`), so that an object's history reads the
    same whether a file or a person changed it. A changed object's record names the fields, not
    their values: the file holds those, and some (contact method secrets, integration keys) do
    not belong in a log; overrides and time off carry their windows."""

    actor: str
    now: datetime
    lines: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: str, object_type: str, object_id: str, verb: str, **data: Any) -> None:
        self.lines.append(line)
        self.records.append(
            audit.entry(
                actor=self.actor,
                action=f"policy.{verb}",
                object_type=object_type,
                object_id=object_id,
                at=self.now,
                before=(data or None) if verb == "remove" else None,
                after=None if verb == "remove" else (data or None),
            )
        )


def apply_policy(
    session: Session,
    policy: PolicyFile,
    *,
    new_key: Callable[[], str] = new_integration_key,
    actor: str = audit.SYSTEM,
    now: datetime | None = None,
    runbooks: Path | None = None,
    errors: list[str] | None = None,
) -> list[str]:
    """Write `policy` into the database; return one line per created, changed or removed object,
    each recorded in the audit log as done by `actor` at `now` (default: the system clock).
    `runbooks` is the policy's runbooks folder (resolved against the file's place); a runbook
    file that cannot be used keeps its stored version, and is reported in `errors`.

    The caller commits; an exception leaves the transaction to be rolled back whole.
    """
    config_version.bump(session)  # first: it also orders concurrent applies
    want = from_policy(policy)
    have = from_database(session, managed_only=True)
    _keep_integration_keys(session, want, new_key)
    changes = _Changes(actor, now or SystemClock().now())

    if want.organization != have.organization:
        _write_organization(session, want.organization)
        verb = "change" if have.organization else "create"
        changes.add(f"{verb}d organization", "organization", "1", verb)

    _sync(session, "person", want.people, have.people, _write_person, changes)
    _sync(session, "team", want.teams, have.teams, _write_team, changes)
    _sync(session, "escalation policy", want.policies, have.policies, _write_policy, changes)
    _sync(session, "service", want.services, have.services, _write_service, changes)
    # Remove in the reverse order of dependence: services point at teams and policies.
    for what, model, w, h in (
        ("service", m.Service, want.services, have.services),
        ("escalation policy", m.EscalationPolicy, want.policies, have.policies),
        ("team", m.Team, want.teams, have.teams),
        ("person", m.Person, want.people, have.people),
    ):
        for ident in sorted(set(h) - set(w)):
            session.delete(session.get(model, ident))
            session.flush()
            changes.add(f"removed {what} {ident}", what.replace(" ", "_"), ident, "remove")

    current_priorities = from_database(session, managed_only=False).priorities
    if want.priorities != current_priorities:
        session.execute(delete(m.PriorityPolicy))
        for name, rec in want.priorities.items():
            session.add(m.PriorityPolicy(priority=name, **rec))
        names = sorted(set(want.priorities) | set(current_priorities))
        which = [p for p in names if want.priorities.get(p) != current_priorities.get(p)]
        changes.add("changed priority policy", "priority_policy", ",".join(which), "change")
    current_rules = from_database(session, managed_only=False).criticality_rules
    if want.criticality_rules != current_rules:
        session.execute(delete(m.CriticalityRule))
        session.flush()
        for i, rule in enumerate(want.criticality_rules):
            session.add(m.CriticalityRule(position=i, when=rule["when"], priority=rule["priority"]))
        count = len(want.criticality_rules)
        changes.add(
            f"changed criticality rules ({count} rules)", "criticality_rules", "all", "change"
        )

    for key in sorted(set(want.sections) | set(have.sections)):
        if want.sections.get(key) == have.sections.get(key):
            continue
        row = session.get(m.PolicySetting, key)
        if key not in want.sections:
            session.delete(row)
            changes.add(f"removed {key}", "policy_setting", key, "remove")
        elif row is None:
            session.add(m.PolicySetting(key=key, value=want.sections[key]))
            changes.add(f"created {key}", "policy_setting", key, "create")
        else:
            row.value = want.sections[key]
            changes.add(f"changed {key}", "policy_setting", key, "change")

    _sync_windows(session, want, have, changes)
    _sync_status_page(session, want, have, changes)
    _sync_checks(session, want, have, changes, new_key)
    session.flush()
    if runbooks is not None:
        applied = runbooks_service.apply_folder(session, runbooks, actor=actor, now=changes.now)
        changes.lines += applied.lines
        changes.records += applied.audit
        if errors is not None:
            errors += applied.errors
    audit.record_all(session, changes.records)
    return changes.lines


def _keep_integration_keys(session: Session, want: State, new_key: Callable[[], str]) -> None:
    # A key the file omits is kept if the integration exists, else generated once.
    existing = {(g.service_id, g.name): g.key for g in session.scalars(select(m.Integration))}
    for service_id, rec in want.services.items():
        for g in rec["integrations"]:
            if g[2] is None:
                g[2] = existing.get((service_id, g[0])) or new_key()


def _sync(
    session: Session,
    what: str,
    want: dict[str, Record],
    have: dict[str, Record],
    write: Callable[[Session, str, Record], None],
    changes: _Changes,
) -> None:
    for ident, rec in want.items():
        old = have.get(ident)
        if old == rec:
            continue
        write(session, ident, rec)
        session.flush()
        object_type = what.replace(" ", "_")
        if old is None:
            changes.add(f"created {what} {ident}", object_type, ident, "create")
        else:
            fields = [k for k in rec if rec[k] != old.get(k)]
            line = f"changed {what} {ident} ({', '.join(fields)})"
            changes.add(line, object_type, ident, "change", fields=fields)


def _write_organization(session: Session, rec: Record | None) -> None:
    assert rec is not None
    org = session.scalars(select(m.Organization)).first()
    if org is None:
        org = m.Organization(id=1)
        session.add(org)
    for key, value in rec.items():
        setattr(org, key, value)
    org.managed = True


def _write_person(session: Session, ident: str, rec: Record) -> None:
    person = session.get(m.Person, ident) or m.Person(id=ident)
    session.add(person)
    for key in ("name", "email", "phone", "slack", "timezone", "discipline"):
        setattr(person, key, rec[key])
    person.managed = True
    # Keep contact method rows (and their ids) by name; outbox rows may point at them.
    by_name = {c.name: c for c in person.contact_methods}
    keep = []
    for name, type_, address, secret, implicit in rec["contact_methods"]:
        cm = by_name.get(name) or m.ContactMethod(name=name)
        cm.type, cm.address, cm.secret, cm.implicit = type_, address, secret, implicit
        keep.append(cm)
    person.notification_rules.clear()
    session.flush()
    person.contact_methods[:] = keep
    session.flush()
    names = {c.name: c for c in person.contact_methods}
    for after_s, name in rec["notification_rules"]:
        person.notification_rules.append(
            m.NotificationRule(after_s=after_s, contact_method_id=names[name].id)
        )


def _write_team(session: Session, ident: str, rec: Record) -> None:
    team = session.get(m.Team, ident) or m.Team(id=ident)
    session.add(team)
    team.name = rec["name"]
    # Untouched when unset on a new team, so its INSERT leaves the column out (a database one
    # migration behind still takes the file: tests/integration/test_migrations.py).
    if rec["slack_channel"] is not None or inspect(team).persistent:
        team.slack_channel = rec["slack_channel"]
    team.managed = True
    team.members[:] = []
    team.support[:] = []
    session.flush()
    team.members.extend(m.TeamMember(person_id=p, position=i) for i, p in enumerate(rec["members"]))
    for level, names in rec["support"].items():
        team.support.extend(
            m.SupportLevel(level=level, person_id=p, position=i) for i, p in enumerate(names)
        )
    rota_rec = rec["rota"]
    rota = session.get(m.Rota, ident)
    if rota_rec is None:
        if rota is not None:
            session.delete(rota)
        return
    if rota is None:
        rota = m.Rota(team_id=ident)
        session.add(rota)
    rota.timezone = rota_rec["timezone"]
    rota.handoff_day = rota_rec["handoff_day"]
    rota.handoff_time = rota_rec["handoff_time"]
    rota.start = date.fromisoformat(rota_rec["start"])
    rota.length_days = rota_rec["length_days"]
    rota.max_consecutive = rota_rec["max_consecutive"]
    by_name = {s.name: s for s in rota.slots}
    slots = []
    for position, (name, _people, windows) in enumerate(rota_rec["slots"]):
        slot = by_name.get(name) or m.RotaSlot(name=name)
        slot.position, slot.windows = position, windows
        slot.people[:] = []
        slots.append(slot)
    rota.slots[:] = slots
    session.flush()
    for slot, (_name, people, _windows) in zip(rota.slots, rota_rec["slots"], strict=True):
        slot.people.extend(m.SlotMember(position=i, person_id=p) for i, p in enumerate(people))


def _write_policy(session: Session, ident: str, rec: Record) -> None:
    ep = session.get(m.EscalationPolicy, ident) or m.EscalationPolicy(id=ident)
    session.add(ep)
    ep.name, ep.repeat, ep.managed = rec["name"], rec["repeat"], True
    ep.steps[:] = []
    session.flush()
    ep.steps.extend(
        m.EscalationStep(position=i, targets=targets, wait_s=wait)
        for i, (targets, wait) in enumerate(rec["steps"])
    )


def _write_service(session: Session, ident: str, rec: Record) -> None:
    service = session.get(m.Service, ident) or m.Service(id=ident)
    session.add(service)
    service.name = rec["name"]
    service.team_id = rec["team"]
    service.discipline = rec["discipline"]
    service.escalation_policy_id = rec["escalation_policy"]
    service.managed = True
    by_name = {g.name: g for g in service.integrations}
    keep = []
    for name, type_, key, mapping, rate_limit, auto_resolve in rec["integrations"]:
        g = by_name.get(name) or m.Integration(name=name)
        g.type, g.key, g.config = type_, key, mapping
        g.rate_limit, g.auto_resolve = rate_limit, auto_resolve
        keep.append(g)
    service.integrations[:] = keep


def _sync_status_page(session: Session, want: State, have: State, changes: _Changes) -> None:
    """The page's name, its components (their current status is kept: it belongs to the open
    status incidents, not to the file). A component the file no longer names is removed with
    its history on the page. (The templates are a section of the file, kept by `_sections`.)"""
    if want.status_page is None and not has_status_page(session):
        return
    if want.status_page == have.status_page:
        return
    page = session.get(sp.StatusPage, 1)
    if page is None:
        page = sp.StatusPage(id=1, name="Status", created_at=changes.now)
        session.add(page)
    page.updated_at = changes.now
    wanted = want.status_page or {"name": page.name, "components": []}
    if want.status_page is not None:
        if have.status_page is None or have.status_page["name"] != wanted["name"]:
            verb = "change" if have.status_page else "create"
            changes.add(f"{verb}d status page", "status_page", "1", verb)
        page.name, page.managed = wanted["name"], True
    old = {c[0]: c for c in (have.status_page or {"components": []})["components"]}
    new = {c[0]: c for c in wanted["components"]}
    for position, (ident, name, group, description, services) in enumerate(wanted["components"]):
        row = session.get(sp.Component, ident)
        if row is None:
            row = sp.Component(id=ident, status="operational", created_at=changes.now)
            session.add(row)
        row.name, row.group, row.description = name, group, description
        row.services, row.position, row.managed = services, position, True
        if ident not in old:
            changes.add(f"created component {ident}", "component", ident, "create")
        elif old[ident] != new[ident] or row.updated_at is None:
            changes.add(f"changed component {ident}", "component", ident, "change")
        if row.updated_at is None or old.get(ident) != new[ident]:
            row.updated_at = changes.now
    for ident in sorted(set(old) - set(new)):
        session.delete(session.get(sp.Component, ident))
        changes.add(f"removed component {ident}", "component", ident, "remove")
    if want.status_page is None and page.managed:
        page.managed = False
        changes.add("removed status page", "status_page", "1", "remove")


def _window(start: datetime, end: datetime, reason: str | None = None) -> dict[str, Any]:
    return {"start": start.isoformat(), "end": end.isoformat(), "reason": reason}


def _sync_windows(session: Session, want: State, have: State, changes: _Changes) -> None:
    for row in sorted(have.overrides - want.overrides, key=str):
        session.execute(
            delete(m.Override).where(
                m.Override.managed.is_(True),
                m.Override.team_id == row[0],
                m.Override.slot == row[1],
                m.Override.person_id == row[2],
                m.Override.start == row[3],
                m.Override.end == row[4],
            )
        )
        changes.add(
            f"removed override {row[0]}/{row[1]} {row[2]} {row[3]:%Y-%m-%d %H:%M}Z",
            "override",
            f"{row[0]}/{row[1]}",
            "remove",
            person=row[2],
            **_window(row[3], row[4], row[5]),
        )
    for row in sorted(want.overrides - have.overrides, key=str):
        team, slot, person, start, end, reason = row
        session.add(
            m.Override(
                team_id=team,
                slot=slot,
                person_id=person,
                start=start,
                end=end,
                reason=reason,
                managed=True,
                created_by="policy",
            )
        )
        changes.add(
            f"created override {team}/{slot} {person} {start:%Y-%m-%d %H:%M}Z",
            "override",
            f"{team}/{slot}",
            "create",
            person=person,
            **_window(start, end, reason),
        )
    for row in sorted(have.time_off - want.time_off, key=str):
        session.execute(
            delete(m.TimeOff).where(
                m.TimeOff.managed.is_(True),
                m.TimeOff.person_id == row[0],
                m.TimeOff.start == row[1],
                m.TimeOff.end == row[2],
            )
        )
        changes.add(
            f"removed time off {row[0]} {row[1]:%Y-%m-%d %H:%M}Z",
            "time_off",
            row[0],
            "remove",
            **_window(row[1], row[2], row[3]),
        )
    for row in sorted(want.time_off - have.time_off, key=str):
        person, start, end, reason = row
        session.add(m.TimeOff(person_id=person, start=start, end=end, reason=reason, managed=True))
        changes.add(
            f"created time off {person} {start:%Y-%m-%d %H:%M}Z",
            "time_off",
            person,
            "create",
            **_window(start, end, reason),
        )


def _sync_checks(
    session: Session, want: State, have: State, changes: _Changes, new_key: Callable[[], str]
) -> None:
    """Checks and the handover meeting's time. A heartbeat's ping key the file omits is kept
    (monitored jobs are configured with its URL), else generated once, like integration keys.
    A changed check keeps its state and history; its next run is worked out afresh."""
    for ident, rec in want.checks.items():
        if rec["type"] == "heartbeat" and rec["key"] is None:
            old = have.checks.get(ident)
            rec["key"] = (old or {}).get("key") or new_key()
    for ident in sorted(set(have.checks) - set(want.checks)):
        session.delete(session.get(m.Check, ident))
        changes.add(f"removed check {ident}", "check", ident, "remove")
    session.flush()
    for ident, rec in want.checks.items():
        old = have.checks.get(ident)
        if old == rec:
            continue
        row = session.get(m.Check, ident) or m.Check(id=ident, state="pending", failures=0, pings=0)
        session.add(row)
        row.type, row.team_id, row.service_id = rec["type"], rec["team"], rec["service"]
        row.spec, row.key, row.managed = rec["spec"], rec["key"], True
        row.next_due_at = None  # the engine schedules it on its next pass
        if old is None:
            changes.add(f"created check {ident}", "check", ident, "create")
        else:
            fields = [k for k in rec if rec[k] != old.get(k)]
            changes.add(
                f"changed check {ident} ({', '.join(fields)})",
                "check",
                ident,
                "change",
                fields=fields,
            )
    if want.handover != have.handover:
        meeting = session.get(m.HandoverMeeting, 1)
        if want.handover is None:
            session.delete(meeting)
            changes.add("removed handover meeting", "handover_meeting", "1", "remove")
        else:
            verb = "change" if meeting else "create"
            meeting = meeting or m.HandoverMeeting(id=1)
            session.add(meeting)
            meeting.day, meeting.time = want.handover["day"], want.handover["time"]
            meeting.duration_s = want.handover["duration_s"]
            changes.add(f"{verb}d handover meeting", "handover_meeting", "1", verb)
