"""Issue 14, path 9: the tips store when two admins act at once, and ``skip`` with a post already queued.

- Two admins subscribing the same channel at the same moment (two replicas, each with its own
  store): exactly one subscription, one told it is on, the other that it was changed. On PostgreSQL
  the race is forced: the second admin's INSERT loses to the first's and is retried as an update
  (:meth:`TenantTips.subscribe`'s ``IntegrityError`` branch). On SQLite it cannot happen: ``BEGIN
  IMMEDIATE`` makes the second writer wait for the first (shown by the same outcome).
- ``skip`` when the day's post is already ``pending`` (materialized by a replica): the pending post is
  turned into a skip, and nothing is posted that day; a post already claimed is left to go out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import func, select

from bot.schedule.posting import Channel
from bot.schedule.rules import WEEKDAYS, Schedule
from bot.store.engine import Store, Tenant
from bot.tips import messages as tip_messages
from bot.tips.store import Subscription, TenantTips
from tests.tips.conftest import Database, TipsBot, at, job_queue, new_schema

TENANT = Tenant("slack", "T1")
CHANNEL = Channel("C1", "general")
NOW = at("2025-03-03T06:00")
NINE, TEN = Schedule(9, 0, "UTC", WEEKDAYS), Schedule(10, 0, "UTC", WEEKDAYS)


async def rows(store: Store) -> list[tuple[Any, ...]]:
    from bot.tips.tables import subscriptions as s

    async with store.connect() as conn:
        result = await conn.execute(select(s.c.id, s.c.channel, s.c.hour, s.c.created_by).order_by(s.c.id))
        return [tuple(r) for r in result]


async def subscribe(store: Store | Any, schedule: Schedule, user: str) -> tuple[Subscription, bool]:
    return await TenantTips(cast(Store, store), TENANT).subscribe(CHANNEL, schedule, None, user=user, now=NOW, seed=1)


async def test_two_replicas_subscribing_the_same_channel_at_once_make_one_subscription(database: Database) -> None:
    first, second = await database.open(), await database.open()  # two replicas: their own connections
    try:
        (a, a_new), (b, b_new) = await asyncio.gather(subscribe(first, NINE, "UA"), subscribe(second, TEN, "UB"))
        assert sorted([a_new, b_new]) == [False, True]  # one created it, the other changed it
        assert a.id == b.id
        (row,) = await rows(first)
        winner_hour = 9 if not a_new else 10  # the one told "changed" wrote last, and its schedule is live
        assert row[0] == a.id and row[1] == "C1" and row[2] == winner_hour
        assert row[3] == ("UA" if a_new else "UB")  # the creator is whoever created it
    finally:
        await first.close()
        await second.close()


class Interleaved:
    """A store whose first transaction runs ``between`` right after its first statement: another
    admin's whole subscribe lands between this one's "is there a row?" and its INSERT."""

    def __init__(self, store: Store, between: Callable[[], Awaitable[object]]) -> None:
        self.store = store
        self.between: Callable[[], Awaitable[object]] | None = between
        self.transactions = 0

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[Any]:
        self.transactions += 1
        async with self.store.begin() as conn:
            yield _Conn(conn, self)


class _Conn:
    def __init__(self, conn: Any, owner: Interleaved) -> None:
        self.conn = conn
        self.owner = owner

    async def execute(self, statement: Any, *args: Any) -> Any:
        result = await self.conn.execute(statement, *args)
        if self.owner.between is not None:
            between, self.owner.between = self.owner.between, None
            await between()
        return result


async def test_the_admin_who_loses_the_insert_race_updates_the_winners_subscription(postgres_url: str) -> None:
    """PostgreSQL only: SQLite takes the write lock at BEGIN, so a second writer waits and cannot race."""
    store = await Database("postgresql", postgres_url, new_schema()).open()
    try:
        won: list[tuple[Subscription, bool]] = []

        async def other_admin() -> None:
            won.append(await subscribe(store, TEN, "UB"))

        racer = Interleaved(store, other_admin)
        lost, lost_new = await subscribe(racer, NINE, "UA")
        (winner, winner_new) = won[0]
        assert racer.transactions == 2  # the first attempt hit the unique constraint and was retried
        assert winner_new is True and lost_new is False
        assert lost.id == winner.id and lost.schedule == NINE and lost.created_by == "UB"
        assert [r[:3] for r in await rows(store)] == [(winner.id, "C1", 9)]
    finally:
        await store.close()


async def test_two_admins_at_once_both_get_a_plain_answer(tips_bot: TipsBot) -> None:
    replies = await asyncio.gather(
        tips_bot.ask("/tips subscribe time:09:00 timezone:UTC", user="UADMIN"),
        tips_bot.ask("/tips subscribe time:10:00 timezone:UTC", admin=True, user="U2"),
    )
    titles = sorted(r.title for r in replies)
    assert titles == sorted(
        [tip_messages.SUBSCRIBED_TITLE.format(channel="#C1"), tip_messages.UPDATED_TITLE.format(channel="#C1")]
    ), replies
    assert all(r.tone == "answer" for r in replies)
    listed = await tips_bot.ask("/tips list")
    assert listed.summary == "1 channel gets a daily tip."
    async with tips_bot.store.connect() as conn:
        from bot.tips.tables import subscriptions

        assert (await conn.execute(select(func.count()).select_from(subscriptions))).scalar_one() == 1


# ------------------------------------------------------------------ skip with a post already queued


async def post_states(bot: TipsBot) -> list[tuple[str, str]]:
    from bot.tips.tables import posts

    async with bot.store.connect() as conn:
        result = await conn.execute(select(posts.c.local_date, posts.c.state).order_by(posts.c.local_date))
        return [(r[0], r[1]) for r in result]


async def queue_tomorrows_post(bot: TipsBot) -> None:
    """Monday's post goes out; then a replica whose clock runs ahead materializes Tuesday's while it is
    still Monday here."""
    assert (await bot.run_at("2025-03-03T09:00")).sent == 1
    made = await job_queue(bot.store, "replica-ahead").materialize(
        at("2025-03-04T09:00"), timedelta(hours=6), ["slack"]
    )
    assert made == 1
    assert await post_states(bot) == [("2025-03-03", "sent"), ("2025-03-04", "pending")]


async def test_skip_turns_a_pending_post_into_a_skip(tips_bot: TipsBot) -> None:
    await tips_bot.ask("/tips subscribe time:09:00 timezone:UTC days:daily", admin=True)
    await queue_tomorrows_post(tips_bot)
    tips_bot.clock.set(at("2025-03-03T12:00"))
    reply = await tips_bot.ask("/tips skip", admin=True)
    assert reply.title == "Skipping Tue 04 Mar in #C1" and reply.tone == "answer", reply
    assert reply.summary == tip_messages.SKIPPED.format(day="Tue 04 Mar")
    assert await post_states(tips_bot) == [("2025-03-03", "sent"), ("2025-03-04", "skipped")]
    assert (await tips_bot.run_at("2025-03-04T09:00")).sent == 0
    assert (await tips_bot.run_at("2025-03-05T09:00")).sent == 1
    assert [d.day for d in tips_bot.poster.at] == [3, 5]


async def test_skip_leaves_a_post_already_claimed_to_go_out(tips_bot: TipsBot) -> None:
    from bot.tips.tables import posts

    await tips_bot.ask("/tips subscribe time:09:00 timezone:UTC days:daily", admin=True)
    await queue_tomorrows_post(tips_bot)
    async with tips_bot.store.begin() as conn:  # a replica is sending it right now
        claim = {"state": "claimed", "owner": "replica-ahead", "lease_until": 0}
        await conn.execute(posts.update().where(posts.c.state == "pending").values(**claim))
    tips_bot.clock.set(at("2025-03-03T12:00"))
    reply = await tips_bot.ask("/tips skip", admin=True)
    assert reply.tone == "notice" and "already posted or skipped" in reply.summary, reply
    assert await post_states(tips_bot) == [("2025-03-03", "sent"), ("2025-03-04", "claimed")]
