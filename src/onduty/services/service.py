"""Reading services and integrations: lookups by id and by inbound key, and their URLs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.services.models import Integration, Service


@dataclass(frozen=True)
class IntegrationOut:
    service: str
    service_name: str
    integration: str
    type: str
    key: str
    url: str


def inbound_url(base_url: str, integration: Integration) -> str:
    """Where a monitoring tool sends: PagerDuty's API path for pagerduty, else our own."""
    base = base_url.rstrip("/")
    if integration.type == "pagerduty":
        return f"{base}/v2/enqueue"
    return f"{base}/integrations/{integration.key}"


def list_integrations(session: Session, *, base_url: str) -> list[IntegrationOut]:
    rows = session.execute(
        select(Integration, Service)
        .join(Service, Integration.service_id == Service.id)
        .order_by(Service.id, Integration.name)
    )
    return [
        IntegrationOut(s.id, s.name, g.name, g.type, g.key, inbound_url(base_url, g))
        for g, s in rows
    ]


def integrations_by_key(
    session: Session, keys: Iterable[str]
) -> dict[str, tuple[Integration, Service]]:
    """The integrations with these keys, each with its service, in one query."""
    rows = session.execute(
        select(Integration, Service)
        .join(Service, Service.id == Integration.service_id)
        .where(Integration.key.in_(set(keys)))
    )
    return {integration.key: (integration, service) for integration, service in rows}


def list_services(session: Session) -> list[Service]:
    return list(session.scalars(select(Service).order_by(Service.team_id, Service.id)))
