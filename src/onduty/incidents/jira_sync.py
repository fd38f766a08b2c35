"""Jira kept in step: what the engine does with Jira's answers (the issue's key on the incident,
stage `ticketed`; a row that must wait for the issue), and Jira's webhooks into a `jira`
integration (FORMATS §7): the status and assignee on the timeline, a status in
`jira.done_statuses` recording `resolved_by_developer` (and resolving an incident that was
handed over), and an issue made in Jira with the integration's label opening an incident."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from onduty.db import dialect
from onduty.errors import InvalidInput
from onduty.incidents import service as incidents_service
from onduty.incidents.jira import TARGET as TARGET
from onduty.incidents.jira import JiraPolicy, onduty_label
from onduty.incidents.models import Incident, WebhookDelivery
from onduty.incidents.timeline import timeline
from onduty.notify import models as ob
from onduty.services.models import Integration

WAIT_FOR_ISSUE = timedelta(seconds=30)
WAIT_FOR_EARLIER = timedelta(seconds=5)
SIGNATURE_HEADER = "x-hub-signature"
DELIVERY_HEADER = "x-atlassian-webhook-identifier"


# --- the engine's side --------------------------------------------------------------------------


def ready(session: Session, row: ob.OutboxMessage, now: datetime) -> tuple[str, Any]:
    """Whether a claimed Jira row can go: ("go", payload), ("wait", until) or ("skip", why).

    One incident's calls go one at a time, in order (a resolution's transition must not pass
    the acknowledgement's). An update waits for its issue while the create is still trying,
    and is dropped if the issue was never made."""
    earlier = session.scalars(
        select(ob.OutboxMessage.id).where(
            ob.OutboxMessage.target == TARGET,
            ob.OutboxMessage.incident_id == row.incident_id,
            ob.OutboxMessage.id < row.id,
            ob.OutboxMessage.status.in_((ob.PENDING, ob.SENDING)),
        )
    ).first()
    if earlier is not None:
        return "wait", now + WAIT_FOR_EARLIER
    payload = dict(row.payload or {})
    if row.event != "jira.update" or payload.get("issue"):
        return "go", payload
    incident = session.get(Incident, row.incident_id) if row.incident_id else None
    if incident is not None and incident.jira_key:
        payload["issue"] = incident.jira_key
        return "go", payload
    if incident is not None and incident.jira_state == "queued":
        return "wait", now + WAIT_FOR_ISSUE
    return "skip", "skipped: the incident has no Jira issue"


def answered(
    session: Session, incident_id: int, event: str, key: str | None, url: str, now: datetime
) -> None:
    """Jira accepted a call: a create's issue key and link go on the incident (stage
    `ticketed`)."""
    if event != "jira.create" or not key:
        return
    incident = incidents_service.locked(session, incident_id)
    if incident.jira_key == key:
        return
    incident.jira_key, incident.jira_url, incident.jira_state = key, url, "created"
    incidents_service.record_stage(incident, "ticketed", now)
    timeline(
        session, incident, now=now, kind="jira.created", actor="engine", channel="jira", key=key
    )


def gave_up(session: Session, incident_id: int, event: str, now: datetime) -> None:
    """A create failed for good (after its retries): the incident says it has no issue."""
    if event == "jira.create":
        incident = incidents_service.locked(session, incident_id)
        if incident.jira_state == "queued":
            incident.jira_state = "failed"


# --- Jira's webhooks ----------------------------------------------------------------------------


class Forged(Exception):
    """The webhook's signature is missing or wrong."""


@dataclass
class Received:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    duplicate: bool = False


def verify(body: bytes, headers: Mapping[str, str], secret: str | None) -> None:
    """`X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>` when a secret is set.

    Raises:
        Forged: it is missing or does not match.
    """
    if not secret:
        return
    given = headers.get(SIGNATURE_HEADER, "")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forged("the X-Hub-Signature of this Jira webhook does not match")


