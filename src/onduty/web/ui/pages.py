"""HTML pages. The home page lists teams, their rota slots, services and integration URLs."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty import models as m
from onduty.config import Settings
from onduty.services import service as services_service
from onduty.web.deps import get_session, get_settings

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
router = APIRouter(include_in_schema=False)


def mask(url: str, key: str) -> str:
    return url.replace(key, key[:4] + "…" + key[-4:]) if key in url else url


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> HTMLResponse:
    org = session.scalars(select(m.Organization)).first()
    teams = list(session.scalars(select(m.Team).order_by(m.Team.name)))
    rotas = {r.team_id: r for r in session.scalars(select(m.Rota))}
    integrations = services_service.list_integrations(session, base_url=settings.base_url)
    by_service: dict[str, list[dict[str, str]]] = {}
    for g in integrations:
        # Keys are secrets: shown whole only by the local demo; `onduty integrations list` and
        # GET /api/v1/integrations (manager token) give them otherwise.
        shown = g.url if settings.demo else mask(g.url, g.key)
        routing = g.key if settings.demo else g.key[:4] + "…" + g.key[-4:]
        by_service.setdefault(g.service, []).append(
            {"id": g.integration, "type": g.type, "url": shown, "routing_key": routing}
        )
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "org": org,
            "teams": teams,
            "rotas": rotas,
            "services": services_service.list_services(session),
            "integrations": by_service,
            "demo": settings.demo,
        },
    )
