"""Bounds on what requests may carry, shared by every package's wire schemas and the web layer:
ids, instants and texts limited to what the database and the rota arithmetic hold, so that
out-of-range input is a 422, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AfterValidator, AwareDatetime, StringConstraints

MAX_ID = 2**31 - 1
"""The largest id an INTEGER column holds (PostgreSQL's is 32 bits): a larger one is no row, and
PostgreSQL would refuse to compare it (SQLite's driver, past 2**63)."""

Id = Annotated[int, Ge(1), Le(MAX_ID)]
"""A row id in a path or a body."""

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
INSTANT_RANGE = f"must be from {EARLIEST:%Y-%m-%dT%H:%M:%SZ} to before {LATEST:%Y-%m-%dT%H:%M:%SZ}"


def check_instant(value: datetime) -> datetime:
    """`value` if it lies in [EARLIEST, LATEST); ValueError otherwise.

    The rota arithmetic looks up to 400 days either side of an instant and converts it to
    local time, which overflows `datetime` near years 1 and 9999; no schedule needs more."""
    try:
        inside = EARLIEST <= value.astimezone(UTC) < LATEST
    except OverflowError:  # year 1 at +14:00 is before datetime's first instant in UTC
        inside = False
    if not inside:
        raise ValueError(INSTANT_RANGE)
    return value


Instant = Annotated[AwareDatetime, AfterValidator(check_instant)]
"""An instant with a UTC offset, within the range every schedule computation handles."""


def check_text(value: str) -> str:
    """`value` unless it holds a NUL character, which PostgreSQL cannot store in text."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Text = Annotated[str, AfterValidator(check_text)]
"""Any text a request carries; give it a `max_length` where it is declared."""

Name = Annotated[str, StringConstraints(max_length=64), AfterValidator(check_text)]
"""The id of a person, team, service or slot, or a discipline: the columns hold 64 characters."""
