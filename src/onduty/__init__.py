"""onduty: self-hosted on-call and incident management. Importing it has no side effects."""

__version__ = "0.1.0"
