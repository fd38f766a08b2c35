"""Reads a policy file: YAML with the line of every key and item kept, strict validation into
`PolicyFile`, and every problem reported at once as `FILE:LINE: message`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from onduty.policy.schema import PolicyFile

PathT = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One finding of the loader or of lint, located by its path in the document."""

    severity: Literal["error", "warning", "notice"]
    message: str
    path: PathT = ()
    line: int = 0
    file: str | None = None  # another file than the policy file (a runbook)

    def format(self, filename: str) -> str:
        tag = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.file or filename}:{self.line}: {tag}{self.message}"


@dataclass
class Lines:
    """Maps a document path to the 1-based line where it is written."""

    by_path: dict[PathT, int] = field(default_factory=dict)

    def of(self, path: Sequence[str | int]) -> int:
        # The deepest known ancestor: pydantic locations can name keys that are absent.
        parts = tuple(path)
        while parts:
            if parts in self.by_path:
                return self.by_path[parts]
            parts = parts[:-1]
        return self.by_path.get((), 1)


def dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


class PolicyError(Exception):
    """The file could not be loaded; `problems` holds every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


class _Builder:
    """Turns a composed YAML node tree into plain data, remembering each node's line."""

    def __init__(self) -> None:
        self.lines = Lines()
        self.problems: list[Problem] = []
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: PathT) -> Any:
        self.lines.by_path.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._constructor.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | bool) or isinstance(key, bool):
                    key = str(key)
                child = (*path, key)
                line = key_node.start_mark.line + 1
                if key in out:
                    self.problems.append(
                        Problem("error", f"duplicate key {key!r} in {dotted(path)}", child, line)
                    )
                    continue
                self.lines.by_path[child] = line
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            return self._constructor.construct_object(node, deep=True)
        except (ValueError, yaml.YAMLError):
            # An impossible timestamp such as 2026-13-01: keep the text for the schema to name.
            return node.value


def _describe(error: Any, data: Any) -> tuple[PathT, str]:
    loc: PathT = tuple(p for p in error["loc"] if not _is_internal(p))
    kind = error["type"]
    msg = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return loc, f"unknown key {loc[-1]!r} in {dotted(loc[:-1])}"
    if kind == "missing":
        return loc, f"missing required key {loc[-1]!r} in {dotted(loc[:-1])}"
    if kind.startswith("literal_error"):
        got = _value_at(data, loc)
        return loc, f"{dotted(loc)}: {got!r} is not allowed; {msg[0].lower()}{msg[1:]}"
    if kind == "string_type":
        got = _value_at(data, loc)
        return loc, f"{dotted(loc)}: must be a string, got {got!r}; quote it in YAML"
    return loc, f"{dotted(loc)}: {msg}"


def _is_internal(part: Any) -> bool:
    # Pydantic inserts validator names ("function-before[...]") into locations.
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _value_at(data: Any, loc: PathT) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def parse_text(text: str) -> tuple[PolicyFile, Lines]:
    """Parse policy YAML; raise PolicyError listing every problem (path-located, with lines)."""
    return parse_model(text, PolicyFile)


def parse_model(text: str, model: type[M]) -> tuple[M, Lines]:
    """Parse YAML into `model` strictly (the policy file, a runbook's front matter); raise
    PolicyError listing every problem with its line in `text`."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([Problem("error", f"invalid YAML: {problem}", (), line)]) from None
    if node is None:
        raise PolicyError([Problem("error", "the file is empty", (), 1)])
    builder = _Builder()
    data = builder.build(node, ())
    problems = list(builder.problems)
    if not isinstance(data, dict):
        raise PolicyError([Problem("error", "the top level must be a mapping", (), 1)])
    try:
        policy = model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc, message = _describe(error, data)
            problems.append(Problem("error", message, loc, builder.lines.of(loc)))
        raise PolicyError(sorted(problems, key=lambda p: p.line)) from None
    if problems:
        raise PolicyError(problems)
    return policy, builder.lines


def load_file(path: Path) -> tuple[PolicyFile, Lines]:
    """Read and parse a policy file; an unreadable file is one problem at line 0."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PolicyError([Problem("error", f"cannot read the file: {reason}", (), 0)]) from None
    return parse_text(text)
