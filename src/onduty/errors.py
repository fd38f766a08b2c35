"""Domain errors. They carry what went wrong and where; only web/ maps them to HTTP codes."""

from __future__ import annotations


class OndutyError(Exception):
    """Base of every error meant for a person: message plus the field it concerns."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(OndutyError):
    """The thing asked for does not exist."""


class Conflict(OndutyError):
    """The change collides with something already stored."""


class InvalidInput(OndutyError):
    """The input is malformed or breaks a rule."""


class InvalidTransition(OndutyError):
    """The object is not in a state that allows this action."""


class Forbidden(OndutyError):
    """The caller's role may not do this."""
