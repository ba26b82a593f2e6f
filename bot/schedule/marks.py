"""The scheduler's "sent" marks: jobs delivered and not yet marked sent in the store, written in
batches, and kept in memory through any database error until they are written.

A failed write keeps the batch and the next attempt waits a backoff; unavailability (see
:func:`~bot.schedule.trouble.transient`) is retried for as long as the process runs, anything else
:data:`GIVE_UP_AFTER` times, after which the claims expire and the retake asks the platform first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.schedule.clock import Clock
from bot.schedule.jobs import Sent
from bot.schedule.trouble import Backoff, describe, transient

if TYPE_CHECKING:
    from bot.schedule.queue import JobQueue

log = logging.getLogger("careerbot.scheduler")

Key = tuple[str, int]
"""A job as the scheduler tracks it in memory: its kind's name and its id."""

GIVE_UP_AFTER = 5
"""Failed writes of one batch of "sent" marks, for a reason other than the database being
unavailable (a bug, bad data), after which the batch is given up: its claims then expire and the
retake asks the platform first. Unavailability is retried for as long as the process runs."""


class SentMarks:
    """Pending "sent" marks, by job. ``trouble(what, exc)`` logs and counts a failed write;
    ``recovered()`` is called after a write succeeds."""

    def __init__(
        self,
        queue: JobQueue,
        clock: Clock,
        backoff: Callable[[], Backoff],
        trouble: Callable[[str, BaseException], None],
        recovered: Callable[[], None],
        *,
        every: int,
        after: float,
    ) -> None:
        self.queue = queue
        self.clock = clock
        self.pending: dict[Key, Sent] = {}
        """Jobs sent whose "sent" mark is not written yet (kept until it is)."""
        self.every = every
        self.after = after
        self._new_backoff = backoff
        self._trouble = trouble
        self._recovered = recovered
        self._oldest = 0.0
        self._lock = asyncio.Lock()
        self._backoff = backoff()
        self._not_before: datetime | None = None
        self._failures = 0

    async def add(self, job_key: Key, sent: Sent) -> None:
        """Keep ``sent`` and write the batch when it is full or its oldest mark waited ``after`` seconds."""
        if not self.pending:
            self._oldest = time.monotonic()
        self.pending[job_key] = sent
        if len(self.pending) >= self.every or time.monotonic() - self._oldest > self.after:
            await self.flush()

    async def flush(self, keys: set[Key] | None = None, *, now_or_never: bool = False) -> bool:
        """One attempt to write the pending marks, unless a failed attempt asked to wait
        (``now_or_never`` ignores that wait). On failure the batch stays pending and the next
        attempt waits a backoff. Returns whether none of ``keys`` (default: of all) is still pending."""

        def written() -> bool:
            return not self.pending if keys is None else keys.isdisjoint(self.pending)

        async with self._lock:
            if written():  # nothing to do, or another task's write just took them
                return True
            now = self.clock.now()
            if not now_or_never and self._not_before is not None and now < self._not_before:
                return False
            batch, self.pending = self.pending, {}
            try:
                await self.queue.complete(list(batch.values()), now)
            except BaseException as exc:
                self.pending = batch | self.pending  # kept, in order: nothing sent is forgotten
                if not isinstance(exc, Exception):
                    raise  # cancelled: the final flush tries again
                self._not_before = self.clock.now() + timedelta(seconds=self._backoff.next())
                self._failed(batch, exc)
                return written()
            self._backoff.reset()
            self._not_before = None
            self._failures = 0
            self._recovered()
            return written()

    def _failed(self, batch: dict[Key, Sent], exc: Exception) -> None:
        self._trouble(f"marking {len(batch)} sent jobs as sent", exc)
        if transient(exc):
            return
        self._failures += 1
        if self._failures >= GIVE_UP_AFTER:  # retrying cannot help: let the retake sort it out
            for done in batch:
                self.pending.pop(done, None)
            self._failures = 0
            log.error(
                "scheduler: gave up marking %d sent jobs as sent after %d failures; their claims expire and "
                "the retake asks the platform before sending",
                len(batch),
                GIVE_UP_AFTER,
            )

    async def drain(self, keys: set[Key] | None = None) -> None:
        """Write the pending marks of ``keys`` (default: all), waiting out database errors with backoff."""
        while not await self.flush(keys):
            wait = 0.0
            if self._not_before is not None:
                wait = max((self._not_before - self.clock.now()).total_seconds(), 0.0)
            await self.clock.sleep(wait)

    async def last_flush(self) -> None:
        """On the way out: a few quick attempts, then say what is left (its claims expire, and the
        retake asks the platform before sending)."""
        backoff = self._new_backoff()
        for _ in range(3):
            try:
                if await self.flush(now_or_never=True):
                    return
                await self.clock.sleep(backoff.next())
            except Exception as exc:  # the clock or the lock; never the write (kept and logged)
                log.error("scheduler: the last flush failed (%s)", describe(exc))
                break
        if self.pending:
            log.error(
                "scheduler: stopping with %d sent jobs not marked sent; their claims expire and the retake "
                "asks the platform before sending",
                len(self.pending),
            )
