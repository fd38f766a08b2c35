"""The `onduty` command: thin commands that parse, call a service (on the database, or a server
over HTTP for the responder's commands), print, and exit non-zero with one clear line on bad
input (never a traceback). One module per command group; each imports what a command needs
inside the command, so a short command starts fast."""

from __future__ import annotations

from onduty.cli import dryrun, schedules, server
from onduty.cli.access import integrations_app, token_app, user_app
from onduty.cli.app import app
from onduty.cli.common import friendly
from onduty.cli.incidents import incident_app
from onduty.cli.policy import db_app, policy_app
from onduty.cli.process import checks_app, handover_app, report
from onduty.cli.runbooks import runbook_app

app.add_typer(policy_app, name="policy")
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(integrations_app, name="integrations")
app.add_typer(user_app, name="user")
app.add_typer(schedules.schedule_app, name="schedule")
app.add_typer(schedules.override_app, name="override")
app.add_typer(incident_app, name="incident")
app.add_typer(runbook_app, name="runbook")
app.add_typer(checks_app, name="checks")
app.add_typer(handover_app, name="handover")
app.command("report")(friendly(report))

__all__ = ["app", "dryrun", "main", "server"]


def main() -> None:
    app(prog_name="onduty")
