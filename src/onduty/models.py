"""Every table, imported in one place so Alembic and tests see the whole schema."""

from onduty.audit.models import AuditEvent
from onduty.auth.models import ApiToken, LoginFailure
from onduty.checks.models import Check, CheckRun
from onduty.db.base import Base
from onduty.escalation.models import (
    EscalationPolicy,
    EscalationState,
    EscalationStep,
    Notification,
)
from onduty.handover.models import AgendaItem, Handover, HandoverMeeting
from onduty.incidents.models import (
    Alert,
    Counter,
    CriticalityRule,
    Incident,
    PriorityPolicy,
    TimelineEvent,
)
from onduty.notify.models import EngineInstance, EngineLease, OutboxMessage, UsedActionLink
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
    "AgendaItem",
    "Alert",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Check",
    "CheckRun",
    "ContactMethod",
    "Counter",
    "CriticalityRule",
    "EngineInstance",
    "EngineLease",
    "EscalationPolicy",
    "EscalationState",
    "EscalationStep",
    "Handover",
    "HandoverMeeting",
    "Incident",
    "Integration",
    "Login",
    "LoginFailure",
    "Notification",
    "NotificationRule",
    "Organization",
    "OutboxMessage",
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
    "TimelineEvent",
    "UsedActionLink",
]
