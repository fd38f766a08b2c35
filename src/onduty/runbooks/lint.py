"""The runbooks folder, read and checked without a database: each file parsed (errors at
FILE:LINE), and checked against the policy file (unknown services and owners, a service with
no runbook, empty Steps, relative links to files that do not exist)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from onduty.policy.loader import Lines, Problem
from onduty.policy.schema import PolicyFile
from onduty.runbooks.parse import (
    RunbookError,
    RunbookFile,
    content_hash,
    parse_runbook,
    relative,
    runbook_id,
)


@dataclass
class Folder:
    """What a runbooks folder holds: the runbooks that parsed, and per file that did not, its
    problems (a file that fails keeps its stored version in place on apply)."""

    path: Path
    runbooks: list[RunbookFile] = field(default_factory=list)
    failed: dict[str, list[Problem]] = field(default_factory=dict)  # runbook id -> problems
    files: dict[str, Path] = field(default_factory=dict)  # runbook id -> its file
    unchanged: set[str] = field(default_factory=set)  # ids skipped: the hash was known


def folder_of(policy: PolicyFile, policy_path: Path) -> Path | None:
    """The runbooks folder the policy names, relative to the policy file, or None."""
    if policy.runbooks is None:
        return None
    return (policy_path.parent / policy.runbooks).resolve()


def read_folder(path: Path, *, unchanged: dict[str, str] | None = None) -> Folder:
    """Parse every `*.md` file of the folder (not its subfolders: they hold images and other
    files the runbooks link to), but those whose content hash `unchanged` gives for their id."""
    folder = Folder(path)
    for file in sorted(path.glob("*.md")):
        ident = runbook_id(file)
        folder.files[ident] = file
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            folder.failed[ident] = [
                Problem("error", f"cannot read the file: {exc}", (), 0, str(file))
            ]
            continue
        if unchanged and unchanged.get(ident) == content_hash(text):
            folder.unchanged.add(ident)
            continue
        try:
            folder.runbooks.append(parse_runbook(ident, text))
        except RunbookError as exc:
            folder.failed[ident] = [
                Problem("error", message, (), line, str(file)) for line, message in exc.problems
            ]
    return folder


def references(policy: PolicyFile, runbook: RunbookFile, file: Path) -> list[Problem]:
    """Errors that make a runbook unusable with this policy: unknown services or owner."""
    services = {s.id for s in policy.services}
    people = {p.id for p in policy.people}
    out = []
    for name in runbook.services:
        if name not in services:
            line = runbook.lines.get("services", 1)
            out.append(
                Problem(
                    "error",
                    f"runbook {runbook.id!r}: unknown service {name!r}",
                    (),
                    line,
                    str(file),
                )
            )
    if runbook.owner is not None and runbook.owner not in people:
        line = runbook.lines.get("owner", 1)
        out.append(
            Problem(
                "error",
                f"runbook {runbook.id!r}: unknown owner {runbook.owner!r}",
                (),
                line,
                str(file),
            )
        )
    return out


def lint_runbooks(policy: PolicyFile, policy_path: Path, lines: Lines) -> list[Problem]:
    """Every problem of the policy's runbooks folder; none when the policy names no folder
    (then each service without a runbook is a warning, as SPEC §4 asks)."""
    path = folder_of(policy, policy_path)
    problems: list[Problem] = []
    covered: set[str] = set()
    if path is not None:
        if not path.is_dir():
            return [
                Problem(
                    "error",
                    f"runbooks: {policy.runbooks!r} is not a folder (looked for {path})",
                    ("runbooks",),
                    lines.of(("runbooks",)),
                )
            ]
        folder = read_folder(path)
        for failed in folder.failed.values():
            problems += failed
        for runbook in folder.runbooks:
            file = folder.files[runbook.id]
            problems += references(policy, runbook, file)
            covered.update(runbook.services)
            problems += _content(runbook, file)
    for i, service in enumerate(policy.services):
        if service.id not in covered:
            problems.append(
                Problem(
                    "warning",
                    f"service {service.id!r} has no runbook",
                    ("services", i, "id"),
                    lines.of(("services", i, "id")),
                )
            )
    return problems


def _content(runbook: RunbookFile, file: Path) -> list[Problem]:
    out = []
    name = str(file)
    if not runbook.sections.get("Steps"):
        line = runbook.section_lines.get("Steps", runbook.body_line)
        what = "is empty" if "Steps" in runbook.sections else "is missing"
        out.append(
            Problem("warning", f"runbook {runbook.id!r}: its Steps section {what}", (), line, name)
        )
    for link in runbook.links:
        target = relative(link.target)
        if target is None:
            continue
        if not (file.parent / target).exists():
            what = "image" if link.image else "link"
            out.append(
                Problem(
                    "error",
                    f"runbook {runbook.id!r}: broken {what} {link.target!r}",
                    (),
                    link.line,
                    name,
                )
            )
    return out
