"""status page: components, status incidents and maintenances, updates, subscribers, Intercom

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:37:55.140538

New tables only (issue 14): the page, its components, status incidents (a
maintenance is one of kind `maintenance`) with their components and updates, e-mail subscribers,
and the Intercom conversations linked to incidents.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onduty.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_component",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("created_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_component")),
    )
    op.create_table(
        "status_page",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("created_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_page")),
    )
    op.create_table(
        "status_subscriber",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_subscriber")),
        sa.UniqueConstraint("email", name=op.f("uq_status_subscriber_email")),
        sa.UniqueConstraint("token", name=op.f("uq_status_subscriber_token")),
    )
    op.create_table(
        "intercom_conversation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.String(length=100), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("reply_as", sa.String(length=8), nullable=False),
        sa.Column("created_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_intercom_conversation_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intercom_conversation")),
        sa.UniqueConstraint(
            "notification_id", name=op.f("uq_intercom_conversation_notification_id")
        ),
    )
    with op.batch_alter_table("intercom_conversation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intercom_conversation_conversation_id"),
            ["conversation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_intercom_conversation_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "status_incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("impact", sa.String(length=16), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("update_every_s", sa.Integer(), nullable=True),
        sa.Column("last_update_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paged_at", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scheduled_for", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scheduled_until", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("created_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("monitoring_at", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", onduty.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_status_incident_incident_id_incident"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["person.id"],
            name=op.f("fk_status_incident_owner_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_incident")),
    )
    with op.batch_alter_table("status_incident", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_incident_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_status_incident_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index("ix_status_incident_open", ["kind", "resolved_at"], unique=False)

    op.create_table(
        "status_incident_component",
        sa.Column("status_incident_id", sa.Integer(), nullable=False),
        sa.Column("component_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("worst", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["status_component.id"],
            name=op.f("fk_status_incident_component_component_id_status_component"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["status_incident_id"],
            ["status_incident.id"],
            name=op.f("fk_status_incident_component_status_incident_id_status_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "status_incident_id", "component_id", name=op.f("pk_status_incident_component")
        ),
    )
    op.create_table(
        "status_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status_incident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("affected", sa.JSON(), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("created_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["status_incident_id"],
            ["status_incident.id"],
            name=op.f("fk_status_update_status_incident_id_status_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_update")),
    )
    with op.batch_alter_table("status_update", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_update_status_incident_id"), ["status_incident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("status_update", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_update_status_incident_id"))

    op.drop_table("status_update")
    op.drop_table("status_incident_component")
    with op.batch_alter_table("status_incident", schema=None) as batch_op:
        batch_op.drop_index("ix_status_incident_open")
        batch_op.drop_index(batch_op.f("ix_status_incident_incident_id"))
        batch_op.drop_index(batch_op.f("ix_status_incident_created_at"))

    op.drop_table("status_incident")
    with op.batch_alter_table("intercom_conversation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intercom_conversation_incident_id"))
        batch_op.drop_index(batch_op.f("ix_intercom_conversation_conversation_id"))

    op.drop_table("intercom_conversation")
    op.drop_table("status_subscriber")
    op.drop_table("status_page")
    op.drop_table("status_component")
