"""The app factory: the single place where settings, clock, database and routers meet."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from onduty import __version__
from onduty.clock import Clock, SystemClock
from onduty.config import Settings
from onduty.db import make_engine, make_session_factory
from onduty.db.group_commit import GroupCommit
from onduty.incidents.admission import Admission
from onduty.web import errors
from onduty.web.api import (
    actions,
    admin,
    checks,
    docs,
    dryrun,
    handovers,
    health,
    incidents,
    intake,
    metrics,
    postmortems,
    reports,
    runbooks,
    schedules,
    slack,
    statuspage,
)
from onduty.web.limits import RequestLimits
from onduty.web.security import SecurityMiddleware
from onduty.web.ui import access, common, pages, people, process, report, status, status_admin
from onduty.web.ui import dryrun as dryrun_page
from onduty.web.ui import incidents as incident_pages
from onduty.web.ui import postmortems as postmortem_pages
from onduty.web.ui import runbooks as runbook_pages

HERE = Path(__file__).parent


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    session_factory: sessionmaker[Session] | None = None,
) -> FastAPI:
    """Build the application. Tests pass their own clock and engine; nothing is global."""
    app = FastAPI(
        title="onduty",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # web/api/docs.py serves it with local assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.engine = engine or make_engine(settings.database_url)
    app.state.session_factory = session_factory or make_session_factory(app.state.engine)
    app.state.intake_writer = GroupCommit(
        app.state.session_factory, Admission(app.state.clock, settings).store, name="intake"
    )
    errors.install(app)
    common.install(app)
    app.add_middleware(RequestLimits)
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(metrics.router)
    app.include_router(intake.router)
    app.include_router(incidents.router)
    app.include_router(actions.router)
    app.include_router(slack.router)
    app.include_router(admin.router)
    app.include_router(schedules.router)
    app.include_router(runbooks.router)
    app.include_router(postmortems.router)
    app.include_router(schedules.feeds)
    app.include_router(dryrun.router)
    app.include_router(statuspage.router)
    app.include_router(checks.router)
    app.include_router(checks.pings)
    app.include_router(reports.router)
    app.include_router(handovers.router)
    app.include_router(access.router)
    app.include_router(pages.router)
    app.include_router(incident_pages.router)
    app.include_router(people.router)
    app.include_router(report.router)
    app.include_router(runbook_pages.router)
    app.include_router(postmortem_pages.router)
    app.include_router(dryrun_page.router)
    app.include_router(status.router)
    app.include_router(status_admin.router)
    app.include_router(process.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(SecurityMiddleware, base_url=settings.base_url)
    return app
