"""Slack calling us: the `/onduty` slash command and interactivity (our buttons, the report
modal). Every request is verified before anything is read from it: Slack's signature over the
raw body, its timestamp within 5 minutes, and a signature never seen before (a replay within
the window is refused too). Then slack/commands.py answers; anything slow or outbound is queued
in the outbox in the same transaction, so the answer is immediate."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onduty.bounds import MAX_ID
from onduty.errors import InvalidInput, NotFound, OndutyError
from onduty.notify import signing
from onduty.notify.channels.slack import parse_interaction
from onduty.notify.models import SlackRequest
from onduty.slack import commands
from onduty.web.deps import Unauthenticated, get_session, wake_engine

router = APIRouter(tags=["slack"])
SEEN_FOR = timedelta(minutes=10)  # longer than the replay window either way


def _first_time(session: Session, signature: str, now: datetime) -> None:
    """Record the request's signature; a signature seen before is a replay."""
    session.execute(delete(SlackRequest).where(SlackRequest.seen_at < now - SEEN_FOR))
    try:
        with session.begin_nested():
            session.add(SlackRequest(signature=signature[:80], seen_at=now))
    except IntegrityError:
        raise Unauthenticated(
            "this request was sent before (a replay)", "x-slack-signature"
        ) from None


async def _verified(request: Request, session: Session) -> bytes:
    """The raw body of a genuine, fresh, first-time request from Slack; 404 when Slack is not
    configured (before the body is read), 401 otherwise."""
    settings = request.app.state.settings
    if not settings.slack_signing_secret:
        raise NotFound("Slack is not configured", None)
    body = await request.body()
    now = request.app.state.clock.now()
    signature = request.headers.get("x-slack-signature")
    try:
        signing.verify_slack_request(
            settings.slack_signing_secret,
            body,
            timestamp=request.headers.get("x-slack-request-timestamp"),
            signature=signature,
            now=now,
        )
    except signing.SignatureError as exc:
        raise Unauthenticated(str(exc), "x-slack-signature") from None
    assert signature is not None
    _first_time(session, signature, now)
    return body


def _form(body: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise InvalidInput("the body is not a form", "body") from None
    return {k: v[0] for k, v in fields.items()}


@router.post("/integrations/slack/commands", include_in_schema=False)
async def slack_command(request: Request, session: Session = Depends(get_session)) -> Response:
    """`/onduty ...`: answered within Slack's 3 seconds, slow work through `response_url`."""
    if not request.app.state.settings.slack_signing_secret:
        raise NotFound("Slack is not configured", None)
    # Slack's certificate probe (`ssl_check=1`) is the one unsigned request: it gets 200 and
    # nothing else; any other unsigned request is refused below.
    unsigned = request.headers.get("x-slack-signature") is None
    if unsigned and _form(await request.body()).get("ssl_check") == "1":
        return Response(status_code=200)
    body = await _verified(request, session)
    form = _form(body)
    user = form.get("user_id", "")
    now = request.app.state.clock.now()
    who = commands.actor(session, user) if user else None
    if who is None:
        session.commit()  # the replay record
        return JSONResponse(commands.unknown_user(user or "unknown"))
    try:
        answer = commands.run(
            session,
            who=who,
            text=form.get("text", ""),
            response_url=form.get("response_url", ""),
            trigger_id=form.get("trigger_id", ""),
            now=now,
        )
    except OndutyError as exc:
        session.rollback()
        return JSONResponse(commands.ephemeral(exc.message))
    session.commit()
    wake_engine(request)
    return JSONResponse(answer)


@router.post("/integrations/slack/interactions", include_in_schema=False)
async def slack_interactions(request: Request, session: Session = Depends(get_session)) -> Response:
    """Our buttons (acknowledge, resolve, escalate, runbook) and the report modal."""
    body = await _verified(request, session)
    try:
        interaction = parse_interaction(body)
    except ValueError as exc:
        raise InvalidInput(str(exc), "payload") from None
    if any(incident_id > MAX_ID for _, incident_id in interaction.actions):
        raise InvalidInput("payload.actions: an incident id is out of range", "payload")
    now = request.app.state.clock.now()
    who = commands.actor(session, interaction.user)
    if interaction.kind == "view_submission":
        if interaction.callback_id != commands.REPORT_CALLBACK:
            raise InvalidInput("payload.view.callback_id is not one of ours", "payload")
        if who is None:
            session.commit()
            text = commands.unknown_user(interaction.user)["text"]
            return JSONResponse({"response_action": "errors", "errors": {"title": text[:150]}})
        submitted = commands.submit_report(
            session, who=who, values=interaction.values or {}, now=now
        )
        session.commit()
        wake_engine(request)
        return JSONResponse(submitted)
    if who is None:
        session.commit()
        return JSONResponse(commands.unknown_user(interaction.user))
    base = request.app.state.settings.base_url.rstrip("/")
    replies = []
    for action, incident_id in interaction.actions:
        if action == "runbook":
            replies.append(f"Runbook for this incident: {base}/incidents/{incident_id}#runbook")
            continue
        try:
            with session.begin_nested():
                replies.append(commands.act(session, who, action, incident_id, now))
        except OndutyError as exc:
            replies.append(exc.message)
    answer: dict[str, Any] = {**commands.ephemeral(" ".join(replies)), "replace_original": False}
    if interaction.response_url and replies:
        # Slack shows nothing of a block_actions answer's body: the reply goes to response_url.
        commands.respond_later(session, response_url=interaction.response_url, body=answer, now=now)
    session.commit()
    wake_engine(request)
    return JSONResponse(answer)
