"""Shared reading of untrusted JSON for the intake parsers: decoding, typed getters, paths.

Every helper raises IntakeError naming the dotted path, so no parser can leak a KeyError or
TypeError for a body of an unexpected shape.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from onduty.intake.signal import MAX_KEY, MAX_SUMMARY, IntakeError

MAX_DEPTH = 64
"""Deepest nesting accepted; real payloads stay under 10, and later code may recurse into it."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        # 1e999 decodes to inf, which neither strict JSON nor PostgreSQL JSONB can store.
        raise ValueError(f"number out of range: {text}")
    return value


def _reject_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _check_tree(doc: Any) -> None:
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise IntakeError(f"body is nested more than {MAX_DEPTH} levels deep", None)
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                _check_text(key)
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)


def _check_text(text: str) -> None:
    if "\x00" in text:
        # "\u0000" is valid JSON, but no PostgreSQL text column can hold it.
        raise IntakeError("body contains a NUL character, which onduty cannot store", None)
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # json.loads accepts "\ud800"; the database encoders would fail on it later.
        raise IntakeError(
            "body is not valid JSON: it contains an unpaired surrogate", None
        ) from None


def load_json(body: bytes) -> Any:
    """Decode a request body as strict JSON (no NaN/Infinity, no lone surrogates or NUL
    characters, bounded depth)."""
    try:
        doc = json.loads(bytes(body), parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise IntakeError(f"body is nested more than {MAX_DEPTH} levels deep", None) from None
    except (ValueError, TypeError):
        # JSONDecodeError, UnicodeDecodeError and int-size limits are all ValueErrors.
        raise IntakeError("body is not valid JSON", None) from None
    _check_tree(doc)
    return doc


def load_object(body: bytes) -> dict[str, Any]:
    """Decode a body that must be one JSON object."""
    doc = load_json(body)
    if not isinstance(doc, dict):
        raise IntakeError(f"body must be a JSON object, not {kind_of(doc)}", None)
    return doc


def kind_of(value: object) -> str:
    """Name a JSON value's type the way an error message for a person should."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def join(path: str, key: str | int) -> str:
    """Extend a dotted JSON path: join("alerts", 2) == "alerts[2]"."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def need_object(value: object, path: str) -> dict[str, Any]:
    if value is None:
        raise IntakeError(f"{path} is missing", path)
    if not isinstance(value, dict):
        raise IntakeError(f"{path} must be an object, not {kind_of(value)}", path)
    return value


def opt_object(value: object, path: str) -> dict[str, Any]:
    """An optional object: absent or null reads as {}."""
    if value is None:
        return {}
    return need_object(value, path)


def need_list(value: object, path: str) -> list[Any]:
    if value is None:
        raise IntakeError(f"{path} is missing", path)
    if not isinstance(value, list):
        raise IntakeError(f"{path} must be an array, not {kind_of(value)}", path)
    return value


def opt_str(value: object, path: str) -> str | None:
    """An optional string: absent or null reads as None, any other non-string is an error."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise IntakeError(f"{path} must be a string, not {kind_of(value)}", path)
    return value


def lenient_str(value: object) -> str | None:
    """A decorative string (a link, a display name): anything but a non-empty string is ignored."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def string_map(value: object, path: str, *, required: bool = False) -> dict[str, str]:
    """A map<string,string> such as labels; scalar values are turned into their JSON text.

    Numbers and booleans are accepted because hand-written senders put them in labels; objects
    and arrays are refused, because a label must be comparable as one string.
    """
    if value is None and not required:
        return {}
    obj = need_object(value, path)
    out: dict[str, str] = {}
    for key, item in obj.items():
        if isinstance(item, str):
            out[key] = item
        elif isinstance(item, bool):
            out[key] = "true" if item else "false"
        elif isinstance(item, int | float):
            out[key] = json.dumps(item)
        elif item is None:
            continue
        else:
            field = join(path, key)
            raise IntakeError(f"{field} must be a string, not {kind_of(item)}", field)
    return out


def parse_timestamp(value: object) -> datetime | None:
    """Read an RFC 3339 / ISO 8601 string or epoch seconds as aware UTC; None if unreadable.

    Timestamps never make a body invalid: an alert with a garbled time is still an alert.
    A value without an offset is taken as UTC; Go's zero time and epoch 0 mean "unset".
    """
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            if value <= 0:
                return None
            # Senders that mean milliseconds give 13-digit numbers; seconds stay under 1e11.
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if text.endswith(("z", "Z")):
                text = text[:-1] + "+00:00"
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            parsed = parsed.astimezone(UTC)
            if parsed.year <= 1:
                return None
            return parsed
    except (ValueError, OverflowError, OSError):
        return None
    return None


def clip_summary(text: str) -> str:
    """A one-line title: whitespace collapsed, cut at MAX_SUMMARY characters."""
    line = " ".join(text.split())
    if len(line) > MAX_SUMMARY:
        return line[: MAX_SUMMARY - 1] + "…"
    return line


def first_text(*candidates: object) -> str | None:
    """The first candidate that is a string with something in it, clipped as a summary."""
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return clip_summary(candidate)
    return None


def bounded_key(text: str) -> str:
    """A sender's key as kept: as given up to MAX_KEY characters, else ``sha256:<hex>``."""
    if len(text) <= MAX_KEY:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def labels_digest(labels: Mapping[str, str]) -> str:
    """sha256 of the sorted labels, stable across senders' key order."""
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def unique_links(links: Iterable[str | None]) -> list[str]:
    """Drop empties and repeats, keep the sender's order."""
    seen: dict[str, None] = {}
    for link in links:
        if link:
            seen.setdefault(link, None)
    return list(seen)
