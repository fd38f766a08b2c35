"""People pages: the list, a person's contact methods and rules, and test notifications."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty import models as m
from onduty.audit import service as audit_service
from onduty.notify import models as ob
from onduty.notify import outbox
from onduty.web.deps import get_session, wake_engine
from onduty.web.ui.common import (
    PageForbidden,
    Viewer,
    checked_form,
    org_zone,
    page_role,
    render,
    see_other,
    when,
)

router = APIRouter(include_in_schema=False)
TEST_TEXT = "Test notification from onduty"


def _teams_of(session: Session) -> dict[str, list[str]]:
    """Person id -> the teams they belong to, with any support level."""
    names = {t.id: t.name for t in session.scalars(select(m.Team))}
    out: dict[str, list[str]] = {}
    for tm in session.scalars(select(m.TeamMember).order_by(m.TeamMember.position)):
        out.setdefault(tm.person_id, []).append(names.get(tm.team_id, tm.team_id))
    for sl in session.scalars(select(m.SupportLevel).order_by(m.SupportLevel.level)):
        out.setdefault(sl.person_id, []).append(f"{names.get(sl.team_id, sl.team_id)} {sl.level}")
    return out


def _delay(seconds: int) -> str:
    if seconds == 0:
        return "at once"
    if seconds % 60 == 0:
        return f"after {seconds // 60} min"
    return f"after {seconds} s"


@router.get("/people", response_class=HTMLResponse)
def people_page(
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    people = session.scalars(select(m.Person).order_by(m.Person.name)).all()
    return render(request, "people.html", viewer, people=people, teams=_teams_of(session))


def _may_test(viewer: Viewer, person_id: str) -> bool:
    return viewer.login.person_id == person_id or viewer.can("manager")


@router.get("/people/{person_id}", response_class=HTMLResponse)
def person_page(
    person_id: str,
    request: Request,
    sent: int | None = None,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    person = session.get(m.Person, person_id)
    if person is None:
        return render(
            request, "error.html", viewer, status_code=404, message=f"No person {person_id!r}."
        )
    zone = person.timezone or org_zone(session)
    tests = [
        {
            "channel": r.channel,
            "fallback": ":fallback:" in r.rule_key,
            "status": r.status,
            "attempts": r.attempts,
            "last_error": r.last_error or "",
            "queued": when(r.created_at, zone, seconds=True),
            "sent": when(r.sent_at, zone, seconds=True),
        }
        for r in session.scalars(
            select(ob.OutboxMessage)
            .where(ob.OutboxMessage.person_id == person_id, ob.OutboxMessage.event == "test")
            .order_by(ob.OutboxMessage.id.desc())
            .limit(20)
        )
    ]
    return render(
        request,
        "person.html",
        viewer,
        person=person,
        zone=zone,
        teams=_teams_of(session).get(person_id, []),
        rules=[
            {"delay": _delay(r.after_s), "method": r.contact_method}
            for r in person.notification_rules
        ],
        tests=tests,
        sent=sent,
        may_test=_may_test(viewer, person_id),
    )


@router.post("/people/{person_id}/test")
async def person_test(
    person_id: str,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> Response:
    await checked_form(request, viewer)
    if not _may_test(viewer, person_id):
        raise PageForbidden("Only the person themself or a manager can send a test notification.")
    person = session.get(m.Person, person_id)
    if person is None:
        return render(
            request, "error.html", viewer, status_code=404, message=f"No person {person_id!r}."
        )
    now = request.app.state.clock.now()
    queued = outbox.enqueue_many(
        session,
        [
            outbox.OutboxItem(
                key=f"test:{person.id}:{method.id}:{now:%Y%m%dT%H%M%S%f}",
                event="test",
                due_at=now,
                person_id=person.id,
                contact_method_id=method.id,
                channel=method.type,
                text=TEST_TEXT,
            )
            for method in person.contact_methods
        ],
        now=now,
    )
    if queued:  # else the same instant twice: that test is queued already
        audit_service.record(
            session,
            actor=viewer.actor,
            action="person.test_notification",
            object_type="person",
            object_id=person.id,
            at=now,
            after={"contact_methods": [c.name for c in person.contact_methods]},
        )
    session.commit()
    wake_engine(request)
    return see_other(f"/people/{person_id}?sent={len(person.contact_methods)}")
