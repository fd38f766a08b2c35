"""incident numbers from a sequence on PostgreSQL; shared intake rate-limit windows

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:30:00

Several API processes number incidents without waiting on the counter row's lock, and count
each integration's requests in one place (`intake_rate_window`), so N processes do not admit N
times an integration's limit. SQLite keeps the counter row: it has one writer.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE incident_number")
        # Go on from the counter: setval(n) makes the next number n + 1.
        op.execute("SELECT setval('incident_number', value) FROM counter WHERE name = 'incident'")
    op.create_table(
        "intake_rate_window",
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integration.id"],
            name=op.f("fk_intake_rate_window_integration_id_integration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("integration_id", "minute", name=op.f("pk_intake_rate_window")),
    )


def downgrade() -> None:
    op.drop_table("intake_rate_window")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "INSERT INTO counter (name, value) SELECT 'incident', last_value FROM incident_number "
            "WHERE is_called ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"
        )
        op.execute("DROP SEQUENCE incident_number")
