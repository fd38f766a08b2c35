"""`GET /api/v1/dryrun`: who would be notified, when and how, for a service, a priority and an
instant (escalation/dryrun.py, the engine's own code)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from onduty.bounds import Instant, Name
from onduty.clock import Clock
from onduty.escalation import dryrun
from onduty.web.deps import Caller, TokenFirstRoute, get_clock, get_session, require

router = APIRouter(prefix="/api/v1", tags=["dry-run"], route_class=TokenFirstRoute)


class DryRunEntryOut(BaseModel):
    at: str = Field(description="ISO 8601, UTC")
    offset_seconds: int
    step: int | None
    repeat: int | None
    person: str | None
    via: str | None
    kind: str
    contact_method: str | None
    target: str | None
    targets: list[str]
    event: str | None
    note: str
    team_zone: str
    local_time: str
    person_zone: str | None
    person_local_time: str | None


@router.get("/dryrun", response_model=list[DryRunEntryOut])
def dry_run(
    service: Name,
    priority: Name = "P1",
    at: Instant | None = None,
    discipline: Name | None = None,
    session: Session = Depends(get_session),
    clock: Clock = Depends(get_clock),
    _caller: Caller = Depends(require("viewer")),
) -> list[dict[str, object]]:
    """If an incident of `service` with `priority` arrived at `at` (default now) and nobody
    acknowledged it: each message in order (`kind` page), each step that names nobody
    (`nobody`), each person paged without a contact method (`unreachable`), the wait for working
    hours of a P3/P4 (`backlog`) and the end of the policy (`exhausted`). `step` is 1-based,
    `repeat` 0 for the policy's first run; `via` is the contact method's type."""
    run = dryrun.dry_run(
        session,
        service_id=service,
        at=at or clock.now(),
        priority=priority,
        discipline=discipline,
    )
    return dryrun.documents(run)
