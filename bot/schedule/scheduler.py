"""The daily tip scheduler: the store is the source of truth, the clock is injected.

Each round: due subscriptions become post rows (one per subscription and local date, so never two
for a day); the process takes the posting lease of tenants with due posts; for each tenant it
claims posts (a lease per post), sends them one by one through that platform's
:class:`~bot.schedule.posting.Poster`, and marks them sent with the message id (batched).

Crash boundaries, and what "exactly once" means at them:

- Killed after the claim, before the send: the claim's lease runs out and a later round (this
  process restarted, or another replica) retakes it. Nothing was sent, so nothing is missing or
  doubled.
- Killed after the send, before it was marked sent: the retake sees ``attempts > 1`` and first asks
  the platform whether the earlier attempt landed (:meth:`Poster.find`: Slack message metadata
  carrying the post's key; Discord deduplicates by ``nonce``); if it did, the row is marked sent
  with that message id and nothing is resent. Only if the platform cannot tell is the post sent
  again: at-least-once, never zero.
- Marked sent: never sent again (the unique row is ``sent``; claims take ``pending`` or expired
  ``claimed`` rows only).

Replicas share one PostgreSQL with no leader: claims use ``FOR UPDATE SKIP LOCKED`` and tenant
leases are conditional upserts, so two processes never hold the same post; each process takes at
most its fair share of the tenants with due posts (divided by the processes whose heartbeat is
fresh), so they split the work. A post whose time
passed while nobody ran is still sent within the grace window, otherwise marked ``missed`` and
logged.

The database going away for a while (connections killed or refused, SQLite's file locked) loses
nothing and ends nothing:

- A post whose send succeeded stays in memory until its "sent" mark is written: a failed write
  keeps the batch and retries it with backoff, and the post is marked sent exactly once when the
  database answers again, never sent again (a post this process holds is never re-sent by it, even
  if its claim ran out meanwhile and a round of this process claimed it again).
- The heartbeat renews only the leases this process really holds: the tenants it has a worker for,
  and the posts those workers are sending or waiting to mark. A claim nobody here works on (its
  worker failed, or the reply to the claim was lost with the connection) expires and is retaken.
- Every database step is retried with backoff (``backoff`` doubling up to ``backoff_max``) while
  the error is the database being unavailable (:func:`~bot.schedule.queue.transient`); the round loop
  survives any error. Each failure is one log line, and a long outage logs only the 1st, 2nd,
  4th, 8th, ... failure in a row, then one line when the database answers again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from bot.errors import PostError
from bot.reply import Reply
from bot.schedule.clock import Clock, SystemClock
from bot.schedule.posting import Post, Poster
from bot.schedule.queue import PostQueue, describe, transient
from bot.store.engine import Store, Tenant
from bot.tips.commands import matching_tips, tip_post
from bot.tips.rotation import choose_tip, post_key
from bot.tips.store import Claimed, Done, Rotation, utc

if TYPE_CHECKING:
    from bot.knowledge.kb import KnowledgeBase

log = logging.getLogger("careerbot.scheduler")

T = TypeVar("T")

GIVE_UP_AFTER = 5
"""Failed writes of one batch of "sent" marks, for a reason other than the database being
unavailable (a bug, bad data), after which the batch is given up: its claims then expire and the
retake asks the platform first. Unavailability is retried for as long as the process runs."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    grace: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(seconds=60)
    poll: float = 2.0
    """Seconds between rounds when there is nothing to do (due subscriptions are found this fast)."""
    scan: float = 10.0
    """Seconds between looks for claimable posts when nothing changed (retries, dead replicas)."""
    claim_batch: int = 200
    chunk: int = 1000
    """Subscriptions turned into posts per transaction."""
    materialize_chunks: int = 20
    tenant_concurrency: int = 20
    """Posts of one tenant in flight at once (the poster still paces them)."""
    tenant_batch: int = 10
    """Tenants leased per round, so replicas starting together share the work."""
    max_tenants: int = 500
    flush_every: int = 200
    flush_after: float = 0.05
    retry_after: timedelta = timedelta(seconds=30)
    backoff: float = 0.5
    """Seconds to wait after a database error before trying again; doubles with each error in a row."""
    backoff_max: float = 10.0
    """The longest wait between attempts while the database is unavailable."""


