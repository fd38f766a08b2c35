"""Intercom webhook notifications in (FORMATS §6): a signed `conversation.user.created` (or a
tag added, when the integration has `tag`) becomes a bug report and an incident with channel
`intercom`, linked to the conversation so that status updates are posted back on it. Nothing
is stored for a bad signature, a ping, another topic, a conversation without the tag, or a
notification seen before (its id is unique in `intercom_conversation`)."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.errors import OndutyError
from onduty.incidents import ingest
from onduty.services.models import Integration
from onduty.statuspage import service
from onduty.statuspage.models import IntercomConversation

TOPICS = ("conversation.user.created", "conversation_part.tag.created")
_TAGS = re.compile(r"<[^>]+>")


class BadSignature(OndutyError):
    """The X-Hub-Signature is missing or wrong (HTTP 401)."""


@dataclass(frozen=True)
class Received:
    outcome: str  # created | duplicate | ignored
    incident_id: int | None = None
    reason: str | None = None


def signature(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def verify(secret: str | None, body: bytes, header: str | None) -> None:
    """Raises BadSignature unless `header` is `sha1=` + HMAC-SHA1(client secret, body)."""
    if not secret:
        raise BadSignature(
            "Intercom is not configured (ONDUTY_INTERCOM_CLIENT_SECRET)", "signature"
        )
    if not header or not hmac.compare_digest(signature(secret, body), header.strip().lower()):
        raise BadSignature("the X-Hub-Signature does not match the body", "X-Hub-Signature")


def _text(value: Any) -> str:
    plain = html.unescape(_TAGS.sub(" ", value if isinstance(value, str) else ""))
    return " ".join(plain.split())


def receive(session: Session, *, integration: Integration, body: bytes, now: datetime) -> Received:
    """Store what a verified notification asks for, in the caller's transaction."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise OndutyError("the body is not JSON", None) from None
    if not isinstance(doc, dict):
        raise OndutyError("the body is not a JSON object", None)
    topic = doc.get("topic")
    if topic not in TOPICS:
        return Received("ignored", reason=f"topic {topic!r} opens nothing")
    notification = doc.get("id")
    item = (doc.get("data") or {}).get("item") if isinstance(doc.get("data"), dict) else None
    if not isinstance(notification, str) or not notification or not isinstance(item, dict):
        raise OndutyError("a conversation notification needs id and data.item", "id")
    conversation = item.get("id")
    if not isinstance(conversation, str | int) or str(conversation) == "":
        raise OndutyError("the conversation has no id", "data.item.id")
    conversation = str(conversation)
    if service.known_notification(session, notification[:100]):
        return Received("duplicate", reason="this notification was received before")
    config = integration.config or {}
    tag = config.get("tag")
    tags = {
        t.get("name") for t in ((item.get("tags") or {}).get("tags") or []) if isinstance(t, dict)
    }
    if tag and tag not in tags:
        return Received("ignored", reason=f"the conversation is not tagged {tag!r}")
    linked = session.scalar(
        select(IntercomConversation.incident_id).where(
            IntercomConversation.conversation_id == conversation
        )
    )
    if linked is not None:
        return Received("duplicate", linked, "the conversation is linked already")
    source: dict[str, Any] = item["source"] if isinstance(item.get("source"), dict) else {}
    author: dict[str, Any] = source["author"] if isinstance(source.get("author"), dict) else {}
    text = _text(source.get("body")) or _text(item.get("title")) or "Intercom conversation"
    subject = _text(source.get("subject")) or _text(item.get("title"))
    title = (subject or text)[:200]
    if len(title) < 3:
        title = f"Intercom conversation {conversation}"
    who = author.get("name") or author.get("email") or "an Intercom user"
    contact = author.get("email")
    url = source.get("url") if isinstance(source.get("url"), str) else None
    incident = ingest.report(
        session,
        service_id=integration.service_id,
        title=title,
        channel="intercom",
        actor="intercom",
        now=now,
        fields={
            "actual": text[:20000],
            "reporter": f"{who} <{contact}>" if contact else str(who),
            "environment": url,
            "links": [f"intercom:conversation/{conversation}"],
        },
    )
    made = service.link_conversation(
        session,
        notification_id=notification[:100],
        conversation_id=conversation,
        incident_id=incident.id,
        reply_as=config.get("reply_as", "reply"),
        now=now,
    )
    if not made:  # the same notification, in a race: the caller rolls back
        raise OndutyError("duplicate notification", "id")
    return Received("created", incident.id)
