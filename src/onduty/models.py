"""Every table, imported in one place so Alembic and tests see the whole schema."""

from onduty.audit.models import AuditEvent
from onduty.auth.models import ApiToken, LoginFailure
from onduty.db.base import Base
from onduty.escalation.models import EscalationPolicy, EscalationStep
from onduty.incidents.models import CriticalityRule, PriorityPolicy
from onduty.people.models import (
    ContactMethod,
    Login,
    NotificationRule,
    Organization,
    Person,
    SupportLevel,
    Team,
    TeamMember,
)
from onduty.schedules.models import Override, Rota, RotaSlot, SlotMember, TimeOff
from onduty.services.models import Integration, Service

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "ContactMethod",
    "CriticalityRule",
    "EscalationPolicy",
    "EscalationStep",
    "Integration",
    "Login",
    "LoginFailure",
    "NotificationRule",
    "Organization",
    "Override",
    "Person",
    "PriorityPolicy",
    "Rota",
    "RotaSlot",
    "Service",
    "SlotMember",
    "SupportLevel",
    "Team",
    "TeamMember",
    "TimeOff",
]
