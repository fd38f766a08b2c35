"""The `jira` target: Jira Cloud REST API v3 with an account's e-mail and API token (FORMATS §7).

Two kinds of call, both from outbox rows written by incidents/jira.py:

- `jira.create`: look for the incident's issue by its onduty label first (an engine that died
  after Jira made the issue but before the answer was recorded must not make a second one),
  else create it; the receipt's `provider_id` is the issue key and its `detail` the issue's
  browse URL.
- `jira.update`: a comment and/or a transition chosen by name (transition ids differ per
  workflow, so they are looked up each time). A name the issue's workflow does not offer is a
  permanent error naming the ones it does, unless the issue is already in that status (a repeat
  after a crash).

The description and comments are Atlassian Document Format built here from plain text: every
value is a text node (Jira shows it as text, never as markup), and only http(s) URLs become
links, so HTML or script in a report cannot reach Jira as anything but characters."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from onduty.notify._http import (
    TRANSPORT_ERRORS,
    checked_url,
    error_for_status,
    error_for_transport,
)
from onduty.notify.channels.base import PermanentError, Receipt, RetryableError
from onduty.notify.targets.base import Call

USER_AGENT = "onduty-jira/1"
_URL = re.compile(r"https?://[^\s<>\"']+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- Atlassian Document Format ------------------------------------------------------------------


def _inline(text: str) -> list[dict[str, Any]]:
    """Text nodes, with http(s) URLs as links; control characters dropped."""
    text = _CONTROL.sub("", text)
    nodes: list[dict[str, Any]] = []
    at = 0
    for match in _URL.finditer(text):
        if match.start() > at:
            nodes.append({"type": "text", "text": text[at : match.start()]})
        url = match.group(0)
        nodes.append(
            {"type": "text", "text": url, "marks": [{"type": "link", "attrs": {"href": url}}]}
        )
        at = match.end()
    if at < len(text):
        nodes.append({"type": "text", "text": text[at:]})
    return nodes


def _paragraphs(text: str) -> list[dict[str, Any]]:
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        content: list[dict[str, Any]] = []
        for n, line in enumerate(block.split("\n")):
            if n:
                content.append({"type": "hardBreak"})
            content += _inline(line)
        if content:
            out.append({"type": "paragraph", "content": content})
    return out


def adf(sections: Sequence[Sequence[str]], link: tuple[str, str] | None = None) -> dict[str, Any]:
    """A document of `[heading, text]` sections (an empty heading: text only) and a final link
    paragraph `(label, url)`."""
    content: list[dict[str, Any]] = []
    for heading, text in sections:
        if not text or not text.strip():
            continue
        if heading:
            content.append(
                {
                    "type": "heading",
                    "attrs": {"level": 3},
                    "content": [{"type": "text", "text": _CONTROL.sub("", heading)}],
                }
            )
        content += _paragraphs(text)
    if link is not None:
        label, url = link
        node = {"type": "text", "text": label, "marks": [{"type": "link", "attrs": {"href": url}}]}
        content.append({"type": "paragraph", "content": [node]})
    if not content:
        content = [{"type": "paragraph", "content": []}]
    return {"type": "doc", "version": 1, "content": content}


def label(text: str) -> str:
    """A Jira label: no spaces (Jira refuses them), at most 255 characters."""
    return re.sub(r"\s+", "-", text.strip())[:255]


# --- the target ---------------------------------------------------------------------------------


class JiraTarget:
    """Jira Cloud over REST v3; see the module docstring. 2xx is success; 408, 425, 429, 5xx
    and network errors are retryable (Jira down or slow delays the ticket, it never blocks
    anything else); 400/401/403/404 are permanent. More attempts than a person's message:
    a ticket an hour late is still worth making."""

    name = "jira"
    max_attempts = 8

    def __init__(
        self,
        *,
        base_url: str,
        email: str,
        api_token: str,
        onduty_url: str,
        timeout_s: float = 10,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base = str(checked_url(base_url, "jira base URL")).rstrip("/")
        self._onduty = onduty_url.rstrip("/")
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            auth=httpx.BasicAuth(email, api_token),
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
        )

    def browse_url(self, key: str) -> str:
        return f"{self._base}/browse/{key}"

    def send(self, call: Call) -> Receipt:
        payload = call.payload
        if call.event == "jira.create":
            return self._create(payload)
        if call.event == "jira.update":
            return self._update(payload)
        raise PermanentError(f"jira target has no call {call.event!r}")

    # --- calls ----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        try:
            response = self._client.request(method, f"{self._base}{path}", json=body)
        except TRANSPORT_ERRORS as exc:
            raise error_for_transport(exc, "jira") from exc
        if response.is_success:
            return response
        raise error_for_status(
            response, f"jira answered HTTP {response.status_code}{_why(response)}"
        )

    def _find(self, project: str, onduty_label: str) -> str | None:
        jql = f'project = "{_quoted(project)}" AND labels = "{_quoted(onduty_label)}"'
        body = {"jql": jql, "fields": ["summary"], "maxResults": 1}
        issues = self._request("POST", "/rest/api/3/search/jql", body).json().get("issues") or []
        return str(issues[0]["key"]) if issues else None

    def _create(self, p: Mapping[str, Any]) -> Receipt:
        found = self._find(p["project"], p["label"])
        if found is not None:
            return Receipt(provider_id=found, detail=self.browse_url(found))
        fields: dict[str, Any] = {
            "project": {"key": p["project"]},
            "summary": _CONTROL.sub("", str(p["summary"]))[:255],
            "issuetype": {"name": p.get("issue_type") or "Bug"},
            "labels": [label(x) for x in [p["label"], *p.get("labels", [])] if x.strip()],
            "description": adf(
                p.get("sections", []),
                (f"onduty incident #{p['number']}", f"{self._onduty}{p['path']}"),
            ),
        }
        if p.get("priority"):
            fields["priority"] = {"name": p["priority"]}
        created = self._request("POST", "/rest/api/3/issue", {"fields": fields}).json()
        key = str(created["key"])
        return Receipt(provider_id=key, detail=self.browse_url(key))

    def _update(self, p: Mapping[str, Any]) -> Receipt:
        key = p.get("issue") or self._find(p["project"], p["label"])
        if not key:
            raise RetryableError("the incident's Jira issue is not made yet")
        if p.get("comment"):
            body = {"body": adf([["", str(p["comment"])]])}
            self._request("POST", f"/rest/api/3/issue/{key}/comment", body)
        if p.get("transition"):
            self._transition(key, str(p["transition"]))
        return Receipt(provider_id=key, detail=self.browse_url(key))

    def _transition(self, key: str, name: str) -> None:
        offered = self._request("GET", f"/rest/api/3/issue/{key}/transitions").json()
        wanted = name.casefold()
        names = []
        for t in offered.get("transitions", []):
            to = (t.get("to") or {}).get("name", "")
            names.append(t.get("name", ""))
            if wanted in (t.get("name", "").casefold(), to.casefold()):
                self._request(
                    "POST", f"/rest/api/3/issue/{key}/transitions", {"transition": {"id": t["id"]}}
                )
                return
        status = self._request("GET", f"/rest/api/3/issue/{key}?fields=status").json()
        current = ((status.get("fields") or {}).get("status") or {}).get("name", "")
        if current.casefold() == wanted:
            return  # done already: a repeat of a call whose answer was lost
        raise PermanentError(
            f"Jira issue {key} has no transition named {name!r} from status {current!r} "
            f"(it offers: {', '.join(repr(n) for n in names) or 'none'}); "
            "check jira.transitions in the policy file",
            code="unknown_transition",
        )


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _why(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    messages = [*data.get("errorMessages", []), *(data.get("errors") or {}).values()]
    return f": {'; '.join(str(m) for m in messages)}" if messages else ""
