"""Jira, outbound (SPEC §6.4 `jira`): which incidents get an issue, and the outbox rows that make
it and keep it in step (a comment on acknowledgement, handover and resolution, and the
transition the policy names for that stage). The calls themselves are notify/targets/jira.py's;
recording their answers and Jira's webhooks are incidents/jira_sync.py's.

Every row names the incident's onduty label (`onduty-<number>`), which the create puts on the
issue: the target looks the issue up by it before creating one, so a create repeated after a
crash finds the first issue instead of making a second."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.db.memo import remembered
from onduty.incidents.models import Incident, PolicySetting
from onduty.notify import outbox

TARGET = "jira"
DEFAULT_PRIORITIES = {"P1": "Highest", "P2": "High", "P3": "Medium", "P4": "Low"}
# Journey stages a transition may be named for in `jira.transitions`.
TRANSITION_STAGES = ("acknowledged", "handed_over", "resolved", "reopened")
# The bug template's fields, in the order a developer reads them, with their headings.
REPORT_SECTIONS = (
    ("actual", "What happened"),
    ("expected", "What should happen"),
    ("steps", "Steps to reproduce"),
    ("environment", "Environment"),
    ("client", "Client"),
    ("reporter", "Reported by"),
)


def section(session: Session, key: str) -> Any:
    """A whole-organisation section of the applied policy file (`jira`, `templates`), or None;
    read once per session."""

    def load() -> Any:
        return session.scalars(select(PolicySetting.value).where(PolicySetting.key == key)).first()

    return remembered(session, "incidents.sections", key, load)


@dataclass(frozen=True)
class JiraPolicy:
    projects: dict[str, str]
    create_for: frozenset[str]
    transitions: dict[str, str]
    done_statuses: frozenset[str]  # casefolded
    issue_type: str
    priorities: dict[str, str]
    labels: tuple[str, ...]

    @classmethod
    def of(cls, session: Session) -> JiraPolicy | None:
        value = section(session, "jira")
        if not value:
            return None
        return cls(
            projects=dict(value.get("projects") or {}),
            create_for=frozenset(value.get("create_for") or ()),
            transitions=dict(value.get("transitions") or {}),
            done_statuses=frozenset(s.casefold() for s in value.get("done_statuses") or ()),
            issue_type=value.get("issue_type") or "Bug",
            priorities={**DEFAULT_PRIORITIES, **(value.get("priorities") or {})},
            labels=tuple(value.get("labels") or ()),
        )

    def wants(self, team: str, priority: str) -> bool:
        return priority in self.create_for and team in self.projects


def onduty_label(number: int) -> str:
    return f"onduty-{number}"


def wanted(session: Session, team: str, priority: str) -> bool:
    """Whether a new incident of `team` at `priority` gets a Jira issue."""
    policy = JiraPolicy.of(session)
    return policy is not None and policy.wants(team, priority)


def _sections(row: dict[str, Any]) -> list[list[str]]:
    report = row.get("report") or {}
    sections = [["", f"{row['priority']} {row['source']} report: {row['title']}"]]
    if report:
        for field, heading in REPORT_SECTIONS:
            if report.get(field):
                sections.append([heading, str(report[field])])
        links = [str(x) for x in report.get("links") or []]
        if links:
            sections.append(["Screenshots and links", "\n".join(links)])
    elif row.get("description"):
        sections.append(["Description", str(row["description"])])
    return sections


def queue_creates(
    session: Session, created: Sequence[tuple[int, dict[str, Any]]], now: datetime
) -> None:
    """Queue the issue of each new incident (id, inserted row) whose row asked for one
    (`jira_state` queued), in one statement."""
    wanted_rows = [(i, row) for i, row in created if row.get("jira_state") == "queued"]
    policy = JiraPolicy.of(session) if wanted_rows else None
    if policy is None:
        return
    items = []
    for incident_id, row in wanted_rows:
        payload = {
            "incident": incident_id,
            "number": row["number"],
            "project": policy.projects[row["team_id"]],
            "label": onduty_label(row["number"]),
            "labels": [*policy.labels, row["service_id"]],
            "summary": f"#{row['number']} {row['title']}",
            "issue_type": policy.issue_type,
            "priority": policy.priorities.get(row["priority"]),
            "sections": _sections(row),
            "path": f"/incidents/{incident_id}",
        }
        items.append(
            outbox.OutboxItem(
                key=f"jira:create:{incident_id}",
                event="jira.create",
                due_at=now,
                target=TARGET,
                payload=payload,
                incident_id=incident_id,
                priority=outbox.NOTICE,
            )
        )
    outbox.enqueue_many(session, items, now=now)


def queue_update(
    session: Session,
    incident: Incident,
    *,
    stage: str,
    comment: str,
    now: datetime,
    channel: str = "",
) -> bool:
    """Comment on the incident's issue (and move it by the transition the policy names for
    `stage`), if it has or will have one. Changes that came from Jira itself are not sent
    back. Whether a row was queued."""
    if channel == TARGET or incident.jira_state not in ("queued", "created"):
        return False
    policy = JiraPolicy.of(session)
    if policy is None or incident.team_id not in policy.projects:
        return False
    payload = {
        "incident": incident.id,
        "project": policy.projects[incident.team_id],
        "label": onduty_label(incident.number),
        "issue": incident.jira_key,
        "comment": comment,
        "transition": policy.transitions.get(stage),
        "stage": stage,
    }
    made = outbox.enqueue(
        session,
        outbox.OutboxItem(
            key=f"jira:{incident.id}:{stage}:{now.isoformat()}",
            event="jira.update",
            due_at=now,
            target=TARGET,
            payload=payload,
            incident_id=incident.id,
            priority=outbox.NOTICE,
        ),
        now=now,
    )
    return made is not None
