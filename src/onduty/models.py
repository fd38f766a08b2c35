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
    PolicySetting,
    PriorityPolicy,
    ReportAttachment,
    TimelineEvent,
    WebhookDelivery,
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
from onduty.postmortems.models import Postmortem, PostmortemAction
from onduty.runbooks.models import Runbook, RunbookFeedback, RunbookTask, RunbookVersion
from onduty.schedules.models import Override, Rota, RotaSlot, SlotMember, TimeOff
from onduty.services.models import Integration, Service
from onduty.statuspage.models import (
    AffectedComponent,
    Component,
    IntercomConversation,
    StatusIncident,
    StatusPage,
    StatusUpdate,
    Subscriber,
)

__all__ = [
    "AffectedComponent",
    "AgendaItem",
    "Alert",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Check",
    "CheckRun",
    "Component",
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
    "IntercomConversation",
    "Login",
    "LoginFailure",
    "Notification",
    "NotificationRule",
    "Organization",
    "OutboxMessage",
    "Override",
    "Person",
    "PolicySetting",
    "Postmortem",
    "PostmortemAction",
    "PriorityPolicy",
    "ReportAttachment",
    "Rota",
    "RotaSlot",
    "Runbook",
    "RunbookFeedback",
    "RunbookTask",
    "RunbookVersion",
    "Service",
    "SlotMember",
    "StatusIncident",
    "StatusPage",
    "StatusUpdate",
    "Subscriber",
    "SupportLevel",
    "Team",
    "TeamMember",
    "TimeOff",
    "TimelineEvent",
    "UsedActionLink",
    "WebhookDelivery",
]
