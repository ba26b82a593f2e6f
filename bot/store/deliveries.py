"""Deliveries seen, shared by every replica: a platform's retried event is answered once.

Slack delivers an event again when the first delivery was not acknowledged in time, to whichever
replica the load balancer picks. Each replica first records the event's id here (a unique key); only
the one whose insert lands answers. Rows expire after :data:`KEEP` (Slack retries within minutes).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Column, String, Table, delete

from bot.store.engine import Store, insert_for, metadata

KEEP = timedelta(hours=1)
KEY_MAX = 100

deliveries = Table(
    "seen_deliveries",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("key", String(KEY_MAX), primary_key=True),
    Column("seen_at", BigInteger, nullable=False, index=True),
)


async def first_time(store: Store, platform: str, key: str, now: datetime) -> bool:
    """True for the first replica to see ``key`` (within :data:`KEEP`), False for every later one."""
    stamp = int(now.timestamp())
    insert = insert_for(store, deliveries).values(platform=platform[:16], key=key[:KEY_MAX], seen_at=stamp)
    async with store.begin() as conn:
        added = await conn.execute(insert.on_conflict_do_nothing(index_elements=["platform", "key"]))
        return bool(added.rowcount)


async def forget_older(store: Store, now: datetime) -> int:
    """Drop what is past :data:`KEEP`; returns how many rows went."""
    async with store.begin() as conn:
        gone = await conn.execute(delete(deliveries).where(deliveries.c.seen_at < int((now - KEEP).timestamp())))
        return int(gone.rowcount or 0)
