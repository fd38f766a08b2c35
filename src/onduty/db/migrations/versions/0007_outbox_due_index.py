"""outbox: the due index back to (status, due_at)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 23:45:00

A claim is one query for the due rows, sorted by priority. With (status, priority, due_at) it
read every row of a priority due later (delayed rules, backoffs, throttles) before the next
priority's; (status, due_at) reads exactly the due rows.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_due")
        batch.create_index("ix_outbox_due", ["status", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_due")
        batch.create_index("ix_outbox_due", ["status", "priority", "due_at"], unique=False)
