"""What every command shares: the consoles, the one-line error wrapper, settings, a session on
a migrated database, the clock, instants as people write them and durations as they read them.

Kept light on purpose (typer and the standard library): `onduty who` and `--help` import this,
so SQLAlchemy, pydantic and rich are imported where a command first needs them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from onduty import localtime
from onduty.errors import OndutyError

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from onduty.clock import Clock
    from onduty.config import Settings

F = TypeVar("F", bound=Callable[..., Any])
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Overrides ONDUTY_DATABASE_URL.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (a stable shape) instead.")]
EXAMPLE_POLICY = Path(__file__).resolve().parents[3] / "examples" / "acme" / "policy.yaml"


class CliError(Exception):
    """A problem to report as one line and exit 1."""


class Printer:
    """A rich Console made on first use: importing rich costs more than a short answer."""

    def __init__(self, *, stderr: bool) -> None:
        self.stderr = stderr
        self._console: Console | None = None

    def print(self, *objects: Any) -> None:
        if self._console is None:
            from rich.console import Console

            # Wide when piped, so tables of keys and URLs are never cut.
            stream = sys.stderr if self.stderr else sys.stdout
            self._console = Console(
                stderr=self.stderr,
                markup=False,  # titles and messages are data: "[prod] DB down" stays as it is
                highlight=False,
                soft_wrap=True,
                width=None if stream.isatty() else 240,
            )
        self._console.print(*objects)


out = Printer(stderr=False)
err = Printer(stderr=True)


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


def table(*columns: str, title: str | None = None) -> Any:
    """A rich Table (imported here, on first use)."""
    from rich.table import Table

    return Table(*columns, title=title)


def _one_line(exc: Exception) -> str | None:
    """The line to print for an expected failure, or None for a bug (a traceback then)."""
    if isinstance(exc, CliError | OndutyError):
        return f"error: {exc}"
    # Checked only if the library is loaded: otherwise the error cannot be one of its own.
    if "pydantic" in sys.modules:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return f"error: settings: {where + ': ' if where else ''}{first['msg']}"
    if "sqlalchemy" in sys.modules:
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):
            return f"error: database: {str(exc.orig).strip().splitlines()[0]}"
    return None


def friendly(func: F) -> F:
    """Turn expected failures into one line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            line = _one_line(exc)
            if line is None:
                raise
            err.print(line)
        raise typer.Exit(1)

    return wrapper  # type: ignore[return-value]


def settings_for(database_url: str | None, **extra: Any) -> Settings:
    from onduty.config import load_settings

    overrides: dict[str, Any] = dict(extra)
    if database_url:
        overrides["database_url"] = database_url
    return load_settings(**overrides)


def check_schema(engine: Engine) -> None:
    from onduty.db.session import head_revision, schema_revision

    current, head = schema_revision(engine), head_revision()
    if current != head:
        raise CliError(
            f"the database schema is at {current or 'nothing'}, not {head}: run `onduty db upgrade`"
        )


@contextmanager
def database(database_url: str) -> Iterator[Session]:
    """A session on a migrated database; commits on success, rolls back on any error."""
    from onduty.db import make_engine, make_session_factory

    engine = make_engine(database_url)
    try:
        check_schema(engine)
        with make_session_factory(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


def clock() -> Clock:
    from onduty.clock import SystemClock

    return SystemClock()


As = Annotated[
    str | None, typer.Option("--as", help="The person acting (default: `cli`).", show_default=False)
]


def instant(text: str, zone: str, what: str) -> datetime:
    """ISO 8601; a time without an offset is read in `zone` (the team's)."""
    try:
        value = datetime.fromisoformat(text)
        return localtime.to_utc(value, zone)
    except (ValueError, OverflowError):
        raise CliError(f"--{what}: {text!r} is not an ISO 8601 date and time") from None


def span(delta: timedelta) -> str:
    """A length of time for people, to the nearest minute: `5d 8h 29m`, `7d`, `45m`."""
    minutes = round(delta.total_seconds() / 60)
    days, rest = divmod(minutes, 24 * 60)
    parts = [(days, "d"), (rest // 60, "h"), (rest % 60, "m")]
    return " ".join(f"{n}{unit}" for n, unit in parts if n) or "0m"
