"""Tip queries for commands. :class:`TenantTips` is bound to one tenant, and every statement it
runs filters on that tenant's ``platform`` and ``tenant``, so no command can read or change another
workspace's subscriptions, even given their ids. The scheduler's side (due work across tenants) is
:class:`bot.schedule.queue.JobQueue`, with the tips job kind in :mod:`bot.tips.jobs`.

A day's post is one ``tip_posts`` row, unique per (subscription, local date): it is inserted
``pending`` when due, ``claimed`` with a lease before sending, and ``sent`` with the message id
after. See :mod:`bot.schedule.scheduler` for the protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from bot.schedule.clock import epoch
from bot.schedule.posting import Channel
from bot.schedule.rules import Schedule
from bot.store.engine import Store, Tenant
from bot.tips.tables import posts, subscriptions

log = logging.getLogger("careerbot.tips")


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    tenant: Tenant
    channel: str
    channel_name: str
    schedule: Schedule
    topic: str | None
    seed: int
    cycle: int
    active: bool
    next_date: str | None
    next_due_at: int | None
    created_by: str


@dataclass(slots=True)
class Rotation:
    seed: int
    topic: str | None
    cycle: int
    shown: set[str] = field(default_factory=set)
    last: str | None = None


def subscription_from(row: Row[Any]) -> Subscription:
    m = row._mapping
    return Subscription(
        id=m["id"],
        tenant=Tenant(m["platform"], m["tenant"]),
        channel=m["channel"],
        channel_name=m["channel_name"],
        schedule=Schedule(m["hour"], m["minute"], m["timezone"], m["days"]),
        topic=m["topic"],
        seed=m["seed"],
        cycle=m["cycle"],
        active=bool(m["active"]),
        next_date=m["next_date"],
        next_due_at=m["next_due_at"],
        created_by=m["created_by"],
    )


def rotations_from(rows: Iterable[Row[Any]]) -> dict[int, Rotation]:
    out: dict[int, Rotation] = {}
    latest: dict[int, str] = {}
    for row in rows:
        sub_id, seed, topic, cycle, tip_id, tip_cycle, local_date = tuple(row)
        rot = out.setdefault(sub_id, Rotation(seed=seed, topic=topic, cycle=cycle))
        if tip_id is None:
            continue
        if tip_cycle > rot.cycle:
            rot.cycle, rot.shown = tip_cycle, set()
        if tip_cycle == rot.cycle:
            rot.shown.add(tip_id)
        if local_date > latest.get(sub_id, ""):
            latest[sub_id], rot.last = local_date, tip_id
    return out


def rotation_query(tenant: Tenant, ids: Sequence[int]) -> Any:
    s, p = subscriptions, posts
    joined = s.outerjoin(p, and_(p.c.subscription_id == s.c.id, p.c.state == "sent", p.c.cycle >= s.c.cycle))
    return (
        select(s.c.id, s.c.seed, s.c.topic, s.c.cycle, p.c.tip_id, p.c.cycle, p.c.local_date)
        .select_from(joined)
        .where(s.c.platform == tenant.platform, s.c.tenant == tenant.team, s.c.id.in_(list(ids)))
        .where(s.c.active == 1)  # unsubscribed after its post was claimed: nothing to post
    )


# ---------------------------------------------------------------------------- commands' side


class TenantTips:
    """One tenant's subscriptions. Every query here filters on :attr:`tenant`."""

    def __init__(self, store: Store, tenant: Tenant) -> None:
        self.store = store
        self.tenant = tenant

    def _mine(self, table: Any) -> ColumnElement[bool]:
        return and_(table.c.platform == self.tenant.platform, table.c.tenant == self.tenant.team)

    async def purge(self) -> int:
        """Delete every subscription and post of the tenant (the bot was removed from it)."""
        async with self.store.begin() as conn:
            removed = (await conn.execute(posts.delete().where(self._mine(posts)))).rowcount or 0
            removed += (await conn.execute(subscriptions.delete().where(self._mine(subscriptions)))).rowcount or 0
        return removed

    async def get(self, channel: str) -> Subscription | None:
        async with self.store.connect() as conn:
            row = (
                await conn.execute(
                    select(subscriptions).where(self._mine(subscriptions), subscriptions.c.channel == channel)
                )
            ).first()
        return subscription_from(row) if row is not None else None

    async def by_id(self, subscription_id: int) -> Subscription | None:
        async with self.store.connect() as conn:
            row = (
                await conn.execute(
                    select(subscriptions).where(self._mine(subscriptions), subscriptions.c.id == subscription_id)
                )
            ).first()
        return subscription_from(row) if row is not None else None

    async def active(self) -> list[Subscription]:
        query = (
            select(subscriptions)
            .where(self._mine(subscriptions), subscriptions.c.active == 1)
            .order_by(subscriptions.c.channel)
        )
        async with self.store.connect() as conn:
            return [subscription_from(r) for r in await conn.execute(query)]

    async def subscribe(
        self, channel: Channel, schedule: Schedule, topic: str | None, *, user: str, now: datetime, seed: int
    ) -> tuple[Subscription, bool]:
        """Create or change the channel's subscription; returns it and whether it is new. The first
        post is the first scheduled time after ``now``; rotation history survives a change."""
        next_date, next_due = schedule.first_after(now)
        values = {
            "hour": schedule.hour,
            "minute": schedule.minute,
            "timezone": schedule.timezone,
            "days": schedule.days,
            "topic": topic,
            "channel_name": channel.name[:100],
            "active": 1,
            "next_date": next_date.isoformat(),
            "next_due_at": epoch(next_due),
            "updated_at": epoch(now),
        }
        s = subscriptions
        mine = and_(self._mine(s), s.c.channel == channel.id)

        async def write() -> tuple[Row[Any], Row[Any] | None]:
            async with self.store.begin() as conn:
                existing = (await conn.execute(select(s.c.id, s.c.active).where(mine).with_for_update())).first()
                if existing is None:
                    await conn.execute(
                        s.insert().values(
                            platform=self.tenant.platform,
                            tenant=self.tenant.team,
                            channel=channel.id,
                            seed=seed,
                            created_by=user,
                            created_at=epoch(now),
                            **values,
                        )
                    )
                else:
                    await conn.execute(update(s).where(mine).values(**values))
                return (await conn.execute(select(s).where(mine))).one(), existing

        try:
            row, existing = await write()
        except IntegrityError:  # another admin subscribed the same channel at the same moment: change theirs
            row, existing = await write()  # a second collision is raised
        return subscription_from(row), existing is None or not existing.active

    async def unsubscribe(self, channel: str, *, now: datetime) -> bool:
        s, p = subscriptions, posts
        async with self.store.begin() as conn:
            row = (
                await conn.execute(
                    update(s)
                    .where(self._mine(s), s.c.channel == channel, s.c.active == 1)
                    .values(active=0, next_date=None, next_due_at=None, updated_at=epoch(now))
                    .returning(s.c.id)
                )
            ).first()
            if row is None:
                return False
            await conn.execute(
                update(p)
                .where(self._mine(p), p.c.subscription_id == row.id, p.c.state == "pending")
                .values(state="cancelled", updated_at=epoch(now))
            )
        return True

    async def skip(self, channel: str, *, now: datetime) -> tuple[date, bool] | None:
        """Skip the first scheduled day after today (local): that date, and False if it was already
        posted or skipped. None when the channel has no subscription."""
        sub = await self.get(channel)
        if sub is None or not sub.active:
            return None
        day = sub.schedule.next_date(sub.schedule.today(now))
        p = posts
        async with self.store.begin() as conn:
            row = (
                await conn.execute(
                    select(p.c.id, p.c.state).where(
                        self._mine(p), p.c.subscription_id == sub.id, p.c.local_date == day.isoformat()
                    )
                )
            ).first()
            if row is None:
                await conn.execute(
                    p.insert().values(
                        platform=self.tenant.platform,
                        tenant=self.tenant.team,
                        subscription_id=sub.id,
                        channel=sub.channel,
                        local_date=day.isoformat(),
                        due_at=epoch(sub.schedule.due(day)),
                        state="skipped",
                        created_at=epoch(now),
                        updated_at=epoch(now),
                    )
                )
                return day, True
            if row.state != "pending":
                return day, False
            await conn.execute(
                update(p).where(self._mine(p), p.c.id == row.id).values(state="skipped", updated_at=epoch(now))
            )
        return day, True

    async def rotation(self, subscription_id: int) -> Rotation | None:
        async with self.store.connect() as conn:
            rows = await conn.execute(rotation_query(self.tenant, [subscription_id]))
            return rotations_from(rows).get(subscription_id)

    async def history(self, subscription_id: int, limit: int = 50) -> list[dict[str, Any]]:
        p = posts
        query = (
            select(p.c.local_date, p.c.state, p.c.tip_id, p.c.message_id, p.c.error)
            .where(self._mine(p), p.c.subscription_id == subscription_id)
            .order_by(p.c.local_date.desc())
            .limit(limit)
        )
        async with self.store.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]
