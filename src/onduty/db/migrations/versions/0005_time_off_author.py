"""time_off: who added it and when (created_by, created_at), as overrides already record

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00

Rows made before this stay without an author (NULL), as the policy file's own rows do.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onduty.db.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("time_off") as batch:
        batch.add_column(sa.Column("created_by", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("created_at", onduty.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("time_off") as batch:
        batch.drop_column("created_at")
        batch.drop_column("created_by")
