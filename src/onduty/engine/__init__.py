"""The engine: a loop of named, isolated jobs that starts and runs escalations, delivers the
outbox, and (under a lease) runs periodic jobs and the auditor."""

from onduty.engine.loop import Engine

__all__ = ["Engine"]
