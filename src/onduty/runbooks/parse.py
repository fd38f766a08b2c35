"""Runbook files (SPEC §6.4), pure: a Markdown file with YAML front matter (`services`,
optional `match` labels and `owner`), its sections, its relative links, and the template that
`onduty runbook new` writes. No database: lint and apply share it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from pydantic import Field, StrictStr

from onduty.policy.loader import PolicyError, parse_model
from onduty.policy.schema import Strict
from onduty.policy.schema import _slug as check_id

SECTIONS = ("Scope", "FAQs", "Diagnostics", "Steps", "Infrastructure")
_FENCE = "---"
_HEADING = re.compile(r"^#{1,3}\s+(.+?)\s*#*\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_MD = MarkdownIt("commonmark").enable("table")


class FrontMatter(Strict):
    services: list[StrictStr] = Field(min_length=1)
    match: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    owner: StrictStr | None = None
    title: StrictStr | None = None


@dataclass(frozen=True)
class Link:
    target: str
    line: int
    image: bool


@dataclass(frozen=True)
class RunbookFile:
    """One parsed runbook. `text` is the whole file (what is stored and exported, so a file
    round-trips byte for byte); `body` the Markdown after the front matter, `body_line` the line
    of the file it starts at; `lines` the file line of each front matter key."""

    id: str
    services: list[str]
    match: dict[str, str]
    owner: str | None
    title: str
    body: str
    text: str
    body_line: int
    sections: dict[str, str]
    section_lines: dict[str, int]
    links: list[Link]
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


class RunbookError(Exception):
    """A runbook file that cannot be used: every problem as (line, message)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__("; ".join(f"line {line}: {message}" for line, message in problems))
        self.problems = problems


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def runbook_id(path: Path) -> str:
    """The runbook's id: its file name without `.md` (SPEC §6.4), which must be a valid id."""
    return path.name.removesuffix(".md")


def parse_runbook(name: str, text: str) -> RunbookFile:
    """Parse runbook `name` (its id) from the file's `text`.

    Raises:
        RunbookError: no front matter, invalid YAML or keys (with their lines), a bad id.
    """
    problems: list[tuple[int, str]] = []
    try:
        check_id(name)
    except ValueError as exc:
        problems.append((1, f"the file name gives the id {name!r}: {exc}"))
    lines = text.splitlines()
    if not lines or lines[0].strip() != _FENCE:
        raise RunbookError([*problems, (1, "a runbook starts with front matter: a line '---'")])
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == _FENCE), None)
    if end is None:
        raise RunbookError([*problems, (1, "the front matter's closing '---' line is missing")])
    yaml_text = "\n".join(lines[1:end]) + "\n"
    try:
        front, where = parse_model(yaml_text, FrontMatter)
    except PolicyError as exc:
        # Lines in the YAML are counted from the line after the opening '---'.
        problems += [(p.line + 1, p.message) for p in exc.problems]
        raise RunbookError(problems) from None
    if problems:
        raise RunbookError(problems)
    key_lines = {str(path[0]): line + 1 for path, line in where.by_path.items() if len(path) == 1}
    body_line = end + 2
    body = "\n".join(lines[end + 1 :])
    sections, section_lines = _sections(body, body_line)
    title = front.title or _title(body) or name
    return RunbookFile(
        id=name,
        services=list(front.services),
        match=dict(front.match),
        owner=front.owner,
        title=title,
        body=body,
        text=text,
        body_line=body_line,
        sections=sections,
        section_lines=section_lines,
        links=_links(body, body_line),
        lines=key_lines,
    )


def _title(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or None
    return None


def _sections(body: str, first_line: int) -> tuple[dict[str, str], dict[str, int]]:
    """The known sections' text (by name), and the line each heading is on; text under other
    headings belongs to the section above it."""
    known = {s.lower(): s for s in SECTIONS}
    sections: dict[str, list[str]] = {}
    where: dict[str, int] = {}
    current: str | None = None
    fenced = False
    for i, line in enumerate(body.splitlines()):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading and heading.group(1).strip().lower() in known:
            current = known[heading.group(1).strip().lower()]
            sections.setdefault(current, [])
            where.setdefault(current, first_line + i)
            continue
        if current is not None:
            sections[current].append(line)
    return {k: "\n".join(v).strip() for k, v in sections.items()}, where


def _links(body: str, first_line: int) -> list[Link]:
    found: list[Link] = []
    for token in _MD.parse(body):
        if token.type != "inline" or not token.children:
            continue
        line = first_line + (token.map[0] if token.map else 0)
        for child in token.children:
            if child.type == "link_open":
                found.append(Link(str(child.attrs.get("href", "")), line, image=False))
            elif child.type == "image":
                found.append(Link(str(child.attrs.get("src", "")), line, image=True))
    return found


def relative(link: str) -> str | None:
    """The file path a link names inside the runbooks folder, or None for a URL, an anchor or
    an absolute path (which lint does not check)."""
    if not link or link.startswith(("#", "/")) or _SCHEME.match(link):
        return None
    return link.split("#", 1)[0].split("?", 1)[0] or None


def template(service: str, *, owner: str | None = None, name: str | None = None) -> str:
    """The text `onduty runbook new SERVICE` writes: front matter and the five sections."""
    owner_line = f"owner: {owner}\n" if owner else "# owner: <person id>\n"
    return (
        f"---\nservices: [{service}]\n"
        "# match: {alertname: SomeAlert}   # labels an alert must carry for this runbook\n"
        f"{owner_line}---\n"
        f"# {name or service}\n\n"
        "## Scope\n\nWhat this runbook covers, and what it does not.\n\n"
        "## FAQs\n\n- **Is it customer-facing?** …\n\n"
        "## Diagnostics\n\n1. Dashboards to open, queries to run, logs to read.\n\n"
        "## Steps\n\n1. The first thing to do.\n2. How to tell it worked.\n\n"
        "## Infrastructure\n\n```mermaid\ngraph LR\n  users --> service\n```\n"
    )


_MD_LINK = re.compile(r'href="([a-z0-9][a-z0-9_-]{0,63})\.md(#[^"]*)?"')


def body_of(text: str) -> str:
    """The Markdown after the front matter (all of `text` if it has none)."""
    lines = text.splitlines()
    if lines and lines[0].strip() == _FENCE:
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == _FENCE), None)
        if end is not None:
            return "\n".join(lines[end + 1 :])
    return text


def to_html(text: str) -> str:
    """A runbook file's body as safe HTML: diagrams shown as such, and links to other runbooks
    of the folder (`payments.md`) pointing at their pages."""
    from onduty.markdown import to_html as markdown_html

    html = markdown_html(body_of(text), diagrams=True)
    return _MD_LINK.sub(lambda m: f'href="/runbooks/{m.group(1)}{m.group(2) or ""}"', html)
