"""The generic JSON webhook: signals read from any JSON through a configurable field mapping."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from onduty.errors import InvalidInput
from onduty.intake._json import (
    bounded_key,
    clip_summary,
    join,
    kind_of,
    lenient_str,
    load_json,
    parse_timestamp,
    string_map,
    unique_links,
)
from onduty.intake.signal import Action, IntakeError, Signal, normalise_severity

# Where each field is looked for when the integration's config does not say. The first path
# holding a value of the right type wins; with these defaults a value of the wrong type is
# skipped, whereas a path the operator configured must hold the right type.
DEFAULT_PATHS: dict[str, tuple[str, ...]] = {
    "summary": ("summary", "title", "message", "description", "text", "name"),
    "dedup_key": ("dedup_key", "dedupKey", "fingerprint", "id", "key", "alert_id"),
    "severity": ("severity", "level", "priority"),
    "status": ("status", "state", "event_action", "action"),
    "labels": ("labels",),
    "links": ("links", "url", "link"),
    "occurred_at": ("timestamp", "occurred_at", "time", "created_at", "startsAt"),
}
DEFAULT_RESOLVED_VALUES = (
    "resolved", "resolve", "ok", "closed", "close", "recovered", "normal", "inactive", "cleared",
)  # fmt: skip
DEFAULT_ACKNOWLEDGED_VALUES = ("acknowledged", "acknowledge", "ack", "acked")

_PATH_KEYS = (*DEFAULT_PATHS, "details", "alerts")
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class GenericMapping:
    """A checked field mapping. Paths are dotted (``alert.labels``), list items by number
    (``alerts.0.name`` or ``alerts[0].name``); keys containing dots cannot be addressed."""

    paths: Mapping[str, tuple[tuple[str, ...], ...]]
    explicit: frozenset[str]
    details: tuple[str, ...] | None
    alerts: tuple[str, ...] | None
    resolved_values: frozenset[str]
    acknowledged_values: frozenset[str]
    source: str


def check_config(config: Mapping[str, Any] | None) -> GenericMapping:
    """Check a generic integration's config and return the mapping the parser uses.

    Keys (all optional): ``summary``, ``dedup_key``, ``severity``, ``status``, ``labels``,
    ``links``, ``occurred_at`` (each a dotted path or a list of paths tried in order),
    ``details`` (path of the part kept as details; default the whole item), ``alerts`` (path of
    an array holding one alert per item; default the body itself, and a body that is an array
    is one alert per element), ``resolved_values`` and ``acknowledged_values`` (status values,
    case-insensitive; any other status, or none, means trigger), ``source`` (name recorded on
    the signal, default "generic").

    Raises:
        InvalidInput: the config itself is wrong (an operator's mistake, not the sender's);
            `field` is ``config.<key>``.
    """
    config = config or {}
    unknown = sorted(
        set(config) - {*_PATH_KEYS, "resolved_values", "acknowledged_values", "source"}
    )
    if unknown:
        raise InvalidInput(
            f"unknown generic webhook setting {unknown[0]!r}", f"config.{unknown[0]}"
        )
    paths: dict[str, tuple[tuple[str, ...], ...]] = {}
    explicit: set[str] = set()
    for key, defaults in DEFAULT_PATHS.items():
        if config.get(key) is None:
            paths[key] = tuple(_split(p, key) for p in defaults)
        else:
            paths[key] = tuple(_split(p, key) for p in _path_list(config[key], key))
            explicit.add(key)
    details = None if config.get("details") is None else _split(config["details"], "details")
    alerts = None if config.get("alerts") is None else _split(config["alerts"], "alerts")
    source = config.get("source", "generic")
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput("source must be a non-empty string", "config.source")
    return GenericMapping(
        paths=paths,
        explicit=frozenset(explicit),
        details=details,
        alerts=alerts,
        resolved_values=_values(config, "resolved_values", DEFAULT_RESOLVED_VALUES),
        acknowledged_values=_values(config, "acknowledged_values", DEFAULT_ACKNOWLEDGED_VALUES),
        source=source.strip(),
    )


def _path_list(value: object, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and value and all(isinstance(p, str) for p in value):
        return list(value)
    raise InvalidInput(f"{key} must be a dotted path or a list of them", f"config.{key}")


def _split(path: object, key: str) -> tuple[str, ...]:
    if not isinstance(path, str) or not path.strip():
        raise InvalidInput(f"{key} must be a non-empty dotted path", f"config.{key}")
    parts = tuple(_INDEX.sub(r".\1", path.strip()).strip(".").split("."))
    if any(not part for part in parts):
        raise InvalidInput(f"{key} path {path!r} has an empty segment", f"config.{key}")
    return parts


def _values(config: Mapping[str, Any], key: str, default: Sequence[str]) -> frozenset[str]:
    value = config.get(key)
    if value is None:
        return frozenset(default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{key} must be a list of strings", f"config.{key}")
    return frozenset(v.strip().lower() for v in value)


def parse(
    body: bytes, headers: Mapping[str, str], *, config: Mapping[str, Any] | None = None
) -> list[Signal]:
    """Parse a JSON webhook with the integration's field mapping (see `check_config`).

    A summary is required. Dedup key: ``generic:v1:<value at dedup_key>``, or when the body has
    none, ``generic-summary:v1:<sha256 of the summary>`` so that repeats of one alert still
    collapse. Headers are not used.

    Raises:
        IntakeError: the body is not JSON, or a mapped field is missing or of the wrong type.
        InvalidInput: the config is wrong (not the sender's fault).
    """
    mapping = check_config(config)
    doc = load_json(body)
    if mapping.alerts is not None:
        if not isinstance(doc, dict):
            raise IntakeError(f"body must be a JSON object, not {kind_of(doc)}", None)
        found, where = _resolve(doc, mapping.alerts, "")
        if found is None:
            raise IntakeError(f"{where} is missing", where)
        if not isinstance(found, list):
            raise IntakeError(f"{where} must be an array, not {kind_of(found)}", where)
        return [_signal(item, join(where, i), mapping) for i, item in enumerate(found)]
    if isinstance(doc, list):
        return [_signal(item, f"[{i}]", mapping) for i, item in enumerate(doc)]
    return [_signal(doc, "", mapping)]


def _resolve(root: object, parts: tuple[str, ...], base: str) -> tuple[Any, str]:
    """Follow a path; return (value or None, the dotted path written out for messages)."""
    node = root
    where = base
    for part in parts:
        if isinstance(node, list) and part.isascii() and part.isdigit():
            index = int(part)
            where = join(where, index)
            node = node[index] if index < len(node) else None
        elif isinstance(node, dict):
            where = join(where, part)
            node = node.get(part)
        else:
            return None, join(where, part)
    return node, where


def _pick(
    item: object, mapping: GenericMapping, key: str, base: str, kinds: tuple[type, ...]
) -> Any:
    """The first value at one of the key's paths; type-checked if the operator configured it."""
    for parts in mapping.paths[key]:
        value, where = _resolve(item, parts, base)
        if value is None:
            continue
        if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
            return value
        if key in mapping.explicit:
            raise IntakeError(f"{where} must be {_describe(kinds)}, not {kind_of(value)}", where)
    return None


def _describe(kinds: tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "a number",
        float: "a number",
        dict: "an object",
        list: "an array",
    }
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def _signal(value: object, base: str, mapping: GenericMapping) -> Signal:
    item = value
    if not isinstance(item, dict):
        where = base or "body"
        raise IntakeError(f"{where} must be a JSON object, not {kind_of(item)}", base or None)

    raw_summary = _pick(item, mapping, "summary", base, (str, int, float))
    summary = clip_summary(str(raw_summary)) if raw_summary is not None else ""
    if not summary:
        tried = ", ".join(".".join(p) for p in mapping.paths["summary"])
        where = join(base, ".".join(mapping.paths["summary"][0]))
        raise IntakeError(f"no summary found (looked at {tried})", where)

    raw_key = _pick(item, mapping, "dedup_key", base, (str, int))
    key = str(raw_key).strip() if raw_key is not None else ""
    if key:
        dedup_key = f"generic:v1:{bounded_key(key)}"
    else:
        digest = hashlib.sha256(summary.encode("utf-8")).hexdigest()
        dedup_key = f"generic-summary:v1:{digest}"

    status = _pick(item, mapping, "status", base, (str,))
    action: Action = "trigger"
    if isinstance(status, str):
        lowered = status.strip().lower()
        if lowered in mapping.resolved_values:
            action = "resolve"
        elif lowered in mapping.acknowledged_values:
            action = "acknowledge"

    labels_value = _pick(item, mapping, "labels", base, (dict,))
    labels_where = join(base, ".".join(mapping.paths["labels"][0]))
    labels = string_map(labels_value, labels_where) if labels_value is not None else {}

    if mapping.details is None:
        details: dict[str, Any] = item
    else:
        found, _ = _resolve(item, mapping.details, base)
        details = found if isinstance(found, dict) else {"details": found}

    return Signal(
        action=action,
        dedup_key=dedup_key,
        summary=summary,
        source=mapping.source,
        severity=normalise_severity(_pick(item, mapping, "severity", base, (str,))),
        labels=labels,
        details=details,
        links=_links(_pick(item, mapping, "links", base, (str, list))),
        occurred_at=parse_timestamp(_pick(item, mapping, "occurred_at", base, (str, int, float))),
        source_dedup_key=key or None,
    )


def _links(value: object) -> list[str]:
    if isinstance(value, str):
        return unique_links([lenient_str(value)])
    if not isinstance(value, list):
        return []
    found: list[str | None] = []
    for entry in value:
        if isinstance(entry, dict):
            found.append(lenient_str(entry.get("href")) or lenient_str(entry.get("url")))
        else:
            found.append(lenient_str(entry))
    return unique_links(found)
