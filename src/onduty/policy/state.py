"""The configuration as plain comparable records, built either from a policy file or from the
database. `apply` diffs the two; `export` writes the database's records back as a file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from onduty import models as m
from onduty.localtime import to_utc
from onduty.policy.derive import contact_methods, notification_rules, person_zone, team_zone
from onduty.policy.schema import DEFAULT_PRIORITIES, PolicyFile, PriorityIn
from onduty.statuspage import models as sp

Record = dict[str, Any]


@dataclass
class State:
    organization: Record | None = None
    people: dict[str, Record] = field(default_factory=dict)
    teams: dict[str, Record] = field(default_factory=dict)
    policies: dict[str, Record] = field(default_factory=dict)
    services: dict[str, Record] = field(default_factory=dict)
    priorities: dict[str, Record] = field(default_factory=dict)
    criticality_rules: list[Record] = field(default_factory=list)
    overrides: set[tuple[Any, ...]] = field(default_factory=set)
    time_off: set[tuple[Any, ...]] = field(default_factory=set)
    # Whole-organisation sections kept as the file says them (`jira`, `templates`).
    sections: dict[str, Any] = field(default_factory=dict)

    # {"name", "components": [[id, name, group, description, services], ...]} or None
    status_page: Record | None = None
    checks: dict[str, Record] = field(default_factory=dict)
    handover: Record | None = None


def _integration_config(g: Any) -> Any:
    """What an integration keeps beside its type: a generic one's mapping, a jira one's label,
    an intercom one's `tag` and `reply_as` (the default reply is left out, so that a plain one
    stores none)."""
    if g.type == "jira":
        return {"label": g.label} if g.label else None
    if g.type == "intercom":
        extra = {"tag": g.tag} if g.tag else {}
        return {**extra, "reply_as": g.reply_as} if g.reply_as != "reply" or extra else None
    return g.mapping


def _seconds(value: Any) -> int | None:
    return None if value is None else int(value.total_seconds())


def has_status_page(session: Session) -> bool:
    """Whether the schema has the status page's tables (migration 0008): the migration tests
    store data with today's apply at older revisions, whose files have no status page."""
    return bool(
        session.info.setdefault(
            "policy.has_status_page", inspect(session.connection()).has_table("status_page")
        )
    )


