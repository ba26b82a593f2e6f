"""The tips wing's tables, on the store's shared metadata; created and changed only by the migrations
in :mod:`bot.store.migrations`. Every row carries its tenant (``platform`` + ``tenant``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, SmallInteger, String, Table, UniqueConstraint

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

#: One row per subscription and local date: the claim that makes a post happen at most once.
#: state: pending -> claimed -> sent | missed | failed; skipped (by an admin); cancelled (unsubscribed).
posts = Table(
    "tip_posts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("subscription_id", Id, ForeignKey("tip_subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("due_at", BigInteger, nullable=False),
    Column("state", String(10), nullable=False),
    Column("owner", String(64), nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Column("not_before", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("tip_id", String(100), nullable=True),
    Column("cycle", Integer, nullable=True),
    Column("message_id", String(100), nullable=True),
    Column("error", String(200), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("subscription_id", "local_date"),
    Index(None, "state", "due_at"),
    Index(None, "platform", "tenant", "state", "due_at"),  # a tenant's claimable posts, in order
    Index(None, "subscription_id", "cycle"),  # rotation history; no state, so claims do not rewrite it
)
