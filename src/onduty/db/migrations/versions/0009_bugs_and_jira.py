"""bug reports and Jira: an incident's receipt reference, Jira issue and handover; the policy
file's whole-organisation sections (jira, templates); inbound webhook deliveries seen

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 00:50:00

`reference` is what an anonymous reporter can quote (random, so it reveals nothing about how
many incidents there are). `jira_state` says whether an issue was asked for (queued), made
(created) or could not be made (failed); `jira_key` is set once Jira answered.
`webhook_delivery` holds the delivery ids of inbound webhooks already stored (Jira sends the
same `X-Atlassian-Webhook-Identifier` on every retry).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onduty.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("reference", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("jira_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("jira_url", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("jira_state", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("jira_status", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("handover", sa.JSON(), nullable=True))
        batch.create_index("ix_incident_reference", ["reference"], unique=True)
        batch.create_index("ix_incident_jira_key", ["jira_key"], unique=False)
        batch.create_index("ix_incident_stage", ["stage"], unique=False)
    op.create_table(
        "policy_setting",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_policy_setting")),
    )
    op.create_table(
        "report_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_report_attachment_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_attachment")),
    )
    op.create_index(op.f("ix_report_attachment_incident_id"), "report_attachment", ["incident_id"])
    op.create_table(
        "webhook_delivery",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("received_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "identifier", name=op.f("pk_webhook_delivery")),
    )


def downgrade() -> None:
    op.drop_table("webhook_delivery")
    op.drop_index(op.f("ix_report_attachment_incident_id"), table_name="report_attachment")
    op.drop_table("report_attachment")
    op.drop_table("policy_setting")
    with op.batch_alter_table("incident") as batch:
        batch.drop_index("ix_incident_stage")
        batch.drop_index("ix_incident_jira_key")
        batch.drop_index("ix_incident_reference")
        for column in ("handover", "jira_status", "jira_state", "jira_url", "jira_key"):
            batch.drop_column(column)
        batch.drop_column("reference")
