"""Acting on an incident from where the page reached a person, without a login: signed action
links (e-mail, SMS, webhooks), SMS reply codes and the voice keypad (Slack's buttons are in
web/api/slack.py). Each is authenticated by its own signature and ends in the same incident
service call."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onduty.bounds import MAX_ID
from onduty.db.dialect import lock
from onduty.engine.deliver import undelivered
from onduty.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from onduty.incidents import service as incidents_service
from onduty.incidents.models import Incident
from onduty.notify import links, signing
from onduty.notify.channels.twilio import parse_sms_reply, parse_voice_digits, twiml_response
from onduty.notify.models import UsedActionLink
from onduty.people.models import Person
from onduty.statuspage import service as statuspage_service
from onduty.web.deps import Unauthenticated, get_session, wake_engine
from onduty.web.ui.common import render

router = APIRouter(tags=["actions"])


def _act(
    session: Session, request: Request, *, incident_id: int, action: str, actor: str, channel: str
) -> Incident:
    now = request.app.state.clock.now()
    if action == "acknowledge":
        incidents_service.acknowledge(
            session, incident_id=incident_id, actor=actor, channel=channel, now=now
        )
    else:
        incidents_service.resolve(
            session, incident_id=incident_id, actor=actor, channel=channel, now=now
        )
    incident = session.get(Incident, incident_id)
    assert incident is not None
    return incident


def _claim(
    request: Request, token: str, actions: tuple[str, ...] = links.LINK_ACTIONS
) -> links.ActionClaim:
    """The claim of a valid, unexpired `token` naming one of `actions` (a call's keypad URL is
    no e-mail link, and an e-mail link is no keypad URL)."""
    settings = request.app.state.settings
    claim = links.read(settings.secret_key, token, now=request.app.state.clock.now())
    if claim is None or claim.action not in actions:
        raise NotFound("this link is not valid or has expired", "token")
    return claim


def _use_once(session: Session, request: Request, token: str, used: str) -> None:
    """Record `token` as used, in the caller's transaction; Conflict if it already was."""
    try:
        with session.begin_nested():
            session.add(
                UsedActionLink(digest=links.digest(token), used_at=request.app.state.clock.now())
            )
    except IntegrityError:
        raise Conflict(used, "token") from None


def _still_current(session: Session, claim: links.ActionClaim) -> Incident:
    """The claim's incident, locked, if nobody acknowledged, resolved or reopened it since the
    link was sent (the lock keeps anyone from doing so before this request acts).

    Raises:
        NotFound: the incident is gone.
        Conflict: the incident changed since the link was sent.
    """
    query = lock(session, select(Incident).where(Incident.id == claim.incident_id))
    incident = session.scalars(query).first()
    if incident is None:
        raise NotFound("this link is not valid or has expired", "token")
    if incident.generation != claim.generation:
        raise Conflict(
            f"incident #{incident.number} changed since this link was sent: it is now "
            f"{incident.status}; open the incident page to act on it",
            "token",
        )
    return incident


@router.get("/actions/{token}", response_class=HTMLResponse, include_in_schema=False)
def action_page(
    token: str, request: Request, session: Session = Depends(get_session)
) -> HTMLResponse:
    """A confirmation page: a GET never acts, because mail scanners open links."""
    try:
        claim = _claim(request, token)
        incident = _still_current(session, claim)
    except (NotFound, Conflict) as exc:
        code = 404 if isinstance(exc, NotFound) else 409
        return render(request, "error.html", None, status_code=code, message=exc.message)
    return render(
        request, "action.html", None, claim=claim, incident=incident, token=token, done=None
    )


