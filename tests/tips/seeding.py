"""Many subscriptions at once, for the replica test and the benchmark (one statement per 1000)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.schedule.rules import DAILY, Schedule
from bot.store.engine import Store
from bot.tips.tables import subscriptions


async def bulk_subscribe(
    store: Store, places: Sequence[tuple[str, str]], due: datetime, *, platform: str = "slack"
) -> None:
    """Subscribe each (team, channel) daily at ``due``'s UTC hour and minute, first post at ``due``."""
    schedule = Schedule(due.hour, due.minute, "UTC", DAILY)
    stamp = int(due.timestamp())
    rows = [
        {
            "platform": platform,
            "tenant": team,
            "channel": channel,
            "channel_name": channel.lower(),
            "hour": schedule.hour,
            "minute": schedule.minute,
            "timezone": schedule.timezone,
            "days": schedule.days,
            "topic": None,
            "seed": i * 7919 + 1,
            "next_date": due.date().isoformat(),
            "next_due_at": stamp,
            "created_by": "bench",
            "created_at": stamp - 86400,
            "updated_at": stamp - 86400,
        }
        for i, (team, channel) in enumerate(places)
    ]
    async with store.begin() as conn:
        for start in range(0, len(rows), 1000):
            await conn.execute(subscriptions.insert(), rows[start : start + 1000])
