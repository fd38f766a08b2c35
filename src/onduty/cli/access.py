"""`onduty token`, `onduty user` and `onduty integrations`: API tokens, web logins and the
inbound integrations' URLs."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from onduty.auth import service as auth_service
from onduty.cli.common import DatabaseUrl, clock, database, friendly, out, settings_for
from onduty.services import service as services_service

token_app = typer.Typer(no_args_is_help=True, help="API tokens.")
integrations_app = typer.Typer(no_args_is_help=True, help="Inbound integrations.")
user_app = typer.Typer(no_args_is_help=True, help="Web UI logins.")


@token_app.command("create")
@friendly
def token_create(
    role: Annotated[str, typer.Option(help="admin, manager, responder or viewer")],
    person: Annotated[str | None, typer.Option(help="The person the token acts as.")] = None,
    name: Annotated[str | None, typer.Option(help="A label to recognise it by.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token and print it (this once)."""
    with database(settings_for(database_url, demo=True)) as session:
        token = auth_service.create_token(
            session, person_id=person, role=role, now=clock().now(), name=name, actor="cli"
        )
    out.print(token)


@user_app.command("create")
@friendly
def user_create(
    username: str,
    role: Annotated[str, typer.Option(help="admin, manager, responder or viewer")],
    person: Annotated[str | None, typer.Option(help="The person this login is.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a web UI login (or reset its password and role)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with database(settings_for(database_url, demo=True)) as session:
        auth_service.create_login(
            session,
            username=username,
            password=password,
            role=role,
            now=clock().now(),
            person_id=person,
            actor="cli",
        )
    out.print(f"login {username} ({role}) saved")


@user_app.command("disable")
@friendly
def user_disable(username: str, database_url: DatabaseUrl = None) -> None:
    """Disable a login: every session of it ends now, and it cannot sign in."""
    with database(settings_for(database_url, demo=True)) as session:
        auth_service.set_disabled(
            session, username=username, disabled=True, now=clock().now(), actor="cli"
        )
    out.print(f"login {username} disabled; its sessions have ended")


@user_app.command("enable")
@friendly
def user_enable(username: str, database_url: DatabaseUrl = None) -> None:
    """Let a disabled login sign in again."""
    with database(settings_for(database_url, demo=True)) as session:
        auth_service.set_disabled(
            session, username=username, disabled=False, now=clock().now(), actor="cli"
        )
    out.print(f"login {username} enabled")


@integrations_app.command("list")
@friendly
def integrations_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Every integration: service, id, type, key and the URL to send alerts to."""
    settings = settings_for(database_url, demo=True)
    with database(settings) as session:
        rows = services_service.list_integrations(session, base_url=settings.base_url)
    if as_json:
        sys.stdout.write(
            json.dumps(
                [
                    {
                        "service": r.service,
                        "integration": r.integration,
                        "type": r.type,
                        "key": r.key,
                        "url": r.url,
                    }
                    for r in rows
                ],
                indent=2,
            )
            + "\n"
        )
        return
    table = Table("service", "integration", "type", "key", "inbound URL")
    for r in rows:
        table.add_row(r.service, r.integration, r.type, r.key, r.url)
    out.print(table)
