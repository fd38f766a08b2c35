"""Semantic checks of a loaded policy file: references, duplicates, coverage, reachability and
rules that can never take effect. Pure: the caller passes the instant that "now" means."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from onduty.durations import format_duration
from onduty.incidents import priority as priority_rules
from onduty.notify import templates
from onduty.policy import coverage
from onduty.policy.derive import contact_methods, rule_targets
from onduty.policy.loader import Lines, PathT, Problem
from onduty.policy.schema import BASIC_TARGETS, LEVELS, PolicyFile


class _Report:
    def __init__(self, lines: Lines) -> None:
        self.lines = lines
        self.problems: list[Problem] = []

    def error(self, path: PathT, message: str) -> None:
        self.problems.append(Problem("error", message, path, self.lines.of(path)))

    def warning(self, path: PathT, message: str) -> None:
        self.problems.append(Problem("warning", message, path, self.lines.of(path)))

    def notice(self, path: PathT, message: str) -> None:
        self.problems.append(Problem("notice", message, path, self.lines.of(path)))


def lint(policy: PolicyFile, lines: Lines, *, now: datetime) -> list[Problem]:
    """Every semantic problem of `policy`, errors, warnings and notices, ordered by line."""
    report = _Report(lines)
    _duplicates(policy, report)
    _people(policy, report)
    _teams(policy, report)
    _overrides(policy, report)
    _services(policy, report)
    _policies(policy, report)
    _notification_delays(policy, report)
    _criticality(policy, report)
    _templates(policy, report)
    _jira(policy, report)
    _status_page(policy, report)
    _checks(policy, report)
    coverage.check(policy, report.error, report.warning, report.notice, now=now)
    return sorted(report.problems, key=lambda p: (p.line, p.message))


def _templates(policy: PolicyFile, report: _Report) -> None:
    for key, source in policy.templates.items():
        problem = templates.check(key, source)
        if problem is not None:
            report.error(
                ("templates", key),
                f"template {key!r}, its line {problem.line}: {problem.message}",
            )


def _jira(policy: PolicyFile, report: _Report) -> None:
    """What can be told about `jira` without asking Jira: transitions named for a stage onduty
    never moves Jira on (a typo would leave the issue behind silently), projects of unknown
    teams, and teams with services but no project (their incidents get no issue). Whether Jira
    offers a transition name is known only when it is used: a clear error on the timeline."""
    if policy.jira is None:
        return
    from onduty.incidents.jira import TRANSITION_STAGES

    for stage in policy.jira.transitions:
        if stage not in TRANSITION_STAGES:
            report.warning(
                ("jira", "transitions", stage),
                f"jira.transitions: {stage!r} is not a stage onduty moves Jira issues on "
                f"({', '.join(TRANSITION_STAGES)}); this transition is never made",
            )
    teams = {t.id for t in policy.teams}
    for team in policy.jira.projects:
        if team not in teams:
            report.warning(("jira", "projects", team), f"jira.projects: {team!r} is not a team")
    served = {s.team for s in policy.services}
    for team in sorted(served - set(policy.jira.projects)):
        report.notice(
            ("jira", "projects"),
            f"jira.projects has no project for team {team!r}: its incidents get no Jira issue",
        )


def _status_page(policy: PolicyFile, report: _Report) -> None:
    page = policy.status_page
    if page is None:
        return
    components = page.components
    _dupes(
        ((c.id, ("status_page", "components", i, "id")) for i, c in enumerate(components)),
        "component",
        report,
    )
    services = {s.id for s in policy.services}
    for i, component in enumerate(components):
        for si, name in enumerate(component.services):
            if name not in services:
                report.error(
                    ("status_page", "components", i, "services", si),
                    f"component {component.id!r}: unknown service {name!r}",
                )
    groups = {c.group for c in components if c.group}
    for i, component in enumerate(components):
        if component.id in groups:
            report.error(
                ("status_page", "components", i, "id"),
                f"component {component.id!r} has the name of a group: the JSON could not "
                "tell the two apart",
            )
    covered = {s for c in components for s in c.services}
    for si, service in enumerate(policy.services):
        if components and service.id not in covered:
            report.notice(
                ("services", si, "id"),
                f"service {service.id!r} is on no status page component: its incidents "
                "cannot be posted with components pre-filled",
            )


def _checks(policy: PolicyFile, report: _Report) -> None:
    teams = {t.id for t in policy.teams}
    services = {s.id: s for s in policy.services}
    _dupes(((c.id, ("checks", i, "id")) for i, c in enumerate(policy.checks)), "check", report)
    _dupes(
        ((c.key, ("checks", i, "key")) for i, c in enumerate(policy.checks) if c.key),
        "heartbeat key",
        report,
    )
    for i, check in enumerate(policy.checks):
        if check.team is not None and check.team not in teams:
            report.error(("checks", i, "team"), f"check {check.id!r}: unknown team {check.team!r}")
        if check.service is not None and check.service not in services:
            report.error(
                ("checks", i, "service"), f"check {check.id!r}: unknown service {check.service!r}"
            )
        elif check.service is not None and check.team not in (None, services[check.service].team):
            report.error(
                ("checks", i, "team"),
                f"check {check.id!r}: service {check.service!r} belongs to team "
                f"{services[check.service].team!r}, not {check.team!r}",
            )
        if (
            check.service is None
            and check.team in teams
            and not any(s.team == check.team for s in policy.services)
        ):
            report.error(
                ("checks", i, "team"),
                f"check {check.id!r}: team {check.team!r} has no service to raise its "
                "alerts on; name one with service:",
            )
        if check.type == "http" and check.timeout >= (check.every or check.timeout):
            report.warning(
                ("checks", i, "timeout"),
                f"check {check.id!r}: timeout {format_duration(check.timeout)} is not shorter "
                f"than every {format_duration(check.every or check.timeout)}",
            )


def _dupes(items: Iterable[tuple[str, PathT]], what: str, report: _Report) -> None:
    seen: dict[str, PathT] = {}
    for ident, path in items:
        if ident in seen:
            report.error(
                path,
                f"duplicate {what} id {ident!r} (first at line {report.lines.of(seen[ident])})",
            )
        else:
            seen[ident] = path


def _duplicates(policy: PolicyFile, report: _Report) -> None:
    _dupes(((p.id, ("people", i, "id")) for i, p in enumerate(policy.people)), "person", report)
    _dupes(((t.id, ("teams", i, "id")) for i, t in enumerate(policy.teams)), "team", report)
    _dupes(
        ((s.id, ("services", i, "id")) for i, s in enumerate(policy.services)), "service", report
    )
    _dupes(
        (
            (p.id, ("escalation_policies", i, "id"))
            for i, p in enumerate(policy.escalation_policies)
        ),
        "escalation policy",
        report,
    )
    for si, service in enumerate(policy.services):
        _dupes(
            (
                (g.id, ("services", si, "integrations", gi, "id"))
                for gi, g in enumerate(service.integrations)
            ),
            f"integration (in service {service.id!r})",
            report,
        )
    keys = (
        (g.key, ("services", si, "integrations", gi, "key"))
        for si, s in enumerate(policy.services)
        for gi, g in enumerate(s.integrations)
        if g.key
    )
    _dupes(keys, "integration key", report)


def _people(policy: PolicyFile, report: _Report) -> None:
    for i, person in enumerate(policy.people):
        methods = contact_methods(person)
        _dupes(
            ((m.name, ("people", i)) for m in methods),
            f"contact method (of {person.id!r}; email, sms, voice and slack are implied by "
            "email, phone and slack)",
            report,
        )
        if not methods:
            report.error(
                ("people", i, "id"),
                f"person {person.id!r} cannot be reached: no email, phone, slack or contact method",
            )
        for ri, rule in enumerate(person.notification_rules or []):
            if not rule_targets(rule, methods):
                report.error(
                    ("people", i, "notification_rules", ri, "via"),
                    f"notification rule of {person.id!r} is via {rule.via!r}, which is neither "
                    "one of their contact methods nor a type they have",
                )


def _teams(policy: PolicyFile, report: _Report) -> None:
    people = {p.id for p in policy.people}
    for ti, team in enumerate(policy.teams):
        for mi, member in enumerate(team.members):
            if member not in people:
                report.error(
                    ("teams", ti, "members", mi), f"team {team.id!r}: unknown person {member!r}"
                )
        for level in LEVELS:
            names = getattr(team.support, level)
            if not names:
                report.error(
                    ("teams", ti, "support"),
                    f"team {team.id!r} has nobody at support level {level}",
                )
            for ni, name in enumerate(names):
                if name not in people:
                    report.error(
                        ("teams", ti, "support", level, ni),
                        f"team {team.id!r}: unknown person {name!r} at {level}",
                    )
        if team.rota is None:
            report.error(("teams", ti, "id"), f"team {team.id!r} has no rota: nobody is on call")
            continue
        if len(team.rota.slots) < 2:
            report.warning(
                ("teams", ti, "rota", "slots"),
                f"team {team.id!r} has one rota slot: its incidents have no secondary responder",
            )
        for slot, spec in team.rota.slots.items():
            path: PathT = ("teams", ti, "rota", "slots", slot)
            if not spec.people:
                report.error(path, f"team {team.id!r}: slot {slot!r} has nobody in it")
            for pi, name in enumerate(spec.people):
                if name not in people:
                    report.error(
                        (*path, pi), f"team {team.id!r} slot {slot!r}: unknown person {name!r}"
                    )
                elif team.members and name not in team.members:
                    report.warning(
                        (*path, pi),
                        f"team {team.id!r} slot {slot!r}: {name!r} is not a member of the team",
                    )
            for wi, window in enumerate(spec.windows):
                if window.start == window.end:
                    report.error((*path, "windows", wi), "a slot window must not be empty")


def _overrides(policy: PolicyFile, report: _Report) -> None:
    people = {p.id for p in policy.people}
    teams = {t.id: t for t in policy.teams}
    for i, o in enumerate(policy.overrides):
        team = teams.get(o.team)
        if team is None:
            report.error(("overrides", i, "team"), f"override: unknown team {o.team!r}")
        elif team.rota is None or o.slot not in team.rota.slots:
            report.error(
                ("overrides", i, "slot"), f"override: team {o.team!r} has no slot {o.slot!r}"
            )
        if o.person not in people:
            report.error(("overrides", i, "person"), f"override: unknown person {o.person!r}")
        if o.end <= o.start:
            report.error(("overrides", i, "end"), "override: end must be after start")
    for i, t in enumerate(policy.time_off):
        if t.person not in people:
            report.error(("time_off", i, "person"), f"time off: unknown person {t.person!r}")
        if t.end <= t.start:
            report.error(("time_off", i, "end"), "time off: end must be after start")


def _services(policy: PolicyFile, report: _Report) -> None:
    teams = {t.id: t for t in policy.teams}
    policies = {p.id for p in policy.escalation_policies}
    for i, service in enumerate(policy.services):
        team = teams.get(service.team)
        if team is None:
            report.error(
                ("services", i, "team"), f"service {service.id!r}: unknown team {service.team!r}"
            )
        elif service.discipline and team.rota and service.discipline not in team.rota.slots:
            report.error(
                ("services", i, "discipline"),
                f"service {service.id!r}: discipline {service.discipline!r} is not a slot of "
                f"team {team.id!r} ({', '.join(team.rota.slots)}), so it has no primary",
            )
        if service.escalation_policy is None:
            report.error(
                ("services", i, "id"),
                f"service {service.id!r} has no escalation_policy: its alerts would page nobody",
            )
        elif service.escalation_policy not in policies:
            report.error(
                ("services", i, "escalation_policy"),
                f"service {service.id!r}: unknown escalation policy {service.escalation_policy!r}",
            )
        if not service.integrations:
            report.warning(
                ("services", i, "id"),
                f"service {service.id!r} has no integration: no alert can reach it",
            )
        for gi, integration in enumerate(service.integrations):
            if integration.mapping is not None and integration.type != "generic":
                report.error(
                    ("services", i, "integrations", gi, "mapping"),
                    "mapping is only for integrations of type generic",
                )


def _policies(policy: PolicyFile, report: _Report) -> None:
    people = {p.id for p in policy.people}
    slots = {f"{t.id}/{s}" for t in policy.teams if t.rota is not None for s in t.rota.slots}
    used = {s.escalation_policy for s in policy.services}
    for pi, ep in enumerate(policy.escalation_policies):
        if ep.id not in used:
            report.warning(
                ("escalation_policies", pi, "id"),
                f"escalation policy {ep.id!r} is not used by any service",
            )
        for si, step in enumerate(ep.steps):
            for ti, target in enumerate(step.notify):
                path: PathT = ("escalation_policies", pi, "steps", si, "notify", ti)
                kind, _, ref = target.partition(":")
                if kind == "person" and ref not in people:
                    report.error(path, f"escalation policy {ep.id!r}: unknown person {ref!r}")
                elif kind == "slot" and ref not in slots:
                    report.error(path, f"escalation policy {ep.id!r}: unknown slot {ref!r}")
            if step.wait <= timedelta(0):
                report.error(
                    ("escalation_policies", pi, "steps", si, "wait"),
                    "a step must wait more than 0s",
                )


def _step_people(policy: PolicyFile) -> dict[str, dict[str, list[timedelta]]]:
    """policy id -> person -> the waits of the steps that can page that person."""
    teams = {t.id: t for t in policy.teams}
    teams_of: dict[str, set[str]] = defaultdict(set)
    for s in policy.services:
        if s.escalation_policy:
            teams_of[s.escalation_policy].add(s.team)
    out: dict[str, dict[str, list[timedelta]]] = {}
    for ep in policy.escalation_policies:
        waits: dict[str, list[timedelta]] = defaultdict(list)
        for step in ep.steps:
            reached: set[str] = set()
            for target in step.notify:
                kind, _, ref = target.partition(":")
                if kind == "person":
                    reached.add(ref)
                elif kind == "slot":
                    team_id, _, slot = ref.partition("/")
                    team = teams.get(team_id)
                    if team and team.rota and slot in team.rota.slots:
                        reached.update(team.rota.slots[slot].people)
                for team_id in teams_of[ep.id]:
                    team = teams.get(team_id)
                    if team is None:
                        continue
                    if target in LEVELS:
                        reached.update(getattr(team.support, target))
                    elif target in BASIC_TARGETS and team.rota:
                        for spec in team.rota.slots.values():
                            reached.update(spec.people)
            for person in reached:
                waits[person].append(step.wait)
        out[ep.id] = waits
    return out


def _notification_delays(policy: PolicyFile, report: _Report) -> None:
    waits: dict[str, list[timedelta]] = defaultdict(list)
    for per_policy in _step_people(policy).values():
        for person_id, person_waits in per_policy.items():
            waits[person_id].extend(person_waits)
    for i, person in enumerate(policy.people):
        if person.id not in waits or person.notification_rules is None:
            continue
        longest = max(waits[person.id])
        for ri, rule in enumerate(person.notification_rules):
            if rule.after > timedelta(0) and rule.after >= longest:
                report.warning(
                    ("people", i, "notification_rules", ri, "after"),
                    f"{person.id!r} is notified via {rule.via} after "
                    f"{format_duration(rule.after)}, but every step that pages them moves on "
                    f"within {format_duration(longest)}: this notification can never arrive first",
                )


def criticality_rules(policy: PolicyFile) -> list[priority_rules.Rule]:
    """The file's rules as the pure matcher's Rule objects."""
    out = []
    for r in policy.criticality_rules:
        w = r.when
        out.append(
            priority_rules.Rule(
                priority=r.priority,
                service=frozenset(w.service) if w and w.service is not None else None,
                severity=frozenset(w.severity) if w and w.severity is not None else None,
                labels=dict(w.labels) if w and w.labels is not None else None,
                channel=frozenset(w.channel) if w and w.channel is not None else None,
                client_tier=frozenset(w.client_tier) if w and w.client_tier is not None else None,
                words=frozenset(x.lower() for x in w.words) if w and w.words is not None else None,
                min_affected_clients=w.min_affected_clients if w else None,
            )
        )
    return out


def _criticality(policy: PolicyFile, report: _Report) -> None:
    services = {s.id for s in policy.services}
    for i, rule in enumerate(policy.criticality_rules):
        for name in (rule.when.service or []) if rule.when else []:
            if name not in services:
                report.error(
                    ("criticality_rules", i, "when", "service"),
                    f"criticality rule: unknown service {name!r}",
                )
    for later, earlier in priority_rules.rule_shadowed(criticality_rules(policy)):
        report.warning(
            ("criticality_rules", later),
            f"criticality rule {later + 1} can never match: rule {earlier + 1} (line "
            f"{report.lines.of(('criticality_rules', earlier))}) always matches first",
        )
    rules = policy.criticality_rules
    if rules and rules[-1].when is not None:
        report.warning(
            ("criticality_rules", len(rules) - 1),
            "the last criticality rule has conditions: add a default rule ({priority: P3}); "
            "until then P3 is used when nothing matches",
        )
