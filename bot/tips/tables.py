"""The tips wing's tables, on the store's shared metadata; created and changed only by the migrations
in :mod:`bot.store.migrations`. Every row carries its tenant (``platform`` + ``tenant``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, SmallInteger, String, Table, UniqueConstraint

from bot.schedule.jobs import job_table
from bot.store.engine import Id, metadata

subscriptions = Table(
    "tip_subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("channel_name", String(100), nullable=False),
    Column("hour", SmallInteger, nullable=False),
    Column("minute", SmallInteger, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("days", SmallInteger, nullable=False),
    Column("topic", String(100), nullable=True),
    Column("seed", BigInteger, nullable=False),
    Column("cycle", Integer, nullable=False, server_default="0"),
    Column("active", SmallInteger, nullable=False, server_default="1"),
    Column("next_date", String(10), nullable=True),
    Column("next_due_at", BigInteger, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("platform", "tenant", "channel"),
    Index(None, "active", "next_due_at"),
)

#: One row per subscription and local date (:func:`~bot.schedule.jobs.job_table`): the claim that
#: makes a post happen at most once. state: pending -> claimed -> sent | missed | failed; skipped (by
#: an admin); cancelled (unsubscribed). ``tip_id`` and ``cycle``: which tip was posted.
posts = job_table(
    "tip_posts",
    Column("subscription_id", Id, ForeignKey("tip_subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("tip_id", String(100), nullable=True),
    Column("cycle", Integer, nullable=True),
    Index(None, "subscription_id", "cycle"),  # rotation history; no state, so claims do not rewrite it
)
