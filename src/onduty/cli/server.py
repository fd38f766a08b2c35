"""`onduty serve`, `onduty engine` and the demo: the long-running processes."""

from __future__ import annotations

import gc
import os
import secrets
import signal
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from onduty.auth import service as auth_service
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
from onduty.config import Settings
from onduty.db import make_engine, make_session_factory, migrate
from onduty.policy import apply_policy

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

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
) -> None:
    """Serve the API and the web UI, with the engine in the same process unless --no-engine."""
    import uvicorn

    extra: dict[str, Any] = {"demo": True} if demo else {}
    if demo:
        extra.setdefault("base_url", f"http://{host}:{port}")
    if no_engine:
        extra["serve_engine"] = False
    settings = settings_for(database_url, **extra)
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
        uvicorn.run(application, host=host, port=port, log_level="info")
    finally:
        if application.state.engine_worker is not None:
            application.state.engine_worker.stop()


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
    return Engine(settings, session_factory, clock(), channels, targets=build_targets(settings))


@app.command()
@friendly
def engine(database_url: DatabaseUrl = None) -> None:
    """Run the engine alone (escalations, deliveries, periodic jobs); several may share one
    PostgreSQL database."""
    settings = settings_for(database_url)
    db = make_engine(settings.database_url)
    check_schema(db, settings.database_url)
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
    migrate(settings.database_url)
    policy, messages, failed = load_and_lint(EXAMPLE_POLICY)
    if failed:
        raise CliError("the demo policy does not lint: " + "; ".join(messages))
    password = secrets.token_urlsafe(9)
    with database(settings) as session:
        for change in apply_policy(session, policy):
            out.print(f"demo: {change}")
        auth_service.create_login(
            session, username="admin", password=password, role="admin", now=clock().now()
        )
        token = auth_service.create_token(
            session, person_id=None, role="admin", now=clock().now(), name="demo"
        )
    out.print(f"login: admin / {password}")
    out.print(f"API token (admin): {token}")
