"""Daily tips: subscriptions, one post row per subscription and local date, tenant leases.

Revision ID: 0001
Revises:
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tip_subscriptions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("channel_name", sa.String(100), nullable=False),
        sa.Column("hour", sa.SmallInteger, nullable=False),
        sa.Column("minute", sa.SmallInteger, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("days", sa.SmallInteger, nullable=False),
        sa.Column("topic", sa.String(100), nullable=True),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False, server_default="0"),
        sa.Column("active", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("next_date", sa.String(10), nullable=True),
        sa.Column("next_due_at", sa.BigInteger, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tip_subscriptions"),
        sa.UniqueConstraint("platform", "tenant", "channel", name="uq_tip_subscriptions_platform_tenant_channel"),
    )
    op.create_index("ix_tip_subscriptions_active_next_due_at", "tip_subscriptions", ["active", "next_due_at"])
    op.create_table(
        "tip_posts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("subscription_id", Id, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("due_at", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("not_before", sa.BigInteger, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("tip_id", sa.String(100), nullable=True),
        sa.Column("cycle", sa.Integer, nullable=True),
        sa.Column("message_id", sa.String(100), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tip_posts"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["tip_subscriptions.id"],
            name="fk_tip_posts_subscription_id",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("subscription_id", "local_date", name="uq_tip_posts_subscription_id_local_date"),
    )
    op.create_index("ix_tip_posts_state_due_at", "tip_posts", ["state", "due_at"])
    op.create_index("ix_tip_posts_platform_tenant_state_due_at", "tip_posts", ["platform", "tenant", "state", "due_at"])
    op.create_index("ix_tip_posts_subscription_id_cycle", "tip_posts", ["subscription_id", "cycle"])
    op.create_table(
        "tip_tenant_leases",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("lease_until", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("platform", "tenant", name="pk_tip_tenant_leases"),
    )


def downgrade() -> None:
    raise NotImplementedError("careerbot migrations are forward-only: a downgrade would lose rows")
