"""What a policy file implies beyond what it spells out: a person's full list of contact
methods, what a notification rule's `via` points at, and which zone a local time is read in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from onduty.policy.schema import NotificationRuleIn, PersonIn, PolicyFile, TeamIn


@dataclass(frozen=True)
class ContactMethodSpec:
    name: str
    type: str
    address: str
    secret: str | None
    implicit: bool


def contact_methods(person: PersonIn) -> list[ContactMethodSpec]:
    """Contact methods implied by email/phone/slack, then the explicit ones, in file order."""
    out: list[ContactMethodSpec] = []
    if person.email:
        out.append(ContactMethodSpec("email", "email", person.email, None, True))
    if person.phone:
        out.append(ContactMethodSpec("sms", "sms", person.phone, None, True))
        out.append(ContactMethodSpec("voice", "voice", person.phone, None, True))
    if person.slack:
        out.append(ContactMethodSpec("slack", "slack", person.slack, None, True))
    for cm in person.contact_methods:
        address = cm.url if cm.type == "webhook" else cm.address
        assert address is not None  # the schema requires it per type
        out.append(ContactMethodSpec(cm.id, cm.type, address, cm.secret, False))
    return out


def rule_targets(
    rule: NotificationRuleIn, methods: list[ContactMethodSpec]
) -> list[ContactMethodSpec]:
    """A rule's `via` names a contact method id, or else a type (then every method of it)."""
    by_name = [m for m in methods if m.name == rule.via]
    return by_name or [m for m in methods if m.type == rule.via]


def notification_rules(person: PersonIn) -> list[tuple[timedelta, ContactMethodSpec]]:
    """(delay, method) pairs; without rules, every contact method at once (SPEC §6.1)."""
    methods = contact_methods(person)
    if person.notification_rules is None:
        return [(timedelta(0), m) for m in methods]
    return [(r.after, m) for r in person.notification_rules for m in rule_targets(r, methods)]


def team_zone(policy: PolicyFile, team: TeamIn | None) -> str:
    if team is not None and team.rota is not None and team.rota.timezone:
        return team.rota.timezone
    return policy.organization.timezone


def person_zone(policy: PolicyFile, person: PersonIn | None) -> str:
    if person is not None and person.timezone:
        return person.timezone
    return policy.organization.timezone
