"""The postmortem page: the questionnaire as a form (with the version it was read at, so a
save over someone else's is refused and the text kept on the page), a preview of the answers
as they will read, review and publishing, and the Markdown export."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from onduty import markdown
from onduty.bounds import Id
from onduty.errors import InvalidInput, NotFound, OndutyError
from onduty.incidents import service as incidents_service
from onduty.people.models import Person
from onduty.postmortems import questions
from onduty.postmortems import service as postmortems_service
from onduty.web.deps import get_session
from onduty.web.errors import status_for
from onduty.web.ui.common import Viewer, checked_form, org_zone, page_role, render, see_other, when

router = APIRouter(include_in_schema=False)
NEW_ACTION_ROWS = 2


def _form_values(form: FormData) -> dict[str, Any]:
    """The questionnaire as posted: answers, timeline lines, action items."""
    answers: dict[str, Any] = {k: str(form.get(k, "")) for k in questions.TEXT_KEYS}
    answers["five_whys"] = [str(form.get(f"why_{i}", "")) for i in range(1, questions.WHYS + 1)]
    entries = []
    for line in str(form.get("timeline", "")).splitlines():
        at, sep, text = line.partition(" — ")
        if line.strip():
            entries.append(
                {"at": at.strip(), "text": text.strip()}
                if sep
                else {"at": "", "text": line.strip()}
            )
    actions = []
    rows = zip(
        form.getlist("action_id"),
        form.getlist("action_title"),
        form.getlist("action_owner"),
        form.getlist("action_due"),
        form.getlist("action_status"),
        strict=False,
    )
    for i, (ident, title, owner, due, status) in enumerate(rows):
        if not str(title).strip():
            continue
        try:
            due_date = date.fromisoformat(str(due)) if due else None
        except ValueError:
            raise InvalidInput(
                f"action item {i + 1}: due date as YYYY-MM-DD", "action_due"
            ) from None
        actions.append(
            postmortems_service.ActionItem(
                id=int(str(ident)) if str(ident).isdigit() and len(str(ident)) < 10 else None,
                title=str(title)[:500],
                owner=str(owner) or None,
                due_date=due_date,
                status=str(status) or "open",
            )
        )
    return {"answers": answers, "timeline": entries, "actions": actions}


def _page(
    request: Request,
    session: Session,
    viewer: Viewer,
    incident_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
    posted: dict[str, Any] | None = None,
    preview: bool = False,
) -> HTMLResponse:
    try:
        incident = incidents_service.get_incident(session, incident_id=incident_id)
        pm = postmortems_service.get_postmortem(session, incident_id=incident_id)
    except NotFound as exc:
        return render(request, "error.html", viewer, status_code=404, message=exc.message)
    assert pm is not None
    zone = org_zone(session)
    values = posted or {
        "answers": {**questions.blank_answers(), **pm.answers},
        "timeline": pm.timeline,
        "actions": [postmortems_service.action_doc(a) for a in pm.actions],
    }
    actions = [
        a if isinstance(a, dict) else {**a.__dict__, "owner": a.owner} for a in values["actions"]
    ]
    show_preview = preview or pm.status == "published"
    rendered = (
        {k: markdown.to_html(str(values["answers"].get(k) or "")) for k in questions.TEXT_KEYS}
        if show_preview
        else {}
    )
    return render(
        request,
        "postmortem.html",
        viewer,
        status_code=status_code,
        incident=incident,
        pm=pm,
        error=error,
        questions=questions.QUESTIONS,
        answers=values["answers"],
        timeline="\n".join(f"{e['at']} — {e['text']}" for e in values["timeline"]),
        timeline_entries=values["timeline"],
        actions=actions
        + [{"id": "", "title": "", "owner": "", "due_date": "", "status": "open"}]
        * NEW_ACTION_ROWS,
        saved_actions=actions,
        preview=rendered,
        people=session.scalars(select(Person).order_by(Person.name)).all(),
        due=when(pm.due_at, zone),
        zone=zone,
        overdue=pm.status != "published" and pm.due_at < request.app.state.clock.now(),
    )


@router.get("/incidents/{incident_id}/postmortem", response_class=HTMLResponse)
def postmortem_page(
    incident_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> HTMLResponse:
    return _page(request, session, viewer, incident_id)


@router.post("/incidents/{incident_id}/postmortem/preview", response_class=HTMLResponse)
async def postmortem_preview(
    incident_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> HTMLResponse:
    """The posted answers rendered as they will read, still in the form; nothing is saved."""
    form = await checked_form(request, viewer)
    try:
        posted = _form_values(form)
    except InvalidInput as exc:
        return _page(request, session, viewer, incident_id, error=exc.message, status_code=422)
    return _page(request, session, viewer, incident_id, posted=posted, preview=True)


@router.post("/incidents/{incident_id}/postmortem", response_class=HTMLResponse)
async def postmortem_save(
    incident_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> Response:
    form = await checked_form(request, viewer)
    posted = None
    try:
        posted = _form_values(form)
        version = str(form.get("version", ""))
        if not version.isdigit() or len(version) > 9:
            raise InvalidInput("the form lost its version: reload the page", "version")
        status = str(form.get("status", "")) or None
        postmortems_service.save(
            session,
            incident_id=incident_id,
            version=int(version),
            actor=viewer.actor,
            now=request.app.state.clock.now(),
            answers=posted["answers"],
            timeline_entries=posted["timeline"],
            actions=posted["actions"],
            owner=str(form.get("owner", "")) or None,
            status=status,
        )
        session.commit()
    except OndutyError as exc:
        session.rollback()
        # The editor's text stays on the page, so a conflict loses nothing they wrote.
        return _page(
            request,
            session,
            viewer,
            incident_id,
            error=exc.message,
            status_code=status_for(exc),
            posted=posted,
        )
    return see_other(f"/incidents/{incident_id}/postmortem")


@router.post("/incidents/{incident_id}/postmortem/publish", response_class=HTMLResponse)
async def postmortem_publish(
    incident_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("responder")),
) -> Response:
    await checked_form(request, viewer)
    try:
        postmortems_service.publish(
            session, incident_id=incident_id, actor=viewer.actor, now=request.app.state.clock.now()
        )
        session.commit()
    except OndutyError as exc:
        session.rollback()
        return _page(
            request, session, viewer, incident_id, error=exc.message, status_code=status_for(exc)
        )
    return see_other(f"/incidents/{incident_id}/postmortem")


@router.get("/incidents/{incident_id}/postmortem.md")
def postmortem_export(
    incident_id: Id,
    request: Request,
    session: Session = Depends(get_session),
    viewer: Viewer = Depends(page_role("viewer")),
) -> Response:
    try:
        text = postmortems_service.markdown(session, incident_id=incident_id)
    except NotFound as exc:
        return render(request, "error.html", viewer, status_code=404, message=exc.message)
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="postmortem-{incident_id}.md"'},
    )
