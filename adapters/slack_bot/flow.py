"""How answers flow under load: a cache of rendered pure answers, admin status per user, the share of
the event loop spent answering inside acks, and the queue of answers sent through ``response_url``."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any

from adapters.slack_bot.logs import log, raised
from adapters.slack_bot.render import Message

#: The base logger handed to Bolt (its middleware loggers copy its filters).

#: Answering inside acknowledgements may use this share of the event loop's time, in bursts of at
#: most :data:`INLINE_BURST` seconds; beyond it commands are acked at once and answered later.
#: :data:`INLINE_ESTIMATE` is what an answer is expected to take until some have been timed.
INLINE_SHARE = 0.5
INLINE_BURST = 0.05
INLINE_ESTIMATE = 0.005
#: Tasks computing answers after their ack, and how long each runs before letting acks through.
WORKERS = 4
WORKER_SLICE = 0.01
#: Answers waiting at most; beyond it a command is told to try again (in the ack), a button press
#: or a mention is dropped (one log line per overload).
BACKLOG_MAX = 1000
CACHE_SIZE = 2048
#: Seconds a workspace admin/owner lookup (users.info) is trusted for one (team, user).
ADMIN_TTL = 300.0
ADMIN_CACHE_SIZE = 10_000


# ---------------------------------------------------------------------------- payloads in


_TOKEN = re.compile(r"<([^<>]*)>")


def from_slack(text: str) -> str:
    """Slack message text as the user meant it: mentions and broadcasts dropped, links as their
    label, ``&amp;`` ``&lt;`` ``&gt;`` decoded."""

    def token(m: re.Match[str]) -> str:
        target, _, label = m.group(1).partition("|")
        if target[:1] in ("@", "!"):
            return ""
        if target.startswith("#"):
            return f"#{label}" if label else ""
        return label or target

    text = _TOKEN.sub(token, text)
    return " ".join(html.unescape(text).split())


def _where(body: dict[str, Any]) -> tuple[str, str, str]:
    """Tenant (workspace), user and channel of any payload: slash command, interaction or event."""

    def obj(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    event = obj(body.get("event"))
    team = body.get("team_id") or obj(body.get("team")).get("id") or event.get("team") or "slack"
    user = body.get("user_id") or obj(body.get("user")).get("id") or event.get("user") or "slack"
    channel = body.get("channel_id") or obj(body.get("channel")).get("id") or event.get("channel") or "slack"
    return str(team), str(user), str(channel)


class AnswerCache:
    """Rendered answers by request, valid for one knowledge tree (a reload starts afresh). The same
    ``/role ehr`` asked a thousand times is answered and rendered once. Cached pages are shared:
    never mutate them."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.kb: object = None
        self.items: OrderedDict[Hashable, list[Message]] = OrderedDict()

    def get(self, kb: object, key: Hashable) -> list[Message] | None:
        if kb is not self.kb:
            return None
        pages = self.items.get(key)
        if pages is not None:
            self.items.move_to_end(key)
        return pages

    def put(self, kb: object, key: Hashable, pages: list[Message]) -> None:
        if kb is not self.kb:
            self.kb, self.items = kb, OrderedDict()
        self.items[key] = pages
        if len(self.items) > self.size:
            self.items.popitem(last=False)


class AdminCache:
    """Whether (team, user) is a workspace admin, as users.info said within the last ``ttl`` seconds."""

    def __init__(self, ttl: float = ADMIN_TTL, size: int = ADMIN_CACHE_SIZE) -> None:
        self.ttl = ttl
        self.size = size
        self.items: OrderedDict[tuple[str, str], tuple[float, bool]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> bool | None:
        found = self.items.get(key)
        if found is None or found[0] <= time.monotonic():
            self.items.pop(key, None)
            return None
        return found[1]

    def put(self, key: tuple[str, str], admin: bool) -> None:
        self.items[key] = (time.monotonic() + self.ttl, admin)
        self.items.move_to_end(key)
        if len(self.items) > self.size:
            self.items.popitem(last=False)


class InlineBudget:
    """A token bucket of event-loop time for answering inside acks: it refills at ``share`` seconds
    per second up to ``burst``. Deciding to answer inline reserves the expected time (the running
    average of past inline answers), so a burst of commands decided before any answer has run cannot
    overdraw it; when the answer is done the reservation is settled with the time it really took
    (wall time from when it started running: a core that blocks the loop delays acks as much as one
    that computes)."""

    def __init__(self, share: float = INLINE_SHARE, burst: float = INLINE_BURST) -> None:
        self.share = share
        self.burst = burst
        self.tokens = burst
        self.estimate = INLINE_ESTIMATE
        self.at = time.monotonic()

    def reserve(self) -> float | None:
        """The time reserved for one inline answer, or None when the budget is spent."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.share)
        self.at = now
        if self.tokens <= 0:
            return None
        self.tokens -= self.estimate
        return self.estimate

    def settle(self, reserved: float, took: float) -> None:
        self.tokens -= took - reserved
        self.estimate += (took - self.estimate) / 5


Pages = list[Message]
Deliver = Callable[[Pages], Coroutine[Any, Any, None]]
Job = tuple[Callable[[], Awaitable[Pages]], Deliver]


class AnswerQueue:
    """Answers computed after their ack, first come first served, by :data:`WORKERS` tasks. A worker
    computes answers for at most :data:`WORKER_SLICE` seconds before yielding to the event loop, so
    acks are never stuck behind a pile of answers; delivering each answer (network) is a task of its
    own. At most :data:`BACKLOG_MAX` answers are pending (queued or being computed)."""

    def __init__(self, spawn: Callable[[Coroutine[Any, Any, None]], None], size: int | None = None) -> None:
        self.spawn = spawn
        self.size = BACKLOG_MAX if size is None else size
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.pending = 0
        self.workers: list[asyncio.Task[None]] = []
        self.overloaded = False

    def idle(self) -> bool:
        """No answer waiting or being computed."""
        return self.pending == 0

    def put(self, compute: Callable[[], Awaitable[Pages]], deliver: Deliver) -> bool:
        """Queue an answer; False (and one log line per overload) when :attr:`size` are pending."""
        if self.pending >= self.size:
            if not self.overloaded:
                self.overloaded = True
                log.warning("slack: %d answers pending; turning requests away until half are sent", self.pending)
            return False
        if not self.workers:
            self.workers = [asyncio.create_task(self._work()) for _ in range(WORKERS)]
        self.pending += 1
        self.queue.put_nowait((compute, deliver))
        return True

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        slice_start = loop.time()
        while True:
            if self.queue.empty():
                job = await self.queue.get()
                slice_start = loop.time()
            else:
                job = self.queue.get_nowait()
            compute, deliver = job
            try:
                pages = await compute()
            except Exception as exc:
                log.error("slack: answering a request failed (%s)", raised(exc))
            else:
                self.spawn(deliver(pages))
            finally:
                self.pending -= 1
            if self.overloaded and self.pending <= self.size // 2:
                self.overloaded = False
                log.warning("slack: %d answers pending; taking requests again", self.pending)
            if loop.time() - slice_start >= WORKER_SLICE:
                await asyncio.sleep(0)  # let acks (and everything else ready) run
                slice_start = loop.time()

    async def close(self) -> None:
        for worker in self.workers:
            worker.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)
        self.workers = []
