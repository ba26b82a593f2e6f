"""Deliveries seen by any replica (Slack event ids), so a retried event is answered once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_deliveries",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("seen_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("platform", "key", name="pk_seen_deliveries"),
    )
    op.create_index("ix_seen_deliveries_seen_at", "seen_deliveries", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_seen_deliveries_seen_at", table_name="seen_deliveries")
    op.drop_table("seen_deliveries")
