"""What every command shares: the consoles, the one-line error wrapper, settings, a session on
a migrated database, the clock, and reading instants in a team's zone."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from onduty import localtime
from onduty.clock import Clock, SystemClock
from onduty.config import Settings, load_settings
from onduty.db import make_engine, make_session_factory
from onduty.db.session import alembic_config
from onduty.errors import OndutyError
from onduty.people.models import Organization
from onduty.schedules.models import Rota

# Wide when piped, so tables of keys and URLs are never cut.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Overrides ONDUTY_DATABASE_URL.")
]
EXAMPLE_POLICY = Path(__file__).resolve().parents[3] / "examples" / "acme" / "policy.yaml"


class CliError(Exception):
    """A problem to report as one line and exit 1."""


def friendly(func: F) -> F:
    """Turn expected failures into one line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (CliError, OndutyError) as exc:
            err.print(f"error: {exc}")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            err.print(f"error: settings: {where + ': ' if where else ''}{first['msg']}")
        except OperationalError as exc:
            err.print(f"error: database: {str(exc.orig).strip().splitlines()[0]}")
        raise typer.Exit(1)

    return wrapper  # type: ignore[return-value]


def settings_for(database_url: str | None, **extra: Any) -> Settings:
    overrides: dict[str, Any] = dict(extra)
    if database_url:
        overrides["database_url"] = database_url
    return load_settings(**overrides)


def check_schema(engine: Engine, url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        raise CliError(
            f"the database schema is at {current or 'nothing'}, not {head}: run `onduty db upgrade`"
        )


@contextmanager
def database(settings: Settings) -> Iterator[Session]:
    """A session on a migrated database; commits on success, rolls back on any error."""
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine, settings.database_url)
        with make_session_factory(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


def clock() -> Clock:
    return SystemClock()


As = Annotated[
    str | None, typer.Option("--as", help="The person acting (default: `cli`).", show_default=False)
]


def zone_of(session: Session, team_id: str | None) -> str:
    rota = session.get(Rota, team_id) if team_id else None
    if rota is not None:
        return rota.timezone
    org = session.scalars(select(Organization)).first()
    return org.timezone if org else "UTC"


def instant(text: str, zone: str, what: str) -> datetime:
    """ISO 8601; a time without an offset is read in `zone` (the team's)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--{what}: {text!r} is not an ISO 8601 date and time") from None
    return localtime.to_utc(value, zone)