def parse(body: bytes) -> dict[str, Any]:
    """The webhook's JSON, with `webhookEvent` and `issue.key`.

    Raises:
        InvalidInput: it is not that (field `None` for an unreadable body).
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body is not JSON", None) from None
    if not isinstance(data, dict):
        raise InvalidInput("the body is not a JSON object", None)
    if not isinstance(data.get("webhookEvent"), str):
        raise InvalidInput("webhookEvent is missing", "webhookEvent")
    issue = data.get("issue")
    if not isinstance(issue, dict) or not isinstance(issue.get("key"), str) or not issue["key"]:
        raise InvalidInput("issue.key is missing", "issue.key")
    if not isinstance(issue.get("fields") or {}, dict):
        raise InvalidInput("issue.fields is not an object", "issue.fields")
    return data


def receive(
    session: Session,
    integration: Integration,
    data: dict[str, Any],
    headers: Mapping[str, str],
    now: datetime,
) -> Received:
    """Store one Jira webhook (already verified and parsed), once per delivery id."""
    out = Received()
    delivery = headers.get(DELIVERY_HEADER)
    if delivery:
        table = WebhookDelivery.__table__
        assert isinstance(table, Table)
        made = session.execute(
            dialect.insert_new(session, table).returning(table.c.identifier),
            [{"source": "jira", "identifier": delivery[:200], "received_at": now}],
        ).first()
        if made is None:
            out.duplicate = True
            return out
    issue = data["issue"]
    fields = issue.get("fields") or {}
    key = issue["key"]
    incident = session.scalars(select(Incident).where(Incident.jira_key == key)).first()
    actor = f"jira:{_user(data)}"
    if incident is None:
        if data["webhookEvent"] == "jira:issue_created" and _opens(integration, fields):
            out.created.append(_open(session, integration, data, actor, now))
        return out
    incident = incidents_service.locked(session, incident.id)
    out.updated.append(incident.id)
    changes = {item.get("field"): item for item in (data.get("changelog") or {}).get("items", [])}
    assignee = changes.get("assignee")
    if isinstance(assignee, dict):
        timeline(
            session,
            incident,
            now=now,
            kind="jira.assignee",
            actor=actor,
            channel="jira",
            key=key,
            changes={"assignee": [assignee.get("fromString"), assignee.get("toString")]},
        )
    status = (fields.get("status") or {}).get("name")
    if isinstance(changes.get("status"), dict):
        status = changes["status"].get("toString") or status
    if isinstance(status, str) and status != incident.jira_status:
        was = incident.jira_status
        incident.jira_status = status[:100]
        timeline(
            session,
            incident,
            now=now,
            kind="jira.status",
            actor=actor,
            channel="jira",
            key=key,
            changes={"status": [was, status]},
        )
        policy = JiraPolicy.of(session)
        done = policy.done_statuses if policy else frozenset({"done"})
        if status.casefold() in done:
            incidents_service.record_stage(incident, "resolved_by_developer", now)
            handed_over = "handed_over" in (incident.stages or {})
            if handed_over and incident.status != "resolved":
                incidents_service.resolve(
                    session,
                    incident_id=incident.id,
                    actor=actor,
                    channel=TARGET,
                    now=now,
                    audited=False,
                )
                out.resolved.append(incident.id)
    session.flush()
    return out


def _user(data: dict[str, Any]) -> str:
    user = data.get("user") or {}
    return str(user.get("displayName") or user.get("accountId") or "jira")[:90]


def _opens(integration: Integration, fields: dict[str, Any]) -> bool:
    """An issue made in Jira opens an incident when it carries the integration's label and is
    not one of ours (ours carry `onduty-<number>`; its webhook may come before our record)."""
    wanted = (integration.config or {}).get("label")
    labels = [str(x) for x in fields.get("labels") or []]
    return bool(wanted) and wanted in labels and not any(x.startswith("onduty-") for x in labels)


def _text(node: Any) -> str:
    """The text of an ADF document (v3) or a wiki string (v2 webhooks)."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        if node.get("type") == "text":
            return str(node.get("text", ""))
        inner = "".join(_text(child) for child in node.get("content") or [])
        return inner + ("\n" if node.get("type") in ("paragraph", "heading") else "")
    return ""


def _open(
    session: Session, integration: Integration, data: dict[str, Any], actor: str, now: datetime
) -> int:
    from onduty.incidents import ingest  # ingest imports the lifecycle this module uses

    issue = data["issue"]
    fields = issue.get("fields") or {}
    title = str(fields.get("summary") or issue["key"])[:1024]
    incident = ingest.report(
        session,
        service_id=integration.service_id,
        title=title if len(title) >= 3 else f"{issue['key']}: {title}",
        channel="jira",
        actor=actor,
        now=now,
        fields={"actual": _text(fields.get("description")).strip()[:20000] or None},
        ticketed=False,
    )
    base = str(issue.get("self") or "").split("/rest/", 1)[0]
    incident.jira_key, incident.jira_state = issue["key"], "created"
    incident.jira_url = f"{base}/browse/{issue['key']}" if base else None
    incident.jira_status = ((fields.get("status") or {}).get("name") or "")[:100] or None
    incidents_service.record_stage(incident, "ticketed", now)
    timeline(
        session,
        incident,
        now=now,
        kind="jira.linked",
        actor=actor,
        channel="jira",
        key=issue["key"],
        label=onduty_label(incident.number),
    )
    session.flush()
    return incident.id
