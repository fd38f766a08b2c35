"""The root `onduty` Typer app; each command group lives in its own module of this package."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="On-call and incidents.")
