"""Daily tips as a job kind of the scheduler (:mod:`bot.schedule.jobs`).

A subscription's due day becomes a ``tip_posts`` row (one per subscription and local date); the
post is the next tip of the subscription's rotation (:mod:`bot.tips.rotation`), drawn from the
knowledge as it is when the post is sent; marking a post sent records the tip and moves the
subscription's cycle on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.knowledge.kb import KnowledgeBase
from bot.reply import Reply
from bot.schedule.clock import epoch, utc
from bot.schedule.jobs import Compose, Job, Sent, Skip
from bot.schedule.posting import Post
from bot.schedule.rules import Schedule
from bot.store.engine import Store, Tenant, insert_for
from bot.tips.content import matching_tips, tip_post
from bot.tips.rotation import choose_tip, post_key
from bot.tips.store import Rotation, rotation_query, rotations_from, subscription_from
from bot.tips.tables import posts, subscriptions

log = logging.getLogger("careerbot.tips")


class TipJobs:
    """The tips job kind: ``knowledge()`` is the knowledge base as it is now (it may be reloaded)."""

    name = "tips"
    table = posts
    source = "subscription_id"
    poll = 0.0

    def __init__(self, knowledge: Callable[[], KnowledgeBase]) -> None:
        self.knowledge = knowledge
        self._kb_id = 0
        self._candidates: dict[str | None, list[str]] = {}
        self._replies: dict[tuple[str, str | None], Reply] = {}

    # ------------------------------------------------------------------ due jobs

    async def materialize(
        self, store: Store, now: datetime, grace: timedelta, platforms: Sequence[str], limit: int
    ) -> int:
        """Turn due subscriptions into post rows (pending; missed when past the grace window) and
        move each subscription on to its next date. Returns how many subscriptions were handled.

        The rows are locked (``FOR UPDATE SKIP LOCKED``), so replicas materialize disjoint sets.
        A chunk costs a few statements, not one per row: the due day's post is inserted straight
        from the subscriptions, and subscriptions moving to the same next date move together.
        """
        s, p = subscriptions, posts
        stamp, late_after = epoch(now), int(grace.total_seconds())
        query = (
            select(s)
            .where(s.c.active == 1, s.c.next_due_at <= stamp, s.c.platform.in_(list(platforms)))
            .order_by(s.c.next_due_at, s.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with store.begin() as conn:
            subs = [subscription_from(r) for r in await conn.execute(query)]
            if not subs:
                return 0
            ids = [sub.id for sub in subs]
            due_day = select(
                s.c.platform,
                s.c.tenant,
                s.c.id,
                s.c.channel,
                s.c.next_date,
                s.c.next_due_at,
                case((s.c.next_due_at < stamp - late_after, "missed"), else_="pending"),
                literal(stamp),
                literal(stamp),
            ).where(s.c.id.in_(ids))
            columns = ["platform", "tenant", "subscription_id", "channel", "local_date", "due_at", "state"]
            insert = insert_for(store, p).from_select([*columns, "created_at", "updated_at"], due_day)
            await conn.execute(insert.on_conflict_do_nothing())
            extra: list[dict[str, Any]] = []
            moves: dict[tuple[str, int], list[int]] = {}
            following: dict[tuple[Schedule, str], tuple[str, int]] = {}
            for sub in subs:
                assert sub.next_date is not None and sub.next_due_at is not None
                common = (sub.schedule, sub.next_date)
                if common in following and now - utc(sub.next_due_at) <= grace:  # the usual case, computed once
                    moves.setdefault(following[common], []).append(sub.id)
                    continue
                day, due = date.fromisoformat(sub.next_date), utc(sub.next_due_at)
                while due <= now:
                    if now - due > grace:
                        log.warning(
                            "tips: %s %s %s: skipped; the bot was not running at %s and the %s grace window has passed",
                            sub.tenant,
                            sub.channel,
                            day,
                            due.isoformat(),
                            grace,
                        )
                    if day.isoformat() != sub.next_date:  # catching up more than one day (rare)
                        state = "missed" if now - due > grace else "pending"
                        values = (sub.tenant.platform, sub.tenant.team, sub.id, sub.channel, day.isoformat())
                        extra.append(dict(zip(columns, (*values, epoch(due), state), strict=True)))
                    if now - due > timedelta(days=3):  # down for long: jump, do not log every day
                        day, due = sub.schedule.first_after(now - grace - timedelta(days=1))
                        continue
                    day = sub.schedule.next_date(day)
                    due = sub.schedule.due(day)
                target = (day.isoformat(), epoch(due))
                if sub.schedule.next_date(date.fromisoformat(sub.next_date)) == day:  # one day moved on
                    following[common] = target
                moves.setdefault(target, []).append(sub.id)
            if extra:
                rows = [{**row, "created_at": stamp, "updated_at": stamp} for row in extra]
                await conn.execute(insert_for(store, p).on_conflict_do_nothing(), rows)
            for (day_text, due_epoch), moved in moves.items():
                await conn.execute(update(s).where(s.c.id.in_(moved)).values(next_date=day_text, next_due_at=due_epoch))
        return len(subs)

    async def backlog(self, store: Store, now: datetime, platforms: Sequence[str]) -> int:
        s = subscriptions
        async with store.connect() as conn:
            due = await conn.scalar(
                select(func.count())
                .select_from(s)
                .where(s.c.active == 1, s.c.next_due_at <= epoch(now), s.c.platform.in_(list(platforms)))
            )
        return int(due or 0)

    # ------------------------------------------------------------------ one post

    async def prepare(self, store: Store, tenant: Tenant, jobs: Sequence[Job]) -> dict[int, Rotation]:
        """The rotation of each subscription in the batch (which tips it showed in its cycle)."""
        ids = sorted({job.source for job in jobs})
        if not ids:
            return {}
        async with store.connect() as conn:
            return rotations_from(await conn.execute(rotation_query(tenant, ids)))

    def compose(self, job: Job, prepared: dict[int, Rotation]) -> Compose | Skip:
        rotation = prepared.get(job.source)
        if rotation is None:  # the subscription is gone, or was stopped after this post was claimed
            return Skip("subscription not found or stopped")
        kb = self.knowledge()
        candidates = self._tips_for(kb, rotation.topic)
        if not candidates:
            return Skip("no tips match the topic", f"no tips match topic {rotation.topic!r}")
        tip_id, cycle = choose_tip(rotation.seed, rotation.cycle, rotation.shown, rotation.last, candidates)
        post = Post(
            tenant=job.tenant.team,
            channel=job.channel,
            reply=self._reply(kb, tip_id, rotation.topic),
            key=post_key(job.tenant.platform, job.tenant.team, job.source, job.local_date),
            due_at=job.due_at,
        )
        return Compose(post, {"tip_id": tip_id, "cycle": cycle})

    def sent(self, job: Job, composed: Compose, prepared: dict[int, Rotation]) -> None:
        """Move the rotation on in memory, so the subscription's next post in this batch (catching up
        a missed day) shows the next tip."""
        rotation = prepared[job.source]  # compose found it: the scheduler calls this with what compose made
        tip_id, cycle = composed.values["tip_id"], composed.values["cycle"]
        if cycle > rotation.cycle:
            rotation.cycle, rotation.shown = cycle, set()
        rotation.shown.add(tip_id)
        rotation.last = tip_id

    async def completed(self, conn: AsyncConnection, sent: Sequence[Sent], now: datetime) -> None:
        """Move each subscription's cycle on to the cycle of its post (never back)."""
        s = subscriptions
        cycles = [
            {
                "b_id": done.job.source,
                "b_platform": done.job.tenant.platform,
                "b_tenant": done.job.tenant.team,
                "b_cycle": done.values.get("cycle"),
            }
            for done in sent
            if done.values.get("cycle")
        ]
        if not cycles:
            return
        await conn.execute(
            update(s)
            .where(
                s.c.id == bindparam("b_id"),
                s.c.platform == bindparam("b_platform"),
                s.c.tenant == bindparam("b_tenant"),
                s.c.cycle < bindparam("b_cycle"),
            )
            .values(cycle=bindparam("b_cycle")),
            cycles,
        )

    # ------------------------------------------------------------------ content, cached per knowledge

    def _refresh(self, kb: KnowledgeBase) -> None:
        if id(kb) != self._kb_id:
            self._kb_id, self._candidates, self._replies = id(kb), {}, {}

    def _tips_for(self, kb: KnowledgeBase, topic: str | None) -> list[str]:
        self._refresh(kb)
        if topic not in self._candidates:
            self._candidates[topic] = matching_tips(kb, topic)
        return self._candidates[topic]

    def _reply(self, kb: KnowledgeBase, tip_id: str, topic: str | None) -> Reply:
        key = (tip_id, topic)
        if key not in self._replies:
            self._replies[key] = tip_post(kb, tip_id, topic)
        return self._replies[key]
