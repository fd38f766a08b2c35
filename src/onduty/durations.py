"""Durations as people write them in policy files and settings: `30s`, `5m`, `1h30m`, `7d`, `2w`
(and `200ms` for settings such as the engine tick)."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)(ms|[wdhms])")
_UNITS: dict[str, float] = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def parse_duration(text: str) -> timedelta:
    """Parse `1h30m` and friends; raise ValueError with a readable message otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"expected a duration such as 5m or 1h30m, got {text!r}")
    s = text.strip()
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f"{text!r} is not a duration (write e.g. 30s, 5m, 1h30m, 7d)")
    return timedelta(seconds=total)


def format_duration(delta: timedelta | int) -> str:
    """The shortest canonical spelling: 300 s -> `5m`, 5400 s -> `1h30m`, 0 -> `0m`."""
    seconds = int(delta.total_seconds()) if isinstance(delta, timedelta) else int(delta)
    if seconds == 0:
        return "0m"
    out = []
    for unit in ("d", "h", "m", "s"):
        size = int(_UNITS[unit])
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out)
