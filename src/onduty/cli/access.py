"""`onduty token`, `onduty user`, `onduty integrations` and `onduty login`: API tokens, web
logins, the inbound integrations' URLs, and keeping a token for talking to a server."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from onduty.cli.app import app
from onduty.cli.backend import environment
from onduty.cli.common import (
    AsJson,
    CliError,
    DatabaseUrl,
    clock,
    database,
    friendly,
    out,
    print_json,
    settings_for,
    table,
)

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
    from onduty.auth import service as auth_service

    with database(settings_for(database_url, demo=True).database_url) as session:
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
    from onduty.auth import service as auth_service

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with database(settings_for(database_url, demo=True).database_url) as session:
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
    from onduty.auth import service as auth_service

    with database(settings_for(database_url, demo=True).database_url) as session:
        auth_service.set_disabled(
            session, username=username, disabled=True, now=clock().now(), actor="cli"
        )
    out.print(f"login {username} disabled; its sessions have ended")


@user_app.command("enable")
@friendly
def user_enable(username: str, database_url: DatabaseUrl = None) -> None:
    """Let a disabled login sign in again."""
    from onduty.auth import service as auth_service

    with database(settings_for(database_url, demo=True).database_url) as session:
        auth_service.set_disabled(
            session, username=username, disabled=False, now=clock().now(), actor="cli"
        )
    out.print(f"login {username} enabled")


@integrations_app.command("list")
@friendly
def integrations_list(as_json: AsJson = False, database_url: DatabaseUrl = None) -> None:
    """Every integration: service, id, type, key and the URL to send alerts to."""
    from onduty.services import service as services_service

    settings = settings_for(database_url, demo=True)
    with database(settings.database_url) as session:
        rows = services_service.list_integrations(session, base_url=settings.base_url)
    if as_json:
        print_json(
            [
                {
                    "service": r.service,
                    "integration": r.integration,
                    "type": r.type,
                    "key": r.key,
                    "url": r.url,
                }
                for r in rows
            ]
        )
        return
    grid = table("service", "integration", "type", "key", "inbound URL")
    for r in rows:
        grid.add_row(r.service, r.integration, r.type, r.key, r.url)
    out.print(grid)


@app.command()
@friendly
def login(
    server: Annotated[
        str | None,
        typer.Option("--server", help="The server's URL. Default: ONDUTY_URL.", show_default=False),
    ] = None,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token from standard input.")
    ] = False,
) -> None:
    """Check an API token against a server and keep it for later commands (0600, in
    $XDG_CONFIG_HOME/onduty/credentials)."""
    from onduty.cli.remote import HttpBackend, save_token

    url = server or environment("URL")
    if not url:
        raise CliError("--server: which server? (or set ONDUTY_URL)")
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = typer.prompt("API token", hide_input=True).strip()
    if not token:
        raise CliError("no token given")
    with HttpBackend.open(url, token) as backend:
        backend.check()
        path = save_token(backend.url, token)
    out.print(f"token for {backend.url} saved in {path}")
