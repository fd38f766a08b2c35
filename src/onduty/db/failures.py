"""Which database errors mean "try again" and which mean "the database is away", so that callers
retry the first (bounded) and answer 503 for the second, never a 500."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, TimeoutError

# PostgreSQL's SQLSTATEs for a transaction the server aborted to break a deadlock or to keep
# serialisable isolation: the same transaction run again may well succeed.
RETRYABLE_STATES = frozenset({"40001", "40P01"})
RETRIES = 3


def retryable(exc: BaseException) -> bool:
    """A deadlock or serialisation failure: run the whole transaction again."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in RETRYABLE_STATES


def unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or the connection broke (restart, failover, network):
    nothing was stored, and a client should retry later."""
    if isinstance(exc, TimeoutError):  # no connection free in the pool in time
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None) or ""
    # Class 08 is "connection exception", 57P01-57P03 an administrator or crash shutdown; a
    # psycopg OperationalError with no SQLSTATE is a failure to connect at all.
    return state.startswith(("08", "57P0")) or (
        type(exc.orig).__name__ == "OperationalError" and not state
    )
