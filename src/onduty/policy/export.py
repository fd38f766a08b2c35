"""Writes the database back as a version 1 policy file that lints clean and applies unchanged."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.durations import format_duration
from onduty.policy.state import Record, from_database


def _person(ident: str, rec: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ident, "name": rec["name"]}
    for key in ("email", "phone", "slack", "timezone", "discipline"):
        if rec[key] is not None:
            out[key] = rec[key]
    explicit = []
    for name, type_, address, secret, implicit in rec["contact_methods"]:
        if implicit:
            continue
        cm: dict[str, Any] = {"id": name, "type": type_}
        if type_ == "webhook":
            cm["url"] = address
            if secret:
                cm["secret"] = secret
        else:
            cm["address"] = address
        explicit.append(cm)
    if explicit:
        out["contact_methods"] = explicit
    out["notification_rules"] = [
        {"after": format_duration(after), "via": name} for after, name in rec["notification_rules"]
    ]
    return out


def _team(ident: str, rec: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ident, "name": rec["name"], "members": rec["members"]}
    if rec["slack_channel"]:
        out["slack_channel"] = rec["slack_channel"]
    out["support"] = {lvl: names for lvl, names in rec["support"].items() if names}
    rota = rec["rota"]
    if rota is not None:
        slots: dict[str, Any] = {}
        for name, people, windows in rota["slots"]:
            slots[name] = {"people": people, "windows": windows} if windows else people
        out["rota"] = {
            "timezone": rota["timezone"],
            "handoff": {"day": rota["handoff_day"], "time": rota["handoff_time"]},
            "start": rota["start"],
            "length": format_duration(rota["length_days"] * 86400),
            **({"max_consecutive": rota["max_consecutive"]} if rota["max_consecutive"] else {}),
            "slots": slots,
        }
    return out


def _service(ident: str, rec: Record, with_keys: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ident, "name": rec["name"], "team": rec["team"]}
    if rec["discipline"]:
        out["discipline"] = rec["discipline"]
    if rec["escalation_policy"]:
        out["escalation_policy"] = rec["escalation_policy"]
    integrations = []
    for name, type_, key, mapping, rate_limit, auto_resolve in rec["integrations"]:
        g: dict[str, Any] = {"id": name, "type": type_}
        if with_keys:
            g["key"] = key
        if type_ in ("jira", "intercom") and mapping:
            g.update(mapping)  # jira: label; intercom: tag, reply_as
        elif mapping is not None:
            g["mapping"] = mapping
        if rate_limit is not None:
            g["rate_limit"] = rate_limit
        if not auto_resolve:
            g["auto_resolve"] = False
        integrations.append(g)
    out["integrations"] = integrations
    return out


def _priority(rec: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"page": rec["page"]}
    for key in ("backlog", "status_page", "postmortem"):
        if rec[key]:
            out[key] = True
    if rec["update_every_s"] is not None:
        out["update_every"] = format_duration(rec["update_every_s"])
    if rec["resolve_within_s"] is not None:
        out["resolve_within"] = format_duration(rec["resolve_within_s"])
    return out


def export_policy(session: Session, *, with_keys: bool = False) -> dict[str, Any]:
    """The whole stored configuration as a policy document (a plain dict). Integration keys are
    secrets and the file is meant for version control: they are left out unless `with_keys`
    (apply keeps the stored key of an integration whose key the file omits)."""
    state = from_database(session, managed_only=False)
    org = state.organization or {
        "name": "onduty",
        "timezone": "UTC",
        "ack_timeout_s": 300,
        "working_days": ["mon", "tue", "wed", "thu", "fri"],
        "working_start": "09:00",
        "working_end": "18:00",
    }
    org_zone: str = org["timezone"]
    zones: dict[str, str] = {t: r["rota"]["timezone"] for t, r in state.teams.items() if r["rota"]}
    people_zones: dict[str, str] = {p: r["timezone"] or org_zone for p, r in state.people.items()}
    doc: dict[str, Any] = {
        "version": 1,
        "organization": {
            "name": org["name"],
            "timezone": org["timezone"],
            "ack_timeout": format_duration(org["ack_timeout_s"]),
            "working_hours": {
                "days": org["working_days"],
                "start": org["working_start"],
                "end": org["working_end"],
            },
        },
        "people": [_person(i, r) for i, r in state.people.items()],
        "teams": [_team(i, r) for i, r in state.teams.items()],
        "overrides": [
            {
                "team": team,
                "slot": slot,
                "person": person,
                "start": localtime.iso(start, zones.get(team, org_zone)),
                "end": localtime.iso(end, zones.get(team, org_zone)),
                **({"reason": reason} if reason else {}),
            }
            for team, slot, person, start, end, reason in sorted(state.overrides, key=str)
        ],
        "time_off": [
            {
                "person": person,
                "start": localtime.iso(start, people_zones.get(person, org_zone)),
                "end": localtime.iso(end, people_zones.get(person, org_zone)),
                **({"reason": reason} if reason else {}),
            }
            for person, start, end, reason in sorted(state.time_off, key=str)
        ],
        "services": [_service(i, r, with_keys) for i, r in state.services.items()],
        "escalation_policies": [
            {
                "id": i,
                "name": r["name"],
                "repeat": r["repeat"],
                "steps": [
                    {"notify": targets, "wait": format_duration(wait)}
                    for targets, wait in r["steps"]
                ],
            }
            for i, r in state.policies.items()
        ],
        "priorities": {name: _priority(r) for name, r in state.priorities.items()},
        "criticality_rules": [
            {"when": r["when"], "priority": r["priority"]}
            if r["when"]
            else {"priority": r["priority"]}
            for r in state.criticality_rules
        ],
    }
    for key in ("templates", "jira"):
        if key in state.sections:
            doc[key] = state.sections[key]
    if state.status_page is not None:
        components = []
        for ident, name, group, description, services in state.status_page["components"]:
            c: dict[str, Any] = {"id": ident, "name": name}
            if group:
                c["group"] = group
            if description:
                c["description"] = description
            c["services"] = services
            components.append(c)
        doc["status_page"] = {"name": state.status_page["name"], "components": components}
    checks = [_check(i, r, with_keys) for i, r in state.checks.items()]
    if checks:
        doc["checks"] = checks
    if state.handover is not None:
        h = state.handover
        doc["handover"] = {
            "day": h["day"],
            "time": h["time"],
            "duration": format_duration(h["duration_s"]),
        }
    return doc


def _check(ident: str, rec: Record, with_keys: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ident, "type": rec["type"]}
    for key in ("team", "service"):
        if rec[key] is not None:
            out[key] = rec[key]
    for name, value in rec["spec"].items():
        if value is None:
            continue
        if name.endswith("_s"):
            out[name[:-2]] = format_duration(value)
        else:
            out[name] = value
    if with_keys and rec["key"] is not None:
        out["key"] = rec["key"]
    return out


def export_yaml(session: Session, *, with_keys: bool = False) -> str:
    return to_yaml(export_policy(session, with_keys=with_keys))


def to_yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
