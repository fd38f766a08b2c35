"""The root `onduty` Typer app; each command group lives in its own module of this package."""

from __future__ import annotations

import typer

EXIT_CODES = (
    "Exit status: 0 done; 1 refused or failed, with one line on stderr saying why (bad input, "
    "not found, a conflict, a role that is not enough, a policy file with errors, the database "
    "or the server unreachable, a token refused); 2 the command line itself is wrong (an "
    "unknown command or option, a missing argument)."
)

# Plain help (rich_markup_mode=None): rich's help renderer imports Markdown, progress bars and
# live displays, doubling the time `onduty --help` takes.
app = typer.Typer(
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    help="On-call and incidents.",
    epilog=EXIT_CODES,
)
