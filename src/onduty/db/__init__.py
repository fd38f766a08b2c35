"""Database plumbing: the declarative Base, the UTC column type, engines, sessions, migrations."""

from onduty.db.base import Base, UTCDateTime
from onduty.db.session import make_engine, make_session_factory, migrate

__all__ = ["Base", "UTCDateTime", "make_engine", "make_session_factory", "migrate"]
