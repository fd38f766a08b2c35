"""checks, their history, weekly handovers, agenda items and the meeting's time

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 01:00:00

Daily checks from the policy file with their live state and history; one handover report per
team and handoff (unique, so a second engine cannot make it twice) with its meeting record;
agenda items added during the week. Reports need no table: they are aggregates of incidents,
notifications and check runs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onduty.db.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = onduty.db.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "handover_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=3), nullable=False),
        sa.Column("time", sa.String(length=5), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_meeting")),
    )
    op.create_table(
        "check",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("service_id", sa.String(length=64), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=True),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_since", UTC(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("pings", sa.Integer(), nullable=False),
        sa.Column("last_ping_at", UTC(timezone=True), nullable=True),
        sa.Column("last_run_at", UTC(timezone=True), nullable=True),
        sa.Column("next_due_at", UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check")),
        sa.UniqueConstraint("key", name=op.f("uq_check_key")),
    )
    op.create_index(op.f("ix_check_next_due_at"), "check", ["next_due_at"], unique=False)
    op.create_table(
        "check_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.String(length=64), nullable=False),
        sa.Column("at", UTC(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("item", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("key", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["check_id"], ["check.id"], name=op.f("fk_check_run_check_id_check"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_run")),
        sa.UniqueConstraint("key", name=op.f("uq_check_run_key")),
    )
    op.create_index(op.f("ix_check_run_at"), "check_run", ["at"], unique=False)
    op.create_index("ix_check_run_check_at", "check_run", ["check_id", "at"], unique=False)
    op.create_table(
        "handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("at", UTC(timezone=True), nullable=False),
        sa.Column("period_start", UTC(timezone=True), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("acknowledged_at", UTC(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("reminded_at", UTC(timezone=True), nullable=True),
        sa.Column("escalated_at", UTC(timezone=True), nullable=True),
        sa.Column("meeting_at", UTC(timezone=True), nullable=True),
        sa.Column("attendees", sa.JSON(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("outcomes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_handover_team_id_team"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover")),
        sa.UniqueConstraint("team_id", "at", name=op.f("uq_handover_team_id_at")),
    )
    op.create_index(op.f("ix_handover_team_id"), "handover", ["team_id"], unique=False)
    op.create_table(
        "handover_agenda_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("handover_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["team.id"],
            name=op.f("fk_handover_agenda_item_team_id_team"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["handover_id"],
            ["handover.id"],
            name=op.f("fk_handover_agenda_item_handover_id_handover"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_agenda_item")),
    )
    op.create_index(
        op.f("ix_handover_agenda_item_team_id"), "handover_agenda_item", ["team_id"], unique=False
    )
    op.create_index(
        op.f("ix_handover_agenda_item_handover_id"),
        "handover_agenda_item",
        ["handover_id"],
        unique=False,
    )
    # Reports read incidents by time and notifications by time.
    op.create_index("ix_notification_created_at", "notification", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_notification_created_at", table_name="notification")
    op.drop_table("handover_agenda_item")
    op.drop_table("handover")
    op.drop_index("ix_check_run_check_at", table_name="check_run")
    op.drop_table("check_run")
    op.drop_table("check")
    op.drop_table("handover_meeting")
