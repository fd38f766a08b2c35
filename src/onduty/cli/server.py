"""`onduty serve`, `onduty engine` and the demo: the long-running processes."""

from __future__ import annotations

import gc
import ipaddress
import os
import secrets
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from onduty.cli.app import app
from onduty.cli.common import (
    EXAMPLE_POLICY,
    CliError,
    DatabaseUrl,
    check_schema,
    clock,
    database,
    friendly,
    out,
    settings_for,
)
from onduty.cli.policy import load_and_lint

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

    from onduty.config import Settings
    from onduty.engine import Engine


@app.command()
@friendly
def serve(
    demo: Annotated[
        bool, typer.Option(help="Migrate, load the Acme demo and make a login.")
    ] = False,
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: DatabaseUrl = None,
    no_engine: Annotated[
        bool, typer.Option("--no-engine", help="Serve only; run `onduty engine` elsewhere.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Serving processes on the one port (PostgreSQL only), each with an engine."
        ),
    ] = 1,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="With --demo, listen on a host other than loopback (the demo is not hardened "
            "for that: its admin password is printed on the console).",
        ),
    ] = False,
) -> None:
    """Serve the API and the web UI, with the engine in the same process unless --no-engine."""
    import uvicorn

    from onduty.web.access_log import logging_config

    if demo and not allow_remote and not _is_loopback(host):
        raise CliError(
            f"--demo listens on loopback only, not {host}: pass --allow-remote to serve the "
            "demo to other machines"
        )
    extra: dict[str, Any] = {"demo": True} if demo else {}
    if demo:
        extra.setdefault("base_url", f"http://{host}:{port}")
    if no_engine:
        extra["serve_engine"] = False
    settings = settings_for(database_url, **extra)
    from onduty.config import DEMO_SECRET

    if demo and settings.secret_key == DEMO_SECRET:
        settings = settings.model_copy(update={"secret_key": _demo_secret(settings.database_url)})
    _refuse_placeholder_secret(settings)
    if workers > 1:
        if demo or not settings.database_url.startswith("postgresql"):
            raise CliError("--workers needs PostgreSQL: SQLite has one writer process")
        # Each worker process builds its app from the environment (`worker_app`).
        os.environ.update(
            ONDUTY_DATABASE_URL=settings.database_url, ONDUTY_SERVE_ENGINE=str(not no_engine)
        )
        uvicorn.run(
            "onduty.cli.server:worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            log_config=logging_config(),
            # A spawned worker first imports this command line (its parent's __main__) before it
            # can answer the supervisor's health check; on a busy machine that passed 5 s.
            timeout_worker_healthcheck=30,
        )
        return
    if demo:
        _prepare_demo(settings)
    application = serving_app(settings)
    if demo:
        out.print(f"onduty demo: open {settings.base_url}/")
    try:
        uvicorn.run(
            application, host=host, port=port, log_level="info", log_config=logging_config()
        )
    finally:
        if application.state.engine_worker is not None:
            application.state.engine_worker.stop()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _demo_secret(database_url: str) -> str:
    """The demo's own signing secret, made once and kept (mode 0600) beside its SQLite file, or
    in the working directory for another database: never the public placeholder, with which
    anyone could forge a session cookie or an action link."""
    from sqlalchemy import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database).with_name(Path(url.database).name + ".secret")
    else:
        path = Path("onduty-demo.secret")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) < 16:
            raise CliError(f"{path} holds no usable secret: delete it to make a new one") from None
        return secret
    secret = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    return secret


def _refuse_placeholder_secret(settings: Settings) -> None:
    # Settings accept the placeholder in demo mode (ONDUTY_DEMO), for the commands that sign
    # nothing; a process that signs cookies or links must have a real secret.
    from onduty.config import DEMO_SECRET

    if settings.secret_key == DEMO_SECRET:
        raise CliError(
            "ONDUTY_SECRET_KEY is the public demo placeholder: set a long random value, or use "
            "`onduty serve --demo`, which makes its own"
        )


def serving_app(settings: Settings) -> FastAPI:
    """The app of one serving process, with the engine in a thread of its own unless
    `settings.serve_engine` is off; what startup made is then frozen out of the GC."""
    from onduty.web.app import create_app

    application = create_app(settings)
    application.state.engine_worker = None
    if settings.serve_engine:
        worker = _engine(settings, application.state.session_factory)
        application.state.wake_engine = worker.wake
        application.state.engine_worker = worker
        threading.Thread(target=worker.run, name="onduty-engine", daemon=True).start()
    _freeze_startup_objects()
    return application


def worker_app() -> FastAPI:
    """One process of `serve --workers N`: uvicorn calls this in each (factory=True)."""
    return serving_app(settings_for(None))


def _freeze_startup_objects() -> None:
    """Exclude what startup made (modules, the app, its compiled statements) from the garbage
    collector's full collections: they live as long as the process, and scanning them paused
    every thread for 100-140 ms at a time under load (the intake benchmark's p99)."""
    gc.collect()
    gc.freeze()


def _engine(settings: Settings, session_factory: sessionmaker[Session]) -> Engine:
    from onduty.engine import Engine
    from onduty.notify import build_channels
    from onduty.notify.targets import build_targets

    channels = build_channels(settings, clock=clock())
    targets = build_targets(settings, clock())
    return Engine(settings, session_factory, clock(), channels, targets=targets)


@app.command()
@friendly
def engine(database_url: DatabaseUrl = None) -> None:
    """Run the engine alone (escalations, deliveries, periodic jobs); several may share one
    PostgreSQL database."""
    from onduty.db import make_engine, make_session_factory

    settings = settings_for(database_url)
    _refuse_placeholder_secret(settings)
    db = make_engine(settings.database_url)
    check_schema(db)
    worker = _engine(settings, make_session_factory(db))
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    out.print(
        f"onduty engine {worker.holder} running (tick {settings.engine_tick.total_seconds():g} s)"
    )
    _freeze_startup_objects()
    try:
        worker.run()
    except KeyboardInterrupt:
        worker.stop()


def _prepare_demo(settings: Settings) -> None:
    from onduty.auth import service as auth_service
    from onduty.db import migrate
    from onduty.policy import apply_policy
    from onduty.runbooks.lint import folder_of

    migrate(settings.database_url)
    policy, messages, failed = load_and_lint(EXAMPLE_POLICY)
    if failed:
        raise CliError("the demo policy does not lint: " + "; ".join(messages))
    password = secrets.token_urlsafe(9)
    now = clock().now()
    with database(settings.database_url) as session:
        runbooks = folder_of(policy, EXAMPLE_POLICY)
        for change in apply_policy(session, policy, actor="cli", now=now, runbooks=runbooks):
            out.print(f"demo: {change}")
        auth_service.create_login(
            session, username="admin", password=password, role="admin", now=now, actor="cli"
        )
        token = auth_service.create_token(
            session, person_id=None, role="admin", now=now, name="demo", actor="cli"
        )
    out.print(f"login: admin / {password}")
    out.print(f"API token (admin): {token}")