def from_policy(policy: PolicyFile) -> State:
    """The records a (linted) policy file asks for. Integration keys it omits are None."""
    state = State()
    org = policy.organization
    state.organization = {
        "name": org.name,
        "timezone": org.timezone,
        "ack_timeout_s": _seconds(org.ack_timeout),
        "working_days": list(org.working_hours.days),
        "working_start": org.working_hours.start,
        "working_end": org.working_hours.end,
    }
    for p in policy.people:
        state.people[p.id] = {
            "name": p.name,
            "email": p.email,
            "phone": p.phone,
            "slack": p.slack,
            "timezone": p.timezone,
            "discipline": p.discipline,
            "contact_methods": [
                [c.name, c.type, c.address, c.secret, c.implicit] for c in contact_methods(p)
            ],
            "notification_rules": [[_seconds(after), c.name] for after, c in notification_rules(p)],
        }
    for t in policy.teams:
        rota = None
        if t.rota is not None:
            rota = {
                "timezone": team_zone(policy, t),
                "handoff_day": t.rota.handoff.day,
                "handoff_time": t.rota.handoff.time,
                "start": t.rota.start.isoformat(),
                "length_days": int(t.rota.length.total_seconds()) // 86400,
                "max_consecutive": t.rota.max_consecutive,
                "slots": [
                    [name, list(s.people), [w.model_dump() for w in s.windows] or None]
                    for name, s in t.rota.slots.items()
                ],
            }
        state.teams[t.id] = {
            "name": t.name,
            "members": list(t.members),
            "support": {lvl: list(getattr(t.support, lvl)) for lvl in ("L1", "L2", "L3")},
            "rota": rota,
            "slack_channel": t.slack_channel,
        }
    for ep in policy.escalation_policies:
        state.policies[ep.id] = {
            "name": ep.name or ep.id,
            "repeat": ep.repeat,
            "steps": [[list(s.notify), _seconds(s.wait)] for s in ep.steps],
        }
    for s in policy.services:
        state.services[s.id] = {
            "name": s.name,
            "team": s.team,
            "discipline": s.discipline,
            "escalation_policy": s.escalation_policy,
            "integrations": [
                [g.id, g.type, g.key, _integration_config(g), g.rate_limit, g.auto_resolve]
                for g in s.integrations
            ],
        }
    priorities: dict[str, PriorityIn] = {**DEFAULT_PRIORITIES}
    for level, given in policy.priorities.items():
        priorities[level] = given
    for name, pr in sorted(priorities.items()):
        state.priorities[name] = {
            "page": pr.page,
            "backlog": pr.backlog,
            "status_page": pr.status_page,
            "postmortem": pr.postmortem,
            "update_every_s": _seconds(pr.update_every),
            "resolve_within_s": _seconds(pr.resolve_within),
        }
    state.criticality_rules = [
        {
            "when": r.when.model_dump(exclude_none=True) if r.when else {},
            "priority": r.priority,
        }
        for r in policy.criticality_rules
    ]
    if policy.status_page is not None:
        state.status_page = {
            "name": policy.status_page.name,
            "components": [
                [c.id, c.name, c.group, c.description, list(c.services)]
                for c in policy.status_page.components
            ],
        }
    teams = {t.id: t for t in policy.teams}
    people = {p.id: p for p in policy.people}
    for o in policy.overrides:
        zone = team_zone(policy, teams.get(o.team))
        state.overrides.add(
            (o.team, o.slot, o.person, to_utc(o.start, zone), to_utc(o.end, zone), o.reason)
        )
    for t_off in policy.time_off:
        zone = person_zone(policy, people.get(t_off.person))
        state.time_off.add(
            (t_off.person, to_utc(t_off.start, zone), to_utc(t_off.end, zone), t_off.reason)
        )
    if policy.jira is not None:
        state.sections["jira"] = policy.jira.model_dump(mode="json")
    if policy.templates:
        state.sections["templates"] = dict(policy.templates)
    for c in policy.checks:
        state.checks[c.id] = check_record(c)
    if policy.handover is not None:
        h = policy.handover
        state.handover = {"day": h.day, "time": h.time, "duration_s": _seconds(h.duration)}
    return state


def check_record(c: Any) -> Record:
    """A check as stored (`check.spec` plus its team, service and key), durations in seconds;
    fields that do not apply to its type are left out, so export writes only what matters."""
    spec: Record = {}
    if c.type == "checklist":
        spec = {
            "at": c.at,
            "days": list(c.days) if c.days else None,
            "items": list(c.items),
            "deadline_s": _seconds(c.deadline),
        }
    else:
        spec = {"every_s": _seconds(c.every), "grace_s": _seconds(c.grace)}
        if c.type == "http":
            spec |= {
                "url": c.url,
                "timeout_s": _seconds(c.timeout),
                "expect_status": c.expect_status,
                "expect_body": c.expect_body,
                "failures": c.failures,
            }
    return {"type": c.type, "team": c.team, "service": c.service, "spec": spec, "key": c.key}


