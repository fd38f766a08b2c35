"""runbooks and postmortems

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:38:52

Runbooks from the policy's folder with every applied version, the verdicts given at
resolution and the runbook tasks they open; postmortems with their action items.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onduty.db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "runbook",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("changed_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_at", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runbook")),
    )
    op.create_table(
        "runbook_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("runbook_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("applied_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["runbook_id"],
            ["runbook.id"],
            name=op.f("fk_runbook_version_runbook_id_runbook"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runbook_version")),
        sa.UniqueConstraint(
            "runbook_id", "version", name=op.f("uq_runbook_version_runbook_id_version")
        ),
    )
    op.create_table(
        "postmortem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("due_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("timeline", sa.JSON(), nullable=False),
        sa.Column("created_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("published_at", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_postmortem_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_postmortem_incident_id")),
    )
    with op.batch_alter_table("postmortem", schema=None) as batch_op:
        batch_op.create_index("ix_postmortem_due", ["status", "due_at"], unique=False)

    op.create_table(
        "runbook_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("runbook_id", sa.String(length=64), nullable=False),
        sa.Column("runbook_version", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("missing", sa.Text(), nullable=True),
        sa.Column("given_by", sa.String(length=100), nullable=False),
        sa.Column("given_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_runbook_feedback_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["runbook_id"],
            ["runbook.id"],
            name=op.f("fk_runbook_feedback_runbook_id_runbook"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runbook_feedback")),
        sa.UniqueConstraint(
            "incident_id", "runbook_id", name=op.f("uq_runbook_feedback_incident_id_runbook_id")
        ),
    )
    with op.batch_alter_table("runbook_feedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_runbook_feedback_runbook_id"), ["runbook_id"], unique=False
        )

    op.create_table(
        "postmortem_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("jira_key", sa.String(length=64), nullable=True),
        sa.Column("jira_status", sa.String(length=64), nullable=True),
        sa.Column("jira_synced_at", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["postmortem_id"],
            ["postmortem.id"],
            name=op.f("fk_postmortem_action_postmortem_id_postmortem"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_action")),
    )
    with op.batch_alter_table("postmortem_action", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_postmortem_action_postmortem_id"), ["postmortem_id"], unique=False
        )

    op.create_table(
        "runbook_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("runbook_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("missing", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("closed_by_version", sa.Integer(), nullable=True),
        sa.Column("link", sa.String(length=2000), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["runbook_feedback.id"],
            name=op.f("fk_runbook_task_feedback_id_runbook_feedback"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_runbook_task_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["runbook_id"],
            ["runbook.id"],
            name=op.f("fk_runbook_task_runbook_id_runbook"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runbook_task")),
        sa.UniqueConstraint("feedback_id", name=op.f("uq_runbook_task_feedback_id")),
    )
    with op.batch_alter_table("runbook_task", schema=None) as batch_op:
        batch_op.create_index("ix_runbook_task_open", ["status", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_runbook_task_runbook_id"), ["runbook_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("runbook_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runbook_task_runbook_id"))
        batch_op.drop_index("ix_runbook_task_open")

    op.drop_table("runbook_task")
    with op.batch_alter_table("postmortem_action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postmortem_action_postmortem_id"))

    op.drop_table("postmortem_action")
    with op.batch_alter_table("runbook_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runbook_feedback_runbook_id"))

    op.drop_table("runbook_feedback")
    with op.batch_alter_table("postmortem", schema=None) as batch_op:
        batch_op.drop_index("ix_postmortem_due")

    op.drop_table("postmortem")
    op.drop_table("runbook_version")
    op.drop_table("runbook")
