"""login: session epoch and disabled flag; login_failure keyed by username and address

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:30:00

`login.session_epoch` is carried in every session cookie, so sign-out, a new password or
`onduty user disable` ends every session of the login at once. Failed sign-ins are now counted
per (username, address), per address and per username (auth/throttle.py); the old per-username
counts are dropped, which at worst gives a guesser a fresh set of free attempts once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import onduty.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login") as batch:
        batch.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.drop_table("login_failure")
    op.create_table(
        "login_failure",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", "address", name=op.f("pk_login_failure")),
    )
    op.create_index(op.f("ix_login_failure_last_failure_at"), "login_failure", ["last_failure_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failure_last_failure_at"), table_name="login_failure")
    op.drop_table("login_failure")
    op.create_table(
        "login_failure",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", onduty.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_failure")),
    )
    with op.batch_alter_table("login") as batch:
        batch.drop_column("disabled")
        batch.drop_column("session_epoch")
