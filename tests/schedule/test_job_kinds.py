"""The scheduler knows no feature: a made-up job kind ("echo": post a stored text once, at its time)
runs beside the tips kind, on the same claims, tenant leases and "sent" marks.

The echo kind keeps its tables on its own metadata (the store's is checked against the migrations),
created here on the test's database.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.registry import job_kinds
from bot.reply import Reply
from bot.schedule.clock import epoch
from bot.schedule.jobs import Compose, Job, JobKind, Skip, job_table
from bot.schedule.posting import Post
from bot.schedule.queue import JobQueue
from bot.schedule.scheduler import Scheduler
from bot.store.engine import Store, Tenant, insert_for
from bot.tips.tables import posts as tip_posts
from tests.tips.conftest import TipsBot, at

NOW = at("2025-03-03T09:00")
LEASE = timedelta(seconds=60)

meta = MetaData()
sources = Table(
    "echo_sources",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("text", String(100), nullable=False),
    Column("due_at", BigInteger, nullable=False),
    Column("made", SmallInteger, nullable=False, server_default="0"),
    Column("delivered", Integer, nullable=False, server_default="0"),
)
jobs = job_table(
    "echo_jobs",
    Column("source_id", Integer, ForeignKey("echo_sources.id"), nullable=False),
    Column("length", Integer, nullable=True),
    meta=meta,
)


class EchoJobs:
    """Each source row is posted once at ``due_at``: its text, unless the text is ``skip``."""

    name = "echo"
    table = jobs
    source = "source_id"
    poll = 0.0

    def __init__(self) -> None:
        self.composed: list[int] = []

    async def materialize(
        self, store: Store, now: datetime, grace: timedelta, platforms: Sequence[str], limit: int
    ) -> int:
        s = sources
        due = (
            select(s)
            .where(s.c.made == 0, s.c.due_at <= epoch(now), s.c.platform.in_(list(platforms)))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with store.begin() as conn:
            rows = (await conn.execute(due)).all()
            if not rows:
                return 0
            stamp = epoch(now)
            values = [
                {
                    "platform": r.platform,
                    "tenant": r.tenant,
                    "source_id": r.id,
                    "channel": r.channel,
                    "local_date": "2025-03-03",
                    "due_at": r.due_at,
                    "state": "pending",
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for r in rows
            ]
            await conn.execute(insert_for(store, jobs).on_conflict_do_nothing(), values)
            await conn.execute(update(s).where(s.c.id.in_([r.id for r in rows])).values(made=1))
        return len(rows)

    async def backlog(self, store: Store, now: datetime, platforms: Sequence[str]) -> int:
        async with store.connect() as conn:
            count = await conn.scalar(select(func.count()).where(sources.c.made == 0, sources.c.due_at <= epoch(now)))
        return int(count or 0)

    async def prepare(self, store: Store, tenant: Tenant, batch: Sequence[Job]) -> dict[int, str]:
        async with store.connect() as conn:
            rows = await conn.execute(
                select(sources.c.id, sources.c.text).where(sources.c.id.in_([job.source for job in batch]))
            )
            return {r.id: r.text for r in rows}

    def compose(self, job: Job, prepared: dict[int, str]) -> Compose | Skip:
        text = prepared[job.source]
        if text == "skip":
            return Skip("nothing to say", "a source asked to be skipped")
        self.composed.append(job.id)
        post = Post(
            tenant=job.tenant.team, channel=job.channel, reply=Reply(title=text), key=f"echo{job.id}", due_at=job.due_at
        )
        return Compose(post, {"length": len(text)})

    def sent(self, job: Job, composed: Compose, prepared: dict[int, str]) -> None:
        pass

    async def completed(self, conn: AsyncConnection, sent: Sequence[Any], now: datetime) -> None:
        await conn.execute(
            update(sources)
            .where(sources.c.id.in_([s.job.source for s in sent]))
            .values(delivered=sources.c.delivered + 1)
        )


async def setup(bot: TipsBot, texts: dict[tuple[str, str], str]) -> None:
    """The echo tables, one echo source per (tenant, channel), and a daily tip subscription in T1's C1."""
    async with bot.store.begin() as conn:
        await conn.run_sync(meta.create_all)
        await conn.execute(
            sources.insert(),
            [
                {"platform": "slack", "tenant": t, "channel": c, "text": text, "due_at": epoch(NOW)}
                for (t, c), text in texts.items()
            ],
        )
    reply = await bot.ask("/tips subscribe time:09:00 timezone:UTC days:daily", admin=True, channel="C1")
    assert reply.tone == "answer", reply.summary


def kinds(bot: TipsBot, echo: EchoJobs) -> list[JobKind]:
    return [*job_kinds(lambda: bot.core.kb), echo]


