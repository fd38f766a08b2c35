"""On-call metrics over HTTP (SPEC §6.4): `GET /api/v1/reports/oncall` as JSON, or as CSV
with `format=csv`."""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from onduty.bounds import Name
from onduty.clock import Clock
from onduty.db import dialect
from onduty.reports import service as reports_service
from onduty.web.deps import Caller, TokenFirstRoute, get_clock, get_session, require

router = APIRouter(prefix="/api/v1", tags=["reports"], route_class=TokenFirstRoute)


def run_report(
    session: Session, clock: Clock, team: str | None, since: str | None, until: str | None
) -> dict[str, Any]:
    """On a read-only connection: a year's report must not hold the writers up (SQLite)."""
    session.connection(execution_options={dialect.READ_ONLY: True})
    return reports_service.report(session, team=team, since=since, until=until, now=clock.now())


@router.get("/reports/oncall", response_model=None)
def oncall(
    team: Name | None = None,
    since: Name | None = None,
    until: Name | None = None,
    format: Literal["json", "csv"] = "json",
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    _caller: Caller = Depends(require("viewer")),
) -> dict[str, Any] | Response:
    """Incidents, MTTA/MTTR (median, p90), SLA %, escalations, pages (off hours, at night),
    shifts and hours on call, journey stages, check completion and the noisiest alert keys,
    for [since, until]: dates inclusive or ISO 8601 instants (default: the last 30 days)."""
    doc = run_report(session, clock, team, since, until)
    if format == "json":
        return doc
    buffer = io.StringIO()
    csv.writer(buffer).writerows(reports_service.csv_rows(doc))
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8")
