"""outbox: external targets, priorities and claims held by engine instances

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00

An outbox row is for a person's contact method or for an external system (`target` with a JSON
`payload`); `priority` orders claims (pages first) and leads the due index after the status;
`claimed_by` names the engine instance holding a `sending` row, and `engine_instance` holds
each running engine's heartbeat, so a dead engine's claims are sent again at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onduty.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECIPIENT = (
    "(target IS NULL AND person_id IS NOT NULL AND contact_method_id IS NOT NULL"
    " AND channel IS NOT NULL) OR (target IS NOT NULL AND person_id IS NULL"
    " AND contact_method_id IS NULL AND channel IS NULL)"
)


def upgrade() -> None:
    op.create_table(
        "engine_instance",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("host", sa.String(length=300), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started", sa.String(length=32), nullable=False),
        sa.Column("heartbeat_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engine_instance")),
    )
    # Existing rows are people's messages: pages (0) or notices (1).
    op.add_column("outbox", sa.Column("priority", sa.SmallInteger(), nullable=True))
    op.execute(
        "UPDATE outbox SET priority = CASE WHEN event IN"
        " ('incident.triggered', 'incident.escalated') THEN 0 ELSE 1 END"
    )
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("priority", existing_type=sa.SmallInteger(), nullable=False)
        batch.add_column(sa.Column("target", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch.alter_column("person_id", existing_type=sa.String(length=64), nullable=True)
        batch.alter_column("contact_method_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("channel", existing_type=sa.String(length=16), nullable=True)
        batch.drop_index("ix_outbox_due")
        batch.create_index("ix_outbox_due", ["status", "priority", "due_at"], unique=False)
        batch.create_check_constraint(op.f("ck_outbox_recipient"), sa.text(RECIPIENT))


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE target IS NOT NULL")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_recipient"), type_="check")
        batch.drop_index("ix_outbox_due")
        batch.create_index("ix_outbox_due", ["status", "due_at"], unique=False)
        batch.alter_column("channel", existing_type=sa.String(length=16), nullable=False)
        batch.alter_column("contact_method_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("person_id", existing_type=sa.String(length=64), nullable=False)
        batch.drop_column("claimed_by")
        batch.drop_column("payload")
        batch.drop_column("target")
        batch.drop_column("priority")
    op.drop_table("engine_instance")
