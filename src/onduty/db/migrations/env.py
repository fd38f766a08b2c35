"""Alembic environment: runs onduty's migrations against the URL the caller configured."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from onduty.db.session import make_engine
from onduty.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url
connectable = make_engine(url, poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
