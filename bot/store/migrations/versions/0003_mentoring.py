"""Mentoring programs: programs per channel, opt-in members, blocks, rounds' groups and check-in
answers, and the intro and check-in jobs of the scheduler.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mentoring_programs",
        sa.Column("id", Id, primary_key=True, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("channel_name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("group_size", sa.SmallInteger, nullable=False),
        sa.Column("every_weeks", sa.SmallInteger, nullable=False),
        sa.Column("weekday", sa.SmallInteger, nullable=False),
        sa.Column("hour", sa.SmallInteger, nullable=False),
        sa.Column("minute", sa.SmallInteger, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("repeat_window", sa.SmallInteger, nullable=False),
        sa.Column("checkin_days", sa.SmallInteger, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("rounds", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_date", sa.String(10), nullable=True),
        sa.Column("next_due_at", sa.BigInteger, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("platform", "tenant", "channel", name="uq_mentoring_programs_platform_tenant_channel"),
        sa.PrimaryKeyConstraint("id", name="pk_mentoring_programs"),
    )
    op.create_index("ix_mentoring_programs_state_next_due_at", "mentoring_programs", ["state", "next_due_at"])
    op.create_table(
        "mentoring_members",
        sa.Column("id", Id, primary_key=True, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("program_id", Id, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("knows", sa.String(1000), nullable=False, server_default=""),
        sa.Column("wants", sa.String(1000), nullable=False, server_default=""),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("bio", sa.String(300), nullable=True),
        sa.Column("capacity", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("snooze_until", sa.String(10), nullable=True),
        sa.Column("silent", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("last_sat_out", sa.Integer, nullable=True),
        sa.Column("joined_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("program_id", "user_id", name="uq_mentoring_members_program_id_user_id"),
        sa.ForeignKeyConstraint(
            ["program_id"], ["mentoring_programs.id"], name="fk_mentoring_members_program_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mentoring_members"),
    )
    op.create_index(
        "ix_mentoring_members_platform_tenant_user_id", "mentoring_members", ["platform", "tenant", "user_id"]
    )
    op.create_table(
        "mentoring_blocks",
        sa.Column("id", Id, primary_key=True, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("blocked", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint(
            "platform", "tenant", "user_id", "blocked", name="uq_mentoring_blocks_platform_tenant_user_id_blocked"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mentoring_blocks"),
    )
    op.create_table(
        "mentoring_groups",
        sa.Column("id", Id, primary_key=True, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("program_id", Id, nullable=False),
        sa.Column("round_no", sa.Integer, nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("shared", sa.String(600), nullable=False, server_default=""),
        sa.Column("overlap_hours", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("odd_one", sa.String(64), nullable=True),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"], ["mentoring_programs.id"], name="fk_mentoring_groups_program_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mentoring_groups"),
    )
    op.create_index("ix_mentoring_groups_program_id_round_no", "mentoring_groups", ["program_id", "round_no"])
    op.create_table(
        "mentoring_group_members",
        sa.Column("id", Id, primary_key=True, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("group_id", Id, nullable=False),
        sa.Column("program_id", Id, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("answer", sa.String(8), nullable=True),
        sa.Column("answered_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_mentoring_group_members"),
        sa.ForeignKeyConstraint(
            ["group_id"], ["mentoring_groups.id"], name="fk_mentoring_group_members_group_id", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("group_id", "user_id", name="uq_mentoring_group_members_group_id_user_id"),
    )
    op.create_index(
        "ix_mentoring_group_members_platform_tenant_user_id",
        "mentoring_group_members",
        ["platform", "tenant", "user_id"],
    )
    op.create_index(
        "ix_mentoring_group_members_program_id_user_id", "mentoring_group_members", ["program_id", "user_id"]
    )
    op.create_table(
        "mentoring_intros",
        sa.Column("id", Id, primary_key=True, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("group_id", Id, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("due_at", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("not_before", sa.BigInteger, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message_id", sa.String(100), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["mentoring_groups.id"], name="fk_mentoring_intros_group_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mentoring_intros"),
        sa.UniqueConstraint("group_id", "local_date", name="uq_mentoring_intros_group_id_local_date"),
    )
    op.create_index(
        "ix_mentoring_intros_platform_tenant_state_due_at",
        "mentoring_intros",
        ["platform", "tenant", "state", "due_at"],
    )
    op.create_index("ix_mentoring_intros_state_due_at", "mentoring_intros", ["state", "due_at"])
    op.create_table(
        "mentoring_checkins",
        sa.Column("id", Id, primary_key=True, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("group_id", Id, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("due_at", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("not_before", sa.BigInteger, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message_id", sa.String(100), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("group_id", "local_date", name="uq_mentoring_checkins_group_id_local_date"),
        sa.PrimaryKeyConstraint("id", name="pk_mentoring_checkins"),
        sa.ForeignKeyConstraint(
            ["group_id"], ["mentoring_groups.id"], name="fk_mentoring_checkins_group_id", ondelete="CASCADE"
        ),
    )
    op.create_index(
        "ix_mentoring_checkins_platform_tenant_state_due_at",
        "mentoring_checkins",
        ["platform", "tenant", "state", "due_at"],
    )
    op.create_index("ix_mentoring_checkins_state_due_at", "mentoring_checkins", ["state", "due_at"])


def downgrade() -> None:
    raise NotImplementedError("careerbot migrations are forward-only: a downgrade would lose rows")
