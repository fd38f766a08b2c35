"""The postmortem questionnaire and its Markdown export, pure: no database, no clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("summary", "Summary", "What happened, in two or three sentences."),
    ("impact", "Impact", "What users and the business lost, and for how long."),
    ("clients_affected", "Clients affected", "Which clients, and how many."),
    ("detection", "Detection", "How we found out: an alert, a client, a colleague? How fast?"),
    ("root_cause", "Root cause", "The underlying cause, not the trigger."),
    ("went_well", "What went well", ""),
    ("went_badly", "What went badly", ""),
    ("lucky", "Where we got lucky", ""),
)
WHYS = 5
TEXT_KEYS = tuple(key for key, _label, _hint in QUESTIONS)


def blank_answers() -> dict[str, Any]:
    return {**dict.fromkeys(TEXT_KEYS, ""), "five_whys": [""] * WHYS}


def to_markdown(
    *,
    title: str,
    status: str,
    owner: str | None,
    due: str,
    answers: Mapping[str, Any],
    timeline: Sequence[Mapping[str, str]],
    actions: Sequence[Mapping[str, Any]],
) -> str:
    """The postmortem as a Markdown document (the export of a published one)."""
    out = [f"# Postmortem: {title}", "", f"Status: {status} · Owner: {owner or '—'} · Due: {due}"]
    for key, label, _hint in QUESTIONS[:5]:
        out += ["", f"## {label}", "", str(answers.get(key) or "—")]
    out += ["", "## Five whys", ""]
    whys = [w for w in answers.get("five_whys") or [] if w]
    out += [f"{i}. {why}" for i, why in enumerate(whys, 1)] or ["—"]
    for key, label, _hint in QUESTIONS[5:]:
        out += ["", f"## {label}", "", str(answers.get(key) or "—")]
    out += ["", "## Timeline (UTC)", ""]
    out += [f"- {e['at']} — {e['text']}" for e in timeline] or ["—"]
    out += ["", "## Action items", ""]
    if actions:
        out += ["| Action | Owner | Due | Status | Jira |", "| --- | --- | --- | --- | --- |"]
        for a in actions:
            cells = [
                str(a.get("title") or ""),
                str(a.get("owner") or "—"),
                str(a.get("due_date") or "—"),
                str(a.get("status") or "open"),
                str(a.get("jira_key") or ""),
            ]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    else:
        out.append("—")
    return "\n".join(out) + "\n"
