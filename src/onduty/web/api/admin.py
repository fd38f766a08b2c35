"""Configuration reads for scripts: services and their integrations (keys need a manager)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from onduty.config import Settings
from onduty.services import service as services_service
from onduty.web.deps import Caller, TokenFirstRoute, get_session, get_settings, require

router = APIRouter(prefix="/api/v1", tags=["configuration"], route_class=TokenFirstRoute)


@router.get("/integrations")
def list_integrations(
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _caller: Caller = Depends(require("manager")),
) -> list[dict[str, Any]]:
    """Every integration with its key and inbound URL."""
    rows = services_service.list_integrations(session, base_url=settings.base_url)
    return [asdict(r) for r in rows]
