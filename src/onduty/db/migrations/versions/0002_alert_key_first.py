"""alert: the unique index on (open_key, service_id), key first

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 08:10:00

Intake looks up a batch's keys with `open_key IN (...)`; with service_id leading the index,
PostgreSQL could plan that as a scan of every alert of the service (see incidents/models.py).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.drop_constraint("uq_alert_service_id_open_key", type_="unique")
        batch.create_unique_constraint("uq_alert_open_key_service_id", ["open_key", "service_id"])


def downgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.drop_constraint("uq_alert_open_key_service_id", type_="unique")
        batch.create_unique_constraint("uq_alert_service_id_open_key", ["service_id", "open_key"])
