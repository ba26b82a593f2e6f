"""Mentoring pools checked against the platform before a round: who is absent (left the channel,
deactivated, a bot, a guest), whether a member's time zone was their own choice, and which round's
pool was last checked.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns only: existing rows read as present, time zone not chosen, never checked.
    op.add_column("mentoring_members", sa.Column("absent", sa.String(16), nullable=True))
    op.add_column("mentoring_members", sa.Column("tz_source", sa.String(8), nullable=True))
    op.add_column("mentoring_programs", sa.Column("pool_checked", sa.String(10), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("careerbot migrations are forward-only: a downgrade would lose rows")