def from_database(session: Session, *, managed_only: bool) -> State:
    """The records stored now; `managed_only` keeps just what a policy file made."""
    state = State()

    def wanted(row: Any) -> bool:
        return bool(row.managed) or not managed_only

    org = session.scalars(select(m.Organization)).first()
    if org is not None and wanted(org):
        state.organization = {
            "name": org.name,
            "timezone": org.timezone,
            "ack_timeout_s": org.ack_timeout_s,
            "working_days": list(org.working_days),
            "working_start": org.working_start,
            "working_end": org.working_end,
        }
    for p in session.scalars(select(m.Person).order_by(m.Person.id)):
        if not wanted(p):
            continue
        state.people[p.id] = {
            "name": p.name,
            "email": p.email,
            "phone": p.phone,
            "slack": p.slack,
            "timezone": p.timezone,
            "discipline": p.discipline,
            "contact_methods": [
                [c.name, c.type, c.address, c.secret, c.implicit] for c in p.contact_methods
            ],
            "notification_rules": [
                [r.after_s, r.contact_method.name] for r in p.notification_rules
            ],
        }
    rotas = {r.team_id: r for r in session.scalars(select(m.Rota))}
    channels = _team_channels(session)
    for t in session.scalars(select(m.Team).order_by(m.Team.id)):
        if not wanted(t):
            continue
        rota = rotas.get(t.id)
        state.teams[t.id] = {
            "name": t.name,
            "slack_channel": channels.get(t.id),
            "members": [mb.person_id for mb in t.members],
            "support": {
                lvl: [s.person_id for s in t.support if s.level == lvl]
                for lvl in ("L1", "L2", "L3")
            },
            "rota": None
            if rota is None
            else {
                "timezone": rota.timezone,
                "handoff_day": rota.handoff_day,
                "handoff_time": rota.handoff_time,
                "start": rota.start.isoformat(),
                "length_days": rota.length_days,
                "max_consecutive": rota.max_consecutive,
                "slots": [
                    [s.name, [sm.person_id for sm in s.people], s.windows] for s in rota.slots
                ],
            },
        }
    for ep in session.scalars(select(m.EscalationPolicy).order_by(m.EscalationPolicy.id)):
        if wanted(ep):
            state.policies[ep.id] = {
                "name": ep.name,
                "repeat": ep.repeat,
                "steps": [[list(s.targets), s.wait_s] for s in ep.steps],
            }
    for s in session.scalars(select(m.Service).order_by(m.Service.id)):
        if wanted(s):
            state.services[s.id] = {
                "name": s.name,
                "team": s.team_id,
                "discipline": s.discipline,
                "escalation_policy": s.escalation_policy_id,
                "integrations": [
                    [g.name, g.type, g.key, g.config, g.rate_limit, g.auto_resolve]
                    for g in s.integrations
                ],
            }
    for pr in session.scalars(select(m.PriorityPolicy).order_by(m.PriorityPolicy.priority)):
        state.priorities[pr.priority] = {
            "page": pr.page,
            "backlog": pr.backlog,
            "status_page": pr.status_page,
            "postmortem": pr.postmortem,
            "update_every_s": pr.update_every_s,
            "resolve_within_s": pr.resolve_within_s,
        }
    state.criticality_rules = [
        {"when": r.when, "priority": r.priority}
        for r in session.scalars(select(m.CriticalityRule).order_by(m.CriticalityRule.position))
    ]
    for o in session.scalars(select(m.Override)):
        if wanted(o):
            state.overrides.add((o.team_id, o.slot, o.person_id, o.start, o.end, o.reason))
    page = session.get(sp.StatusPage, 1) if has_status_page(session) else None
    if page is not None and wanted(page):
        state.status_page = {
            "name": page.name,
            "components": [
                [c.id, c.name, c.group, c.description, list(c.services)]
                for c in session.scalars(
                    select(sp.Component).order_by(sp.Component.position, sp.Component.id)
                )
                if wanted(c)
            ],
        }
    # Only the columns a policy file states (not who added a row, or when).
    off = m.TimeOff
    for t_off in session.execute(
        select(off.person_id, off.start, off.end, off.reason, off.managed)
    ):
        if wanted(t_off):
            state.time_off.add((t_off.person_id, t_off.start, t_off.end, t_off.reason))
    # A database not yet migrated past 0009 (the migration tests apply a file at each older
    # revision) has no sections to read.
    if inspect(session.connection()).has_table("policy_setting"):
        for row in session.scalars(select(m.PolicySetting)):
            state.sections[row.key] = row.value
    # Tables of migration 0012: a database at an older revision (the migration tests store
    # data with today's code before they upgrade) has neither checks nor a meeting time.
    if not inspect(session.connection()).has_table("check"):
        return state
    for c in session.scalars(select(m.Check).order_by(m.Check.id)):
        if wanted(c):
            state.checks[c.id] = {
                "type": c.type,
                "team": c.team_id,
                "service": c.service_id,
                "spec": dict(c.spec),
                "key": c.key,
            }
    meeting = session.get(m.HandoverMeeting, 1)
    if meeting is not None:
        state.handover = {
            "day": meeting.day,
            "time": meeting.time,
            "duration_s": meeting.duration_s,
        }
    return state


def _team_channels(session: Session) -> dict[str, str | None]:
    """Each team's Slack channel, in one query; none on a database from before migration 0011
    (which tests/integration/test_migrations.py fills through this code at old revisions)."""
    columns = {c["name"] for c in inspect(session.connection()).get_columns("team")}
    if "slack_channel" not in columns:
        return {}
    return {t: c for t, c in session.execute(select(m.Team.id, m.Team.slack_channel))}