class Backoff:
    """Exponential backoff with jitter: ``first``, then twice that, ... up to ``cap`` seconds."""

    def __init__(self, first: float, cap: float) -> None:
        self.first = max(first, 0.0)
        self.cap = max(cap, self.first)
        self.failures = 0

    def next(self) -> float:
        delay = min(self.cap, self.first * (1 << min(self.failures, 30)))
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


@dataclass(slots=True)
class Report:
    sent: int = 0
    found: int = 0
    """Posts a retake found already delivered (after a crash) and marked sent without resending."""
    missed: int = 0
    failed: int = 0
    retried: int = 0
    db_errors: int = 0
    """Database operations that failed because the database was unavailable, and were retried."""
    errors: list[str] = field(default_factory=list)


def owner_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{random.getrandbits(32):08x}"


class Scheduler:
    def __init__(
        self,
        store: Store,
        posters: Mapping[str, Poster],
        knowledge: Callable[[], KnowledgeBase],
        *,
        clock: Clock | None = None,
        settings: Settings | None = None,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.posters = dict(posters)
        self.knowledge = knowledge
        self.clock = clock or SystemClock()
        self.settings = settings or Settings()
        self.queue = PostQueue(store, owner or owner_id())
        self.report = Report()
        self._workers: dict[Tenant, asyncio.Task[None]] = {}
        self._inflight: set[int] = set()
        """Posts a live worker has claimed and not yet finished (sent, settled or given back)."""
        self._pending: dict[int, Done] = {}
        """Posts sent whose "sent" mark is not written yet, by post id (kept until it is)."""
        self._oldest = 0.0
        self._flush_lock = asyncio.Lock()
        self._flush_backoff = Backoff(self.settings.backoff, self.settings.backoff_max)
        self._flush_not_before: datetime | None = None
        self._flush_failures = 0
        self._failures = 0
        self._unexpected = 0
        self._dirty = False
        self._kb_id = 0
        self._candidates: dict[str | None, list[str]] = {}
        self._replies: dict[tuple[str, str | None], Reply] = {}

    @property
    def platforms(self) -> list[str]:
        return sorted(self.posters)

    # ------------------------------------------------------------------ driving

    async def register(self) -> None:
        """Announce this process to the others sharing the store (done by :meth:`run` too)."""
        await self.queue.register(self.clock.now())

    async def run_once(self) -> Report:
        """Do everything due now, then return (tests and ``careerbot tips run --once``)."""
        now = self.clock.now()
        await self.register()
        while await self._materialize(now):
            pass
        while True:
            while await self._lease(now):
                pass
            if not self._workers:
                break
            await asyncio.gather(*list(self._workers.values()))
        await self._drain()
        return self.report

    async def _materialize(self, now: datetime) -> int:
        """Turn due subscriptions into posts, a chunk at a time, for at most ``materialize_chunks``."""
        made = 0
        for _ in range(self.settings.materialize_chunks):
            count = await self.queue.materialize(now, self.settings.grace, self.platforms, self.settings.chunk)
            made += count
            if count < self.settings.chunk:
                break
        return made

    async def run(self, *, until_idle: bool = False) -> None:
        """Post forever (or, with ``until_idle``, until no due work is left for anyone).

        Every round turns due subscriptions into posts. It looks for tenants to lease when there may
        be new work (posts were just made, a worker finished, the last look found some) and at least
        every ``scan`` seconds (retries, and claims left by a replica that died). When a round found
        nothing to do, the next one is ``poll`` seconds later; when it failed, after a backoff.
        """
        try:
            await self.register()
        except Exception as exc:  # the heartbeat registers again
            self._trouble("registering with the store", exc)
        heartbeat = asyncio.create_task(self._heartbeat(), name="tips-heartbeat")
        next_scan = self.clock.now()
        backoff = self._backoff()
        try:
            while True:
                busy = False
                wait = self.settings.poll
                try:
                    now = self.clock.now()
                    if self._pending:  # left by a worker that failed; normally workers write their own
                        await self._flush()
                    made = await self._materialize(now)
                    if made or self._dirty or now >= next_scan:
                        self._dirty = False
                        next_scan = now + timedelta(seconds=self.settings.scan)
                        busy = await self._lease(now)
                        self._dirty = self._dirty or busy
                    busy = busy or made > 0
                    if until_idle and not self._workers and not self._pending and not busy:
                        if await self.queue.outstanding(now, self.platforms) == 0:
                            return
                    backoff.reset()
                    self._recovered()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database restarting must not end the scheduler
                    self._trouble("a scheduler round", exc)
                    busy, wait = False, backoff.next()
                if not busy:
                    await self.clock.sleep(wait)
        finally:
            heartbeat.cancel()
            for task in list(self._workers.values()):
                task.cancel()
            await asyncio.gather(heartbeat, *self._workers.values(), return_exceptions=True)
            await self._last_flush()

    async def _heartbeat(self) -> None:
        every = self.settings.lease.total_seconds() / 3
        backoff = self._backoff()
        wait = every
        while True:
            await self.clock.sleep(wait)
            try:
                await self.renew()
            except Exception as exc:  # try again soon: the leases run out at ``lease``
                self._trouble("renewing leases", exc)
                wait = min(backoff.next(), every)
            else:
                backoff.reset()
                wait = every

    async def renew(self) -> None:
        """Extend the leases this process really holds (the heartbeat does this every third of a
        lease): the tenants it has a worker for, and the posts being sent or waiting for their
        "sent" mark. A claim nobody here works on is left to expire, so another round retakes it."""
        await self.queue.renew(
            self.clock.now(),
            self.settings.lease,
            tenants=list(self._workers),
            post_ids=self._inflight | self._pending.keys(),
        )

    async def _lease(self, now: datetime) -> bool:
        room = min(self.settings.tenant_batch, self.settings.max_tenants - len(self._workers))
        if room <= 0:
            return False
        held = set(self._workers)
        tenants = await self.queue.lease_tenants(now, self.settings.lease, self.platforms, held, room)
        for tenant in tenants:
            if tenant not in self._workers:
                self._workers[tenant] = asyncio.create_task(self._work(tenant), name=f"tips-{tenant}")
        return bool(tenants)

    # ------------------------------------------------------------------ database trouble

    def _backoff(self) -> Backoff:
        return Backoff(self.settings.backoff, self.settings.backoff_max)

    def _trouble(self, what: str, exc: BaseException) -> None:
        """Log a failed step as one line; while the database stays away, only the 1st, 2nd, 4th, ...
        failure in a row. An unexpected error (a bug, not the database being away) is always
        logged, with its traceback the first time in a streak."""
        self._failures += 1
        count = self._failures
        if transient(exc):
            self.report.db_errors += 1
            if count & (count - 1) == 0:
                streak = f"; {count} failures in a row" if count > 1 else ""
                log.warning("tips: %s failed (%s); retrying with backoff%s", what, describe(exc), streak)
            return
        self._unexpected += 1
        log.error("tips: %s failed (%s)", what, describe(exc), exc_info=exc if self._unexpected == 1 else None)

    def _recovered(self) -> None:
        if self._failures:
            log.info("tips: the database answers again (after %d failed attempts)", self._failures)
            self._failures = self._unexpected = 0

    async def _retrying(self, what: str, step: Callable[[], Awaitable[T]]) -> T:
        """``step()``, tried again with backoff for as long as the database is unavailable; any other
        error is raised at once."""
        backoff: Backoff | None = None
        while True:
            try:
                result = await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not transient(exc):
                    raise
                self._trouble(what, exc)
                backoff = backoff or self._backoff()
                await self.clock.sleep(backoff.next())
                continue
            if backoff is not None:
                self._recovered()
            return result

    # ------------------------------------------------------------------ one tenant

    async def _work(self, tenant: Tenant) -> None:
        mine: set[int] = set()
        try:
            while True:
                batch = await self._retrying(
                    f"claiming posts of {tenant}",
                    lambda: self.queue.claim(tenant, self.clock.now(), self.settings.lease, self.settings.claim_batch),
                )
                if not batch:
                    break
                # A post this process already holds (its claim ran out while the database was away and
                # this claim took it again) is not sent again: its worker, or the pending mark, has it.
                fresh = [c for c in batch if c.id not in self._inflight and c.id not in self._pending]
                ids = {c.id for c in fresh}
                mine |= ids
                self._inflight |= ids
                if fresh:
                    read = partial(self.queue.rotations, tenant, [c.subscription_id for c in fresh])
                    rotations = await self._retrying(f"reading rotations of {tenant}", read)
                    await self._send_all(fresh, rotations)
                await self._drain({c.id for c in batch})  # marked sent before more is claimed
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # its claims expire and are retaken; other tenants carry on
            log.error("tips: posting for %s failed (%s)", tenant, describe(exc))
            self.report.errors.append(f"{tenant}: {type(exc).__name__}: {exc}")
        finally:
            self._inflight -= mine  # what is left nobody works on now: not renewed, so it expires
            try:
                await self.queue.release_tenant(tenant)
            except Exception as exc:
                log.warning("tips: releasing %s failed (%s); its lease will expire", tenant, describe(exc))
            self._workers.pop(tenant, None)
            self._dirty = True

    async def _send_all(self, batch: list[Claimed], rotations: Mapping[int, Rotation]) -> None:
        """Send a tenant's claimed posts, up to ``tenant_concurrency`` at a time (the poster paces
        them to the platform's limits); one subscription's posts go in date order, one by one."""
        by_subscription: dict[int, list[Claimed]] = {}
        for post in batch:
            by_subscription.setdefault(post.subscription_id, []).append(post)
        queue = iter(by_subscription.values())

        async def lane() -> None:
            for posts in queue:  # the lanes share one iterator: each subscription is taken once
                for post in posts:
                    await self._one(post, rotations.get(post.subscription_id))

        lanes = min(self.settings.tenant_concurrency, len(by_subscription))
        results = await asyncio.gather(*(lane() for _ in range(lanes)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _one(self, post: Claimed, rotation: Rotation | None) -> None:
        now = self.clock.now()
        poster = self.posters[post.tenant.platform]
        if rotation is None:  # the subscription is gone
            await self._settle(post, "failed", "subscription not found")
            return
        kb = self.knowledge()
        candidates = self._tips_for(kb, rotation.topic)
        if not candidates:
            await self._settle(post, "failed", "no tips match the topic")
            log.warning("tips: %s %s: no tips match topic %r", post.tenant, post.channel, rotation.topic)
            return
        tip_id, cycle = choose_tip(rotation.seed, rotation.cycle, rotation.shown, rotation.last, candidates)
        message = Post(
            tenant=post.tenant.team,
            channel=post.channel,
            reply=self._reply(kb, tip_id, rotation.topic),
            key=post_key(post.tenant.platform, post.tenant.team, post.subscription_id, post.local_date),
            due_at=post.due_at,
        )
        if post.attempts > 1:  # an earlier attempt may have reached the channel before a crash
            try:
                found = await poster.find(message)
            except PostError as exc:
                if not exc.permanent:  # ask again later rather than risk a second copy
                    await self._failed(post, f"checking for an earlier send: {exc.reason}", permanent=False)
                    return
                log.warning("tips: %s %s: cannot check for an earlier send (%s)", post.tenant, post.channel, exc)
                found = None
            if found is not None:
                self.report.found += 1
                await self._done(Done(post, found, tip_id, cycle), rotation)
                return
        if now - utc(post.due_at) > self.settings.grace:
            self.report.missed += 1
            log.warning(
                "tips: %s %s %s: skipped; %s late is past the %s grace window",
                post.tenant,
                post.channel,
                post.local_date,
                now - utc(post.due_at),
                self.settings.grace,
            )
            await self._settle(post, "missed", "past the grace window")
            return
        try:
            message_id = await poster.post(message)
        except PostError as exc:
            await self._failed(post, exc.reason, permanent=exc.permanent)
            return
        except Exception as exc:
            await self._failed(post, f"{type(exc).__name__}: {exc}", permanent=False)
            return
        self.report.sent += 1
        await self._done(Done(post, message_id, tip_id, cycle), rotation)

    async def _settle(self, post: Claimed, state: str, reason: str) -> None:
        await self._retrying(
            f"marking a post {state}", lambda: self.queue.settle(post, state, self.clock.now(), reason)
        )
        self._inflight.discard(post.id)

    async def _failed(self, post: Claimed, reason: str, *, permanent: bool) -> None:
        if permanent:
            self.report.failed += 1
            log.error("tips: %s %s %s: not posted: %s", post.tenant, post.channel, post.local_date, reason)
            await self._settle(post, "failed", reason)
            return
        self.report.retried += 1
        wait = self.settings.retry_after * min(2 ** (post.attempts - 1), 16)
        log.warning("tips: %s %s: will retry in %s: %s", post.tenant, post.channel, wait, reason)

        async def give_back() -> None:
            now = self.clock.now()
            await self.queue.retry(post, now, now + wait, reason)

        await self._retrying("giving a post back for a retry", give_back)
        self._inflight.discard(post.id)

    async def _done(self, done: Done, rotation: Rotation) -> None:
        if done.tip_id is not None and done.cycle is not None:
            if done.cycle > rotation.cycle:
                rotation.cycle, rotation.shown = done.cycle, set()
            rotation.shown.add(done.tip_id)
            rotation.last = done.tip_id
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending[done.post.id] = done
        self._inflight.discard(done.post.id)
        full = len(self._pending) >= self.settings.flush_every
        if full or time.monotonic() - self._oldest > self.settings.flush_after:
            await self._flush()

    # ------------------------------------------------------------------ "sent" marks

    async def _flush(self, ids: set[int] | None = None, *, now_or_never: bool = False) -> bool:
        """One attempt to write the pending "sent" marks, unless a failed attempt asked to wait
        (``now_or_never`` ignores that wait). On failure the batch stays pending and the next
        attempt waits a backoff. Returns whether none of ``ids`` (default: of all) is still pending."""

        def written() -> bool:
            return not self._pending if ids is None else ids.isdisjoint(self._pending)

        async with self._flush_lock:
            if written():  # nothing to do, or another task's write just took them
                return True
            now = self.clock.now()
            if not now_or_never and self._flush_not_before is not None and now < self._flush_not_before:
                return False
            batch, self._pending = self._pending, {}
            try:
                await self.queue.complete(list(batch.values()), now)
            except BaseException as exc:
                self._pending = batch | self._pending  # kept, in order: nothing sent is forgotten
                if not isinstance(exc, Exception):
                    raise  # cancelled: the final flush tries again
                self._flush_not_before = self.clock.now() + timedelta(seconds=self._flush_backoff.next())
                self._flush_failed(batch, exc)
                return written()
            self._flush_backoff.reset()
            self._flush_not_before = None
            self._flush_failures = 0
            self._recovered()
            return written()

    def _flush_failed(self, batch: dict[int, Done], exc: Exception) -> None:
        self._trouble(f"marking {len(batch)} sent posts as sent", exc)
        if transient(exc):
            return
        self._flush_failures += 1
        if self._flush_failures >= GIVE_UP_AFTER:  # retrying cannot help: let the retake sort it out
            for post_id in batch:
                self._pending.pop(post_id, None)
            self._flush_failures = 0
            log.error(
                "tips: gave up marking %d sent posts as sent after %d failures; their claims expire and the "
                "retake asks the platform before sending",
                len(batch),
                GIVE_UP_AFTER,
            )

    async def _drain(self, ids: set[int] | None = None) -> None:
        """Write the pending "sent" marks of ``ids`` (default: all), waiting out database errors
        with backoff."""
        while not await self._flush(ids):
            wait = 0.0
            if self._flush_not_before is not None:
                wait = max((self._flush_not_before - self.clock.now()).total_seconds(), 0.0)
            await self.clock.sleep(wait)

    async def _last_flush(self) -> None:
        """On the way out: a few quick attempts, then say what is left (its claims expire, and the
        retake asks the platform before sending)."""
        backoff = self._backoff()
        for _ in range(3):
            try:
                if await self._flush(now_or_never=True):
                    return
                await self.clock.sleep(backoff.next())
            except Exception as exc:  # the clock or the lock; never the write (kept and logged)
                log.error("tips: the last flush failed (%s)", describe(exc))
                break
        if self._pending:
            log.error(
                "tips: stopping with %d sent posts not marked sent; their claims expire and the retake "
                "asks the platform before sending",
                len(self._pending),
            )

    # ------------------------------------------------------------------ content

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