@router.post("/actions/{token}", response_model=None)
def action(token: str, request: Request, session: Session = Depends(get_session)) -> Response:
    """Acknowledge or resolve, once. JSON for programs (webhook receivers), HTML for people."""
    wants_html = "text/html" in request.headers.get("accept", "")
    claim = _claim(request, token)
    _use_once(session, request, token, "this link was already used")
    # After the single-use check: a used link says so, not that its own use changed the incident.
    _still_current(session, claim)
    incident = _act(
        session,
        request,
        incident_id=claim.incident_id,
        action=claim.action,
        actor=claim.recipient,
        channel="link",
    )
    session.commit()
    wake_engine(request)
    if wants_html:
        return render(
            request, "action.html", None, claim=claim, incident=incident, token=token, done=True
        )
    return JSONResponse({"incident": incident.id, "status": incident.status, "by": claim.recipient})


def _open_for_status(
    session: Session, request: Request, token: str
) -> tuple[links.ActionClaim, Incident]:
    """The claim of a "post to status page" link and its incident, locked, still open.

    Raises:
        NotFound: the link is not valid or has expired, or the incident is gone.
        Conflict: the incident is resolved, or on the status page already.
    """
    claim = _claim(request, token, (links.STATUS_PAGE,))
    query = lock(session, select(Incident).where(Incident.id == claim.incident_id))
    incident = session.scalars(query).first()
    if incident is None:
        raise NotFound("this link is not valid or has expired", "token")
    if incident.status == "resolved":
        raise Conflict(f"incident #{incident.number} is resolved", "token")
    posted = statuspage_service.open_for_incident(session, incident.id)
    if posted is not None:
        raise Conflict(
            f"incident #{incident.number} is on the status page already ({posted.name!r}, "
            f"{posted.status}); post updates from the status page admin",
            "token",
        )
    return claim, incident


@router.get("/actions/status/{token}", response_class=HTMLResponse, include_in_schema=False)
def status_page_action(
    token: str, request: Request, session: Session = Depends(get_session)
) -> HTMLResponse:
    """What "post to status page" will post, pre-filled from the templates: a GET never acts."""
    try:
        claim, incident = _open_for_status(session, request, token)
    except (NotFound, Conflict) as exc:
        code = 404 if isinstance(exc, NotFound) else 409
        return render(request, "error.html", None, status_code=code, message=exc.message)
    base_url = request.app.state.settings.base_url
    draft = statuspage_service.draft(
        session, incident=incident, base_url=base_url, now=request.app.state.clock.now()
    )
    return render(
        request,
        "action.html",
        None,
        claim=claim,
        incident=incident,
        token=token,
        done=None,
        draft=draft,
        action_url=f"/actions/status/{token}",
    )


@router.post("/actions/status/{token}", response_model=None)
def post_status_page(
    token: str, request: Request, session: Session = Depends(get_session)
) -> Response:
    """Post the pre-filled status incident, once, as the person the page reached."""
    wants_html = "text/html" in request.headers.get("accept", "")
    _claim(request, token, (links.STATUS_PAGE,))
    _use_once(session, request, token, "this link was already used")
    claim, incident = _open_for_status(session, request, token)
    now, base_url = request.app.state.clock.now(), request.app.state.settings.base_url
    draft = statuspage_service.draft(session, incident=incident, base_url=base_url, now=now)
    posted = statuspage_service.create_status_incident(
        session,
        name=draft["name"],
        status=draft["status"],
        impact=draft["impact"],
        body=draft["body"],
        component_statuses=draft["components"],
        incident_id=incident.id,
        actor=claim.recipient,
        now=now,
        base_url=base_url,
    )
    session.commit()
    wake_engine(request)
    if wants_html:
        return render(
            request,
            "action.html",
            None,
            claim=claim,
            incident=incident,
            token=token,
            done=True,
            posted=posted,
        )
    return JSONResponse(
        {"incident": incident.id, "status_incident": posted.id, "by": claim.recipient}
    )


def _twilio_configured(request: Request) -> None:
    # Checked before the form is read: without a token nobody may send one.
    if not request.app.state.settings.twilio_auth_token:
        raise NotFound("Twilio is not configured", None)


