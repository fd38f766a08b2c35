"""Slack: a team's channel for its incidents, and the signatures of Slack requests seen

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:30:00

`team.slack_channel` comes from the policy file (optional). `slack_request` keeps the
signature of each verified Slack request for the 5-minute window, so a replay is refused.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onduty.db.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite has one): a batch copy of `team` would have to drop a table
    # that others' foreign keys point at.
    op.add_column(
        "team",
        sa.Column(
            "slack_channel", sa.String(length=32), nullable=True, server_default=sa.text("NULL")
        ),
    )
    op.create_table(
        "slack_request",
        sa.Column("signature", sa.String(length=80), nullable=False),
        sa.Column("seen_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("signature", name=op.f("pk_slack_request")),
    )
    op.create_index(op.f("ix_slack_request_seen_at"), "slack_request", ["seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_slack_request_seen_at"), table_name="slack_request")
    op.drop_table("slack_request")
    with op.batch_alter_table("team") as batch:  # SQLite before 3.35 cannot drop a column
        batch.drop_column("slack_channel")
