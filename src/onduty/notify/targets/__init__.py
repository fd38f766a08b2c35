"""Outbound calls to external systems that are not people: the `Target` protocol, its
adapters and registry. The outbox's delivery path sends them like channel messages."""

from __future__ import annotations

from onduty.notify.targets.base import Call, Target
from onduty.notify.targets.http import HttpTarget
from onduty.notify.targets.jira import JiraTarget
from onduty.notify.targets.registry import build_targets, target_for
from onduty.notify.targets.slack import SlackTarget

__all__ = [
    "Call",
    "HttpTarget",
    "JiraTarget",
    "SlackTarget",
    "Target",
    "build_targets",
    "target_for",
]
