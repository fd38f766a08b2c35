"""Communication templates (SPEC §2, §6.4): the words clients and developers read, written by
the team in the policy file as Jinja2 and rendered in Jinja2's immutable sandbox, so a template
can read the values it is given and nothing else (no attribute walk to `__class__`, no
mutation). Every key has a built-in default in the seed policy's words.

`check` is what `policy lint` runs: a syntax error or a variable the key does not provide is
found when the file is linted, never when the first client notice is due at 3 a.m. Rendering
uses StrictUndefined for the same reason: a missing value is an error, not an empty string."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

_STATUS_VARS = frozenset(
    {
        "page_name",  # status_page.name
        "name",  # the status incident's name
        "status",  # investigating | identified | monitoring | resolved
        "impact",  # none | minor | major | critical
        "components",  # the affected components' names, joined: "Web shop and Payments"
        "component_list",  # the same as a list of names
        "body",  # the update's own text (may be empty)
        "url",  # the status page
        "incident",  # {number, title, priority, service, url} when linked to an incident
        "started_at",  # local time, formatted with its zone
        "updated_at",
    }
)

# Each key's variables. The defaults below use only these; lint refuses any other name.
VARIABLES: dict[str, frozenset[str]] = {
    "status_investigating": _STATUS_VARS,
    "status_update": _STATUS_VARS,
    "status_resolved": _STATUS_VARS,
    "client_email": _STATUS_VARS | {"unsubscribe_url", "kind"},  # kind: new | update | resolved
    "intercom_reply": _STATUS_VARS,
    "developer_handover": frozenset(
        {
            "incident",  # {number, title, priority, service, url, jira_key, jira_url}
            "developer",  # the developer's name
            "handed_by",  # who handed over
            "actual",
            "ideal",
            "tried",
            "runbook",  # the runbook used (its id), or empty
            "links",  # a list of URLs
        }
    ),
}

DEFAULTS: dict[str, str] = {
    "status_investigating": (
        "We are aware of a problem with {{ components }}. The team is looking into this and "
        "will get back with a resolution."
    ),
    "status_update": (
        "{{ body if body else 'The team is still working on the problem with ' ~ components"
        " ~ ' and will get back with a resolution.' }}"
    ),
    "status_resolved": (
        "The problem with {{ components }} has been resolved. {{ body }} Thank you for your "
        "patience."
    ),
    "client_email": (
        "{{ page_name }}: {{ name }} ({{ status }})\n\n"
        "{{ body }}\n\n"
        "Follow it at {{ url }}\n\n"
        "To stop these e-mails: {{ unsubscribe_url }}\n"
    ),
    "intercom_reply": (
        "Update on {{ name }} ({{ status }}): {{ body }} You can follow it at {{ url }}."
    ),
    "developer_handover": (
        "Incident #{{ incident.number }}: {{ incident.title }} ({{ incident.priority }}, "
        "{{ incident.service }})\n"
        "Handed over by {{ handed_by }} to {{ developer }}.\n\n"
        "Actual behaviour:\n{{ actual }}\n\n"
        "Ideal behaviour:\n{{ ideal }}\n\n"
        "What was tried:\n{{ tried }}\n"
        "{% if runbook %}\nRunbook used: {{ runbook }}\n{% endif %}"
        "{% if links %}\nLinks:\n{% for link in links %}- {{ link }}\n{% endfor %}{% endif %}"
        "\n{{ incident.url }}\n"
    ),
}

KEYS = tuple(DEFAULTS)

_ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)


class TemplateProblem(Exception):
    """A template that does not parse, names a variable its key does not provide, or failed
    to render (e.g. refused by the sandbox). `line` is 1-based within the template."""

    def __init__(self, key: str, line: int, message: str) -> None:
        super().__init__(f"template {key!r} line {line}: {message}")
        self.key = key
        self.line = line
        self.message = message


def check(key: str, source: str) -> TemplateProblem | None:
    """The first problem of `source` as template `key`, or None."""
    try:
        ast = _ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return TemplateProblem(key, exc.lineno or 1, exc.message or "syntax error")
    unknown = sorted(meta.find_undeclared_variables(ast) - VARIABLES[key])
    if unknown:
        allowed = ", ".join(sorted(VARIABLES[key]))
        line = next((n for n, text in enumerate(source.splitlines(), 1) if unknown[0] in text), 1)
        return TemplateProblem(
            key, line, f"unknown variable {unknown[0]!r} (this template has: {allowed})"
        )
    return None


def render(key: str, overrides: Mapping[str, str], /, **context: Any) -> str:
    """Render template `key` (the policy's text, else the default) with `context`.

    Raises:
        TemplateProblem: the template does not parse, or the sandbox refused what it did.
    """
    source = overrides.get(key) or DEFAULTS[key]
    problem = check(key, source)
    if problem is not None:
        raise problem
    try:
        return _ENV.from_string(source).render(**context).strip() + (
            "\n" if source.endswith("\n") else ""
        )
    except jinja2.TemplateError as exc:
        raise TemplateProblem(key, getattr(exc, "lineno", None) or 1, str(exc)) from exc
