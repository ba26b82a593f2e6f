"""Scheduler heartbeats, so replicas split the tenants with due posts fairly.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tip_workers",
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("seen_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("owner", name="pk_tip_workers"),
    )


def downgrade() -> None:
    raise NotImplementedError("careerbot migrations are forward-only: a downgrade would lose rows")