def _twilio_verified(request: Request, form: dict[str, str]) -> None:
    settings = request.app.state.settings
    url = (
        settings.base_url.rstrip("/")
        + request.url.path
        + (f"?{request.url.query}" if request.url.query else "")
    )
    try:
        signing.verify_twilio_request(
            settings.twilio_auth_token, url, form, request.headers.get("x-twilio-signature")
        )
    except signing.SignatureError as exc:
        raise Unauthenticated(str(exc), "x-twilio-signature") from None


@router.post("/integrations/twilio/sms", include_in_schema=False)
async def twilio_sms(request: Request, session: Session = Depends(get_session)) -> Response:
    """An SMS reply such as `42A` (acknowledge #42) or `42R` (resolve)."""
    _twilio_configured(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    _twilio_verified(request, form)
    sender = form.get("From", "").strip()
    # Never look up an empty sender: it would match whoever has no phone number. A number is
    # printable and fits `person.phone`.
    known = 0 < len(sender) <= 20 and sender.isprintable()
    person = (
        session.scalars(select(Person).where(Person.phone == sender)).first() if known else None
    )
    parsed = parse_sms_reply(form.get("Body", ""))
    if person is None or parsed is None:
        text = "Reply with the incident number and A to acknowledge or R to resolve, e.g. 42A."
        return Response(twiml_response(sms=text), media_type="application/xml")
    number, action = parsed
    incident = session.scalars(select(Incident).where(Incident.number == number)).first()
    try:
        if incident is None:
            raise NotFound(f"there is no incident #{number}", "number")
        incident = _act(
            session, request, incident_id=incident.id, action=action, actor=person.id, channel="sms"
        )
        session.commit()
        text = f"#{incident.number} {incident.status} by {person.name}."
    except (InvalidTransition, NotFound, Conflict) as exc:
        session.rollback()
        text = exc.message
    return Response(twiml_response(sms=text), media_type="application/xml")


@router.post("/integrations/twilio/voice/{token}", include_in_schema=False)
async def twilio_voice(
    token: str, request: Request, session: Session = Depends(get_session)
) -> Response:
    """The digit pressed during a call: 1 acknowledges, 2 resolves; once per call."""
    _twilio_configured(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    _twilio_verified(request, form)
    claim = _claim(request, token, (links.KEYPAD,))
    action = parse_voice_digits(form.get("Digits", ""))
    if action is None:
        return Response(
            twiml_response(say="No action taken. Goodbye."), media_type="application/xml"
        )
    try:
        _use_once(session, request, token, "This call was already answered. Goodbye.")
        _still_current(session, claim)
        incident = _act(
            session,
            request,
            incident_id=claim.incident_id,
            action=action,
            actor=claim.recipient,
            channel="voice",
        )
        session.commit()
        say = f"Incident {incident.number} is now {incident.status}. Goodbye."
    except (InvalidTransition, Conflict) as exc:
        session.rollback()
        say = exc.message
    return Response(twiml_response(say=say), media_type="application/xml")


# Twilio's final statuses that mean the person was not reached: an SMS that failed or was not
# delivered, a call that was busy, not answered, failed or cancelled.
UNREACHED = {
    "MessageStatus": frozenset({"failed", "undelivered"}),
    "CallStatus": frozenset({"busy", "no-answer", "failed", "canceled"}),
}


@router.post("/integrations/twilio/status", include_in_schema=False)
async def twilio_status(request: Request, session: Session = Depends(get_session)) -> Response:
    """Twilio's status callback for an SMS or a call we placed (the outbox row's id is in the
    URL, which Twilio signs): not reached means the next contact method, at once."""
    _twilio_configured(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    _twilio_verified(request, form)
    key = request.query_params.get("idempotency_key", "")
    if not key.isdigit() or int(key) > MAX_ID:
        raise InvalidInput("idempotency_key must be an outbox row id", "idempotency_key")
    for field, failed in UNREACHED.items():
        status = form.get(field, "")
        if status in failed:
            code = form.get("ErrorCode")
            reason = f"Twilio: {status}" + (f" (error {code})" if code else "")
            undelivered(session, row_id=int(key), reason=reason, now=request.app.state.clock.now())
            session.commit()
            wake_engine(request)
            break
    return Response(status_code=204)