async def states(bot: TipsBot) -> dict[str, Counter[str]]:
    async with bot.store.connect() as conn:
        tips = Counter(r.state for r in await conn.execute(select(tip_posts.c.state)))
        echo = Counter(r.state for r in await conn.execute(select(jobs.c.state)))
    return {"tips": tips, "echo": echo}


async def test_a_second_job_kind_is_sent_beside_tips_each_job_once(tips_bot: TipsBot) -> None:
    await setup(tips_bot, {("T1", "C1"): "hello", ("T1", "C2"): "skip", ("T2", "C7"): "from T2"})
    echo = EchoJobs()
    tips_bot.clock.set(NOW)
    scheduler = Scheduler(tips_bot.store, {"slack": tips_bot.poster}, kinds(tips_bot, echo), clock=tips_bot.clock)
    report = await scheduler.run_once()
    assert report.sent == 3 and report.failed == 0  # a tip and two echoes; the skip is not a failed send
    sent = tips_bot.poster.sent
    assert sorted(p.reply.title for p in sent if p.key.startswith("echo")) == ["from T2", "hello"]
    assert len(tips_bot.poster.tips()) == 1 and len({p.key for p in sent}) == 3
    assert await states(tips_bot) == {"tips": Counter(sent=1), "echo": Counter(sent=2, failed=1)}
    async with tips_bot.store.connect() as conn:
        rows = (await conn.execute(select(jobs.c.channel, jobs.c.length, jobs.c.error, jobs.c.message_id))).all()
        delivered = dict((await conn.execute(select(sources.c.text, sources.c.delivered))).all())
    by_channel = {r.channel: r for r in rows}
    assert by_channel["C1"].length == 5 and by_channel["C1"].message_id  # the kind's column, with the mark
    assert by_channel["C2"].error == "nothing to say" and by_channel["C2"].message_id is None
    assert delivered == {"hello": 1, "skip": 0, "from T2": 1}  # completed() ran once per sent job
    again = await scheduler.run_once()
    assert again.sent == 3 and len(tips_bot.poster.sent) == 3  # nothing new: the report is cumulative


async def test_one_tenant_lease_covers_every_kind(tips_bot: TipsBot) -> None:
    """A replica leasing T2 (which has only echo jobs) keeps every other replica off T2, whatever
    kinds they run; T1 (tips and echo) goes to whoever asks first."""
    await setup(tips_bot, {("T1", "C1"): "hello", ("T2", "C7"): "from T2"})
    echo = EchoJobs()
    first = JobQueue(tips_bot.store, "replica-1", kinds(tips_bot, echo))
    second = JobQueue(tips_bot.store, "replica-2", kinds(tips_bot, echo))
    for queue in (first, second):
        await queue.register(NOW)
    assert await first.materialize(NOW, timedelta(hours=6), ["slack"]) == 3  # one subscription, two sources
    assert await first.fair_share(NOW, LEASE, ["slack"]) == 1  # two tenants, two live replicas
    taken = await first.lease_tenants(NOW, LEASE, ["slack"], set(), 10)
    assert len(taken) == 1
    rest = await second.lease_tenants(NOW, LEASE, ["slack"], set(), 10)
    assert set(taken) | set(rest) == {Tenant("slack", "T1"), Tenant("slack", "T2")} and not set(taken) & set(rest)
    assert await second.lease_tenants(NOW, LEASE, ["slack"], set(rest), 10) == []  # nothing left for anyone
    assert await first.claim(rest[0], NOW, LEASE, 10, kind="echo")  # a claim is per job, not per tenant


async def test_two_replicas_with_both_kinds_send_each_job_once(tips_bot: TipsBot) -> None:
    texts = {(f"T{t}", f"C{c}"): f"echo {t}.{c}" for t in range(1, 5) for c in range(1, 4)}
    await setup(tips_bot, texts)
    for tenant in ("T2", "T3", "T4"):
        reply = await tips_bot.ask("/tips subscribe time:09:00 timezone:UTC days:daily", admin=True, tenant=tenant)
        assert reply.tone == "answer", reply.summary
    tips_bot.clock.set(NOW)
    replicas = [
        Scheduler(
            tips_bot.store, {"slack": tips_bot.poster}, kinds(tips_bot, EchoJobs()), clock=tips_bot.clock, owner=f"r{i}"
        )
        for i in range(2)
    ]
    reports = await asyncio.gather(*(r.run_once() for r in replicas))
    keys = Counter(p.key for p in tips_bot.poster.sent)
    assert len(keys) == 12 + 4 and set(keys.values()) == {1}, keys  # 12 echoes and 4 tips, none twice
    assert sum(r.sent for r in reports) == 16
    assert await states(tips_bot) == {"tips": Counter(sent=4), "echo": Counter(sent=12)}
