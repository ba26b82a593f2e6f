"""The Slack adapter: slack-bolt wiring that turns Slack payloads into core invocations and sends
rendered replies back. It stays thin; Block Kit lives in :mod:`adapters.slack_bot.render` and the manifest
in :mod:`adapters.slack_bot.manifest`.

A slash command is answered in Slack's acknowledgement itself when the core is quick (it nearly always
is); after :data:`ACK_BUDGET` it is acked empty, well inside Slack's 3 s, and the answer follows through
the payload's ``response_url``. Under load (answers already waiting, or answering inside acks using
more than :data:`INLINE_SHARE` of the event loop) commands are acked at once and answered through
:class:`AnswerQueue`, so acks never queue behind answers.

Answers are ephemeral with a "Share in channel" button; follow-ups are buttons; mentions and DMs get
the best answer in a thread. Posting (with retries, never raising) is in
:mod:`adapters.slack_bot.send`, settings in :mod:`adapters.slack_bot.settings`.

Commands declared ``admin`` (``/tips``) learn whether the caller is a workspace admin or owner from
``users.info``, asked only for those commands and remembered per (team, user) for
:data:`ADMIN_TTL` seconds. Daily tips are posted by the platform's :attr:`SlackPlatform.poster`
(:mod:`adapters.slack_bot.posting`), which ``careerbot run`` hands to the scheduler.

HTTP mode checks every request itself before Bolt sees it (Bolt's own verification is off): the
signature headers first (401, body unread), then the body (at most :attr:`HttpLimits.body_max`
bytes, read within :attr:`HttpLimits.body_timeout`), the signature over it (401), then the payload
is parsed (400 if it is not UTF-8 JSON or form data) and copied field by field into the shapes Slack
sends (anything else is ignored with a 200), so Bolt and the listeners only ever see well-formed
payloads. A refused or ignored request costs one short log line at most (lines about unverified
requests are throttled), never its body. :class:`ConnectionGuard` bounds the open connections.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import logging
import re
import resource
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import click
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters import buttons
from adapters.slack_bot import manifest as slack_manifest
from adapters.slack_bot.posting import SlackTipPoster
from adapters.slack_bot.render import MORE_ID, Message, Picker, parse_more, parse_pick, plain, render
from adapters.slack_bot.send import Sender, retry_handlers
from adapters.slack_bot.settings import SlackSettings, load_settings
from bot.commands import Invocation
from bot.core import Core
from bot.errors import ConfigError
from bot.knowledge.present import KIND_LABEL
from bot.knowledge.schema import as_kinds
from bot.registry import REGISTRY
from bot.reply import Reply

__all__ = ["SlackAdapter", "SlackPlatform", "SlackSettings", "build_platform", "cli", "load_settings"]

log = logging.getLogger("careerbot.slack")
#: Lines about HTTP requests and connections: refusals, and aiohttp's own server errors.
http_log = logging.getLogger("careerbot.slack.http")
#: The base logger handed to Bolt (its middleware loggers copy its filters).
bolt_log = logging.getLogger("careerbot.slack.bolt")

EVENTS_PATH = slack_manifest.EVENTS_PATH
SEEN_EVENTS_MAX = 1000
#: How long a slash command may wait for the core before it is acked empty and answered later
#: (Slack's deadline is 3 s, including the network both ways).
ACK_BUDGET = 1.0
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
BUSY_TEXT = "careerbot is busy right now. Please try again in a minute."
CACHE_SIZE = 2048
#: Slack's limits for the options of an external select.
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
#: Seconds a workspace admin/owner lookup (users.info) is trusted for one (team, user).
ADMIN_TTL = 300.0
ADMIN_CACHE_SIZE = 10_000
#: The umbrella command (``/career tips subscribe``) and its option naming the command it runs.
UMBRELLA = ("career", "command")

# ---------------------------------------------------------------------------- log lines

#: Longest log line the Slack adapter writes (longer ones are cut).
LOG_LINE_MAX = 300
#: At most one line about refused requests and connections per this many seconds; the next line
#: says how many were left out.
REFUSAL_LOG_INTERVAL = 10.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str, limit: int = LOG_LINE_MAX) -> str:
    """``text`` as one log line: control characters (newlines included) escaped, at most ``limit``
    characters, so nothing in it can start a forged line."""
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def raised(exc: BaseException) -> str:
    """Where an exception came from, in a few words: its type and innermost frame (no traceback,
    no message: a message may quote the request)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb is not None else ""
    return f"{type(exc).__name__}{where}"


class OneLineFilter(logging.Filter):
    """Rewrites every record of a logger as one bounded line: the message flattened and cut, a
    traceback replaced by the exception's type and where it was raised. Put on the loggers that
    can carry request content (Bolt's, aiohttp's server logger, the adapter's own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            message = f"{message} ({raised(record.exc_info[1])})"
        record.msg, record.args = one_line(message), None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


class Throttle(logging.Filter):
    """Lets one record through per ``interval`` seconds; the next one to pass says how many were
    dropped meanwhile. For lines an unverified client can cause, so a flood cannot flood the log."""

    def __init__(self, interval: float = REFUSAL_LOG_INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self.next_at = 0.0
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now < self.next_at:
            self.dropped += 1
            return False
        self.next_at = now + self.interval
        if self.dropped:
            record.msg, record.args = f"{record.getMessage()} (and {self.dropped} more since the last such line)", None
            self.dropped = 0
        return True


ONE_LINE = OneLineFilter()
for _logger in (log, http_log, bolt_log):
    if ONE_LINE not in _logger.filters:
        _logger.addFilter(ONE_LINE)


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


class SlackAdapter:
    """Registers the listeners on a Bolt app and answers through the core."""

    def __init__(self, core: Core, sender: Sender, *, prefix: str = "") -> None:
        self.core = core
        self.sender = sender
        self.prefix = prefix
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.tasks: set[asyncio.Task[None]] = set()
        self.cache = AnswerCache()
        self.admins = AdminCache()
        self.budget = InlineBudget()
        self.answers = AnswerQueue(self.background)

    def register(self, app: AsyncApp) -> None:
        app.command(re.compile(r"^/"))(self.on_command)
        app.action(re.compile(r"^cb_(run|share|more)"))(self.on_button)
        app.action(re.compile(r"^cb_pick:"))(self.on_pick)
        app.options(re.compile(r"^cb_pick:"))(self.on_options)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)

    # -------------------------------------------------------------- translation

    def command_text(self, slash: str, text: str) -> str:
        """``/cb-role`` + ``ehr`` -> ``/role ehr`` (the prefix is optional, so unprefixed names work too)."""
        name = slash.lstrip("/")
        if self.prefix and name.startswith(self.prefix):
            name = name[len(self.prefix) :]
        return f"/{name} {from_slack(text)}".strip()

    def picker_for(self, invocation: Invocation, reply: Reply) -> Picker | None:
        """An option picker when a command with an entity option answered with a list or a miss."""
        command = self.core.registry.get(invocation.command)
        option = next((o for o in command.options if o.kinds), None) if command else None
        if command is None or option is None or reply.ref is not None:
            return None
        kinds = as_kinds(option.kinds)
        kind = KIND_LABEL[kinds[0]] if len(kinds) == 1 else "topic"
        return Picker(command=command.name, option=option.name, placeholder=f"Choose a {kind}")

    def pages(self, invocation: Invocation, reply: Reply, *, public: bool) -> list[Message]:
        """The reply as Slack messages. "Share in channel" re-runs the command publicly, so an admin
        command (``/tips subscribe``, ``/tips skip``) gets no Share button: sharing must not repeat a change."""
        again = self.core.share_command(invocation, reply)
        share = None if public or self.runs_admin_command(invocation) else again
        return render(reply, share=share, picker=self.picker_for(invocation, reply), more=again)

    def invocation(self, text: str, body: dict[str, Any], *, public: bool) -> tuple[Invocation, Hashable]:
        """The core's invocation for ``text``, and the cache key of its rendered answer."""
        tenant, user, channel = _where(body)
        invocation = self.core.parse(text, platform="slack", tenant=tenant, user=user, channel=channel)
        options = tuple(invocation.options.items())
        return invocation, (invocation.command, options, invocation.text, invocation.admin, public)

    async def compute(self, invocation: Invocation, key: Hashable, *, public: bool) -> list[Message]:
        """Ask the core and render; remember the pages when the core says the answer is pure (it
        depends only on the options and the knowledge: never a tip, never a tenant's /tips list) and
        is not an error, for as long as the knowledge is the same. An admin command's answer depends
        on who asks, so it is never remembered."""
        kb = self.core.kb
        checked = self.runs_admin_command(invocation)
        if checked:
            invocation = replace(invocation, admin=await self.is_admin(invocation.tenant, invocation.user))
        reply = await self.core.answer(invocation)
        pages = self.pages(invocation, reply, public=public)
        if reply.tone != "error" and self.core.cacheable(invocation) and not checked:
            self.cache.put(kb, key, pages)
        return pages

    def runs_admin_command(self, invocation: Invocation) -> bool:
        """True when the invocation runs a command declared ``admin``, directly (``/tips``) or through
        the umbrella (``/career tips subscribe``): only then is users.info worth asking."""
        command = self.core.registry.get(invocation.command) if invocation.command else None
        if command is not None and command.name == UMBRELLA[0]:
            named = str(invocation.options.get(UMBRELLA[1], "")).strip().lstrip("/").partition(" ")[0]
            command = self.core.registry.get(named) if named else None
        return command is not None and command.admin

    async def is_admin(self, team: str, user: str) -> bool:
        """A workspace admin or owner (users.info), remembered for :data:`ADMIN_TTL` seconds. If
        Slack cannot say, not an admin (the failure is logged with Slack's error code) and not
        remembered, so the next command asks again."""
        key = (team, user)
        known = self.admins.get(key)
        if known is not None:
            return known
        found = await self.sender.read("users.info", user=user)
        if found is None:
            log.warning("slack: could not tell whether %s is an admin; treating them as not one", user)
            return False
        profile = found.get("user") or {}
        admin = bool(profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner"))
        self.admins.put(key, admin)
        return admin

    async def answer(self, text: str, body: dict[str, Any], *, public: bool) -> list[Message]:
        invocation, key = self.invocation(text, body, public=public)
        cached = self.cache.get(self.core.kb, key)
        return cached if cached is not None else await self.compute(invocation, key, public=public)

    # -------------------------------------------------------------- listeners
    # Bolt runs with process_before_response=True: its HTTP answer goes out when a listener returns
    # (no 10 ms ack polling), so every listener returns at once and slow work runs in the background.

    async def on_command(self, ack: Any, body: dict[str, Any]) -> None:
        """Answer in the ack itself when the core is quick (no extra round trip, and the response_url
        stays free for Share and More); otherwise ack empty at :data:`ACK_BUDGET` and follow up.
        Under load (answers waiting, or the inline budget spent) ack at once and answer later."""
        invocation, key = self.invocation(
            self.command_text(str(body.get("command", "")), str(body.get("text", ""))), body, public=False
        )
        pages = self.cache.get(self.core.kb, key)
        reserved = self.budget.reserve() if pages is None and self.answers.idle() else None
        if pages is None and reserved is None:
            if self.answers.put(
                lambda: self.compute(invocation, key, public=False),
                lambda done: self.reply_privately(body, done[0]),
            ):
                await ack()
            else:
                await ack(text=BUSY_TEXT, response_type="ephemeral")
            return
        if pages is None:
            assert reserved is not None
            answering = asyncio.ensure_future(self.compute_inline(invocation, key, reserved))
            try:
                pages = await asyncio.wait_for(asyncio.shield(answering), ACK_BUDGET)
            except TimeoutError:
                await ack()
                self.background(self.follow_up(answering, body))
                return
        await ack(text=pages[0].text, blocks=pages[0].blocks, response_type="ephemeral")

    async def compute_inline(self, invocation: Invocation, key: Hashable, reserved: float) -> Pages:
        """:meth:`compute`, settling the inline budget with the time it took from when it started
        running (not from when it was scheduled: the wait for the event loop is not its cost)."""
        started = time.monotonic()
        try:
            return await self.compute(invocation, key, public=False)
        finally:
            self.budget.settle(reserved, time.monotonic() - started)

    async def follow_up(self, answering: Awaitable[list[Message]], body: dict[str, Any]) -> None:
        await self.reply_privately(body, (await answering)[0])

    def later(self, text: str, body: dict[str, Any], deliver: Deliver, *, public: bool) -> None:
        """Answer ``text`` after the ack, through the :class:`AnswerQueue`."""
        self.answers.put(lambda: self.answer(text, body, public=public), deliver)

    async def on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self.press(body, action)

    def press(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        decoded = buttons.decode(str(action.get("value", "")))
        if decoded is None:
            return
        kind, command = decoded
        if kind == "share":

            async def publish(pages: Pages) -> None:
                await self.share(body, pages[0])

            self.later(command, body, publish, public=True)
            return
        action_id = str(action.get("action_id", ""))
        more = parse_more(action_id)
        if more is None and action_id.startswith(MORE_ID):
            log.info("slack: ignored a More button without a valid page number")
            return
        page = more or 1

        async def reply(pages: Pages) -> None:
            await self.reply_privately(body, pages[min(page, len(pages)) - 1])

        self.later(command, body, reply, public=False)

    async def on_pick(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        target = parse_pick(str(action.get("action_id", "")))
        selected = action.get("selected_option")
        value = str(selected.get("value", "")) if isinstance(selected, dict) else ""
        if target is not None and value:
            self.press(body, {"value": buttons.encode("run", f"/{target[0]} {target[1]}:{value}")})

    async def on_options(self, ack: Any, payload: dict[str, Any]) -> None:
        target = parse_pick(str(payload.get("action_id", "")))
        found = self.core.autocomplete(*target, str(payload.get("value", ""))) if target else []
        options = [
            {
                "text": {"type": "plain_text", "text": plain(label or value, OPTION_TEXT_MAX)},
                "value": value[:OPTION_VALUE_MAX],
            }
            for label, value in found
        ]
        await ack(options=options)

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        self.answer_in_thread(body, event)

    async def on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id"):
            self.answer_in_thread(body, event)

    def background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the listener returns; failures are logged, never raised into Bolt."""
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("slack: handling a request failed (%s)", raised(exc))

    async def close(self) -> None:
        await self.answers.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # -------------------------------------------------------------- replies out

    def answer_in_thread(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if self.seen(str(body.get("event_id", ""))):
            return  # a redelivery (Slack retries an event it thinks we missed)
        thread = event.get("thread_ts") or event.get("ts")

        async def post(pages: Pages) -> None:
            await self.sender.call(
                "chat.postMessage", channel=event.get("channel"), thread_ts=thread, **pages[0].payload()
            )

        self.later(from_slack(str(event.get("text", ""))), body, post, public=True)

    async def reply_privately(self, body: dict[str, Any], message: Message) -> None:
        """Ephemeral via ``response_url``; if that fails, ``chat.postEphemeral``."""
        if await self.sender.respond(body.get("response_url"), message):
            return
        _, user, channel = _where(body)
        await self.sender.call("chat.postEphemeral", channel=channel, user=user, **message.payload())

    async def share(self, body: dict[str, Any], message: Message) -> None:
        """Post publicly, then remove the ephemeral original; ``chat.postMessage`` if the URL is spent."""
        url = body.get("response_url")
        if await self.sender.respond(url, message, response_type="in_channel"):
            if (body.get("container") or {}).get("is_ephemeral"):
                await self.sender.delete_original(url)
            return
        _, user, channel = _where(body)
        if not await self.sender.call("chat.postMessage", channel=channel, **message.payload()):
            notice = "I couldn't post in this channel. Invite me with `/invite @careerbot` and try again."
            await self.sender.call("chat.postEphemeral", channel=channel, user=user, text=notice)

    def seen(self, event_id: str) -> bool:
        if not event_id:
            return False
        if event_id in self._seen:
            return True
        self._seen[event_id] = None
        if len(self._seen) > SEEN_EVENTS_MAX:
            self._seen.popitem(last=False)
        return False


# ---------------------------------------------------------------------------- the HTTP endpoint


@dataclass(frozen=True, kw_only=True, slots=True)
class HttpLimits:
    """What one HTTP client may cost (see docs/slack.md, "Limits of the HTTP endpoint")."""

    #: Largest request body read. Slack's largest payloads (a button press carrying the message it
    #: was on, at most about 40 KB of blocks) stay far below it; larger bodies get 413 unread.
    body_max: int = 256 * 1024
    #: Seconds a connection has to send its first request's headers, from when it is accepted.
    header_timeout: float = 10.0
    #: Seconds a request's body has to arrive once its headers are in: Slack gives up after 3 s.
    body_timeout: float = 3.0
    #: Seconds an idle keep-alive connection stays open: longer than the 60 s idle timeout of common
    #: reverse proxies and load balancers, so they close first (no request lost to a race).
    keepalive_timeout: float = 75.0
    #: Open connections at most (further capped at half the process's file descriptor limit). A new
    #: connection beyond it closes the longest-idle one (idle, or still sending its request); if
    #: every connection has a request in progress, the new one is closed at once.
    max_connections: int = 1000
    #: Connections the kernel queues before they are accepted.
    backlog: int = 128

    def connection_limit(self) -> int:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return self.max_connections if soft == resource.RLIM_INFINITY else max(1, min(self.max_connections, soft // 2))


#: Slack signs ``v0:{timestamp}:{body}``; a timestamp further than this from now is refused.
SIGNATURE_MAX_AGE = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
#: More form fields than this is not a Slack request (a slash command has about 15).
FORM_FIELDS_MAX = 100
#: Longest list (of actions, of authorizations) in a payload.
LIST_MAX = 25
#: Slack's limit for ``action_id`` and ``block_id``.
ID_MAX = 255


class Refused(Exception):
    """A request answered before Bolt sees it, with ``status``. ``reason`` is made of careerbot's own
    words and field names, never of anything the request carried, so it is safe to log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_headers(headers: Any, now: float) -> tuple[str, str]:
    """The timestamp and signature headers, if well-formed and fresh; else :class:`Refused` (401)."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        raise Refused(401, "no valid signature headers")
    if abs(now - int(timestamp)) > SIGNATURE_MAX_AGE:
        raise Refused(401, "timestamp more than 5 minutes away")
    return timestamp, signature


def signed(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is Slack's for ``body`` (HMAC-SHA256 of ``v0:{timestamp}:{body}``)."""
    expected = hmac.new(secret, b"v0:" + timestamp.encode("ascii") + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={expected}", signature)


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """A signed body as Bolt would read it (JSON, form fields, or form with a JSON ``payload``);
    :class:`Refused` (400) when it is none of these or not an object."""
    try:
        text = body.decode("utf-8")
        if content_type == "application/json" or text.startswith("{"):
            data = json.loads(text)
        else:
            form = dict(parse_qsl(text, keep_blank_values=True, max_num_fields=FORM_FIELDS_MAX))
            data = json.loads(form["payload"]) if "payload" in form else form
    except (ValueError, RecursionError):  # not UTF-8, not JSON, too many fields, nested too deep
        raise Refused(400, "the body is not JSON or form data") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body is not an object")
    return data


# The fields careerbot (and Bolt) read, by payload type. A field given as a type must have that
# type; a dict is an object with those fields; a one-item list is a list of such items; a tuple is
# (str, longest). Absent and null fields are left out; fields not named here are dropped.
Spec = Any
_ID: Spec = (str, ID_MAX)
_COMMAND: Spec = {
    name: str
    for name in (
        "team_id", "team_domain", "enterprise_id", "enterprise_name", "channel_id", "channel_name", "user_id",
        "user_name", "command", "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id",
    )
}  # fmt: skip
_INTERACTION: Spec = {
    "type": str,
    "team": {"id": str, "domain": str, "enterprise_id": str, "enterprise_name": str},
    "user": {"id": str, "username": str, "name": str, "team_id": str},
    "enterprise": {"id": str, "name": str},
    "is_enterprise_install": bool,
    "api_app_id": str,
    "channel": {"id": str, "name": str},
    "container": {"type": str, "message_ts": str, "channel_id": str, "is_ephemeral": bool},
    "trigger_id": str,
    "response_url": str,
}
_BLOCK_ACTIONS: Spec = _INTERACTION | {
    "actions": [
        {
            "type": str,
            "action_id": _ID,
            "block_id": _ID,
            "value": str,
            "action_ts": str,
            "selected_option": {"value": str},
        }
    ],
}
_BLOCK_SUGGESTION: Spec = _INTERACTION | {"action_id": _ID, "block_id": _ID, "value": str}
_EVENT_CALLBACK: Spec = {
    "type": str,
    "team_id": str,
    "enterprise_id": str,
    "context_team_id": str,
    "context_enterprise_id": str,
    "api_app_id": str,
    "event_id": str,
    "event_time": int,
    "is_ext_shared_channel": bool,
    "authorizations": [
        {"enterprise_id": str, "team_id": str, "user_id": str, "is_bot": bool, "is_enterprise_install": bool}
    ],
    "event": {
        name: str
        for name in (
            "type", "subtype", "user", "text", "ts", "thread_ts", "event_ts", "channel", "channel_type",
            "bot_id", "team",
        )
    },
}  # fmt: skip
#: Event types careerbot listens to; other events are acknowledged and ignored.
EVENT_TYPES = ("app_mention", "message")


def _pick(value: Any, spec: Spec, path: str) -> Any:
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise Refused(200, f"{path} is not an object")
        return {
            key: _pick(value[key], inner, f"{path}.{key}" if path else key)
            for key, inner in spec.items()
            if value.get(key) is not None
        }
    if isinstance(spec, list):
        if not isinstance(value, list) or len(value) > LIST_MAX:
            raise Refused(200, f"{path} is not a list of at most {LIST_MAX} objects")
        return [_pick(item, spec[0], f"{path}[{i}]") for i, item in enumerate(value)]
    kind, longest = spec if isinstance(spec, tuple) else (spec, None)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Refused(200, f"{path} is not of type {kind.__name__}")
    if longest is not None and len(value) > longest:
        raise Refused(200, f"{path} is longer than {longest}")
    return value


def clean_payload(data: dict[str, Any]) -> dict[str, Any] | None:
    """The payload reduced to the fields careerbot reads, each of the type Slack sends; None for an
    ``ssl_check`` (answered 200, nothing to do). :class:`Refused` (200: ignored) for anything else:
    a payload of another kind, or one of a shape Slack never sends."""
    kind = data.get("type")
    if kind is None and "ssl_check" in data and "command" not in data:
        return None
    if kind is None and "command" in data:
        command = _pick(data, _COMMAND, "")
        if not command.get("command", "").startswith("/") or len(command["command"]) > 100:
            raise Refused(200, "command is not a slash command")
        return dict(command)
    if kind == "url_verification":
        return {"type": kind, "challenge": _pick(data.get("challenge"), (str, 1000), "challenge")}
    if kind == "block_actions":
        payload = _pick(data, _BLOCK_ACTIONS, "")
        actions = payload.get("actions") or []
        if not actions or not all("action_id" in action for action in actions):
            raise Refused(200, "actions has no action with an action_id")
        return dict(payload)
    if kind == "block_suggestion":
        payload = _pick(data, _BLOCK_SUGGESTION, "")
        if "action_id" not in payload:
            raise Refused(200, "block_suggestion has no action_id")
        return dict(payload)
    if kind == "event_callback":
        payload = _pick(data, _EVENT_CALLBACK, "")
        event_type = (payload.get("event") or {}).get("type")
        if event_type is None:
            raise Refused(200, "event_callback has no event type")
        if event_type not in EVENT_TYPES:
            raise Refused(200, "an event careerbot does not listen to")
        return dict(payload)
    raise Refused(200, "a payload type careerbot does not handle")


class _Connection(asyncio.Protocol):
    """One accepted connection: aiohttp's protocol for it, behind a shim that tells the guard when
    the connection opens, has a request in progress, and closes."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.BaseTransport | None = None
        self.admitted = False
        self.requests = 0  # requests seen
        self.busy = 0  # requests being handled right now
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        if not self.guard.admit(self):
            transport.close()
            return
        self.admitted = True
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.admitted:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        if self.admitted:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.admitted:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.admitted:
            self.inner.resume_writing()

    def close(self) -> None:
        self.guard.forget(self)
        if self.transport is not None:
            self.transport.close()


class ConnectionGuard:
    """The protocol factory in front of aiohttp's: at most ``limit`` open connections, and each must
    send its first request's headers within ``header_timeout`` seconds (aiohttp closes idle
    keep-alive connections itself, after its ``keepalive_timeout``). A new connection beyond the
    limit closes the longest-idle one (no request in progress: idle, or still sending headers or a
    body), so a pile of idle or half-sent connections can never lock out Slack or ``/healthz``;
    when every open connection has a request in progress, the new connection is closed at once."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], *, limit: int, header_timeout: float) -> None:
        self.factory = factory
        self.limit = limit
        self.header_timeout = header_timeout
        self.open: dict[asyncio.Protocol, _Connection] = {}  # by aiohttp's protocol, oldest first
        self.accepted = 0  # connections accepted, ever
        self.evicted = 0  # idle ones closed to make room
        self.refused = 0  # new ones closed at once: every open one was busy

    def __call__(self) -> _Connection:
        return _Connection(self, self.factory())

    def admit(self, conn: _Connection) -> bool:
        self.accepted += 1
        if len(self.open) >= self.limit:
            idle = next((c for c in self.open.values() if not c.busy), None)
            if idle is None:
                self.refused += 1
                http_log.warning("slack: all %d connections have a request in progress; refused a new one", self.limit)
                return False
            self.evicted += 1
            http_log.warning("slack: %d connections open (the limit); closed the longest idle one", self.limit)
            idle.close()
        self.open[conn.inner] = conn
        conn.deadline = asyncio.get_running_loop().call_later(self.header_timeout, self._first_request_due, conn)
        return True

    def _first_request_due(self, conn: _Connection) -> None:
        if not conn.requests and not conn.busy:
            conn.close()

    def forget(self, conn: _Connection) -> None:
        self.open.pop(conn.inner, None)
        if conn.deadline is not None:
            conn.deadline.cancel()
            conn.deadline = None

    def track(self, request: web.BaseRequest) -> _Connection | None:
        """The connection ``request`` came on (None if it is not one of ours)."""
        return self.open.get(request.protocol)


# ---------------------------------------------------------------------------- the platform


class SlackPlatform:
    """``careerbot run``'s Slack connection: Socket Mode with an app token, else HTTP on ``port``."""

    name = "slack"

    def __init__(
        self,
        core: Core,
        settings: SlackSettings,
        *,
        port: int = 3000,
        host: str = "0.0.0.0",
        limits: HttpLimits | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.limits = limits or HttpLimits()
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        self._secret = secret.encode()
        token = settings.slack_bot_token.get_secret_value()
        # HTTP requests are verified in web_app() before Bolt sees them, so Bolt's own verification
        # (which logs whole bodies and answers 500 to some malformed ones) is off.
        self.app = AsyncApp(
            token=token,
            signing_secret=secret,
            name="careerbot",
            process_before_response=True,
            request_verification_enabled=False,
            logger=bolt_log,
        )
        # Bolt's own client (passing one in makes Bolt warn when SLACK_BOT_TOKEN is also in the
        # environment), pointed at SLACK_API_URL and given the 429 and connection retry handlers.
        self.client: AsyncWebClient = self.app.client
        self.client.base_url = settings.slack_api_url
        self.client.retry_handlers = retry_handlers()
        # Bolt hands its base logger to its client too; the Web API calls we make keep slack_sdk's
        # own logger (DEBUG lines with the token redacted), as without a base logger.
        self.client._logger = logging.getLogger("slack_sdk.web.async_base_client")
        self.sender = Sender(self.client)
        self.adapter = SlackAdapter(core, self.sender, prefix=settings.careerbot_command_prefix)
        # Daily tips: ``careerbot run`` hands this to the scheduler (adapters.runner.run_tips). One
        # bot token serves every team this app is installed in (an org-wide install spans several).
        self.poster = SlackTipPoster(token_for=lambda team: token, base_url=settings.slack_api_url)
        self.adapter.register(self.app)
        self.started = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self.guard: ConnectionGuard | None = None

    def web_app(self) -> web.Application:
        """``POST /slack/events`` (verified here, then dispatched to Bolt) and ``GET /healthz``."""

        async def events(request: web.Request) -> web.Response:
            conn = self.guard.track(request) if self.guard is not None else None
            if conn is not None:
                conn.requests += 1  # its headers are in: the header deadline no longer applies
            try:
                payload = await self.verified(request)
            except Refused as exc:
                return self.refuse(exc)
            if payload is None:
                return web.Response(status=200)
            if payload.get("type") == "url_verification":
                return web.json_response({"challenge": payload["challenge"]})
            # Verified and read: from here on the connection is busy (never closed to make room).
            if conn is None:
                return await self.dispatch(payload)
            conn.busy += 1
            try:
                return await self.dispatch(payload)
            finally:
                conn.busy -= 1

        async def healthz(request: web.Request) -> web.Response:
            conn = self.guard.track(request) if self.guard is not None else None
            if conn is not None:
                conn.requests += 1
            return web.json_response({"ok": True, "platform": "slack", "mode": "http"})

        app = web.Application(client_max_size=self.limits.body_max)
        app.add_routes([web.post(EVENTS_PATH, events), web.get("/healthz", healthz)])
        return app

    async def verified(self, request: web.Request) -> dict[str, Any] | None:
        """The payload of a request to :data:`EVENTS_PATH`, verified, parsed and cleaned (see
        :func:`clean_payload`); :class:`Refused` otherwise."""
        timestamp, signature = check_headers(request.headers, time.time())
        limit = self.limits.body_max
        if request.content_length is not None and request.content_length > limit:
            raise Refused(413, f"a body over {limit} bytes")
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                body = await request.read()
        except TimeoutError:
            raise Refused(408, f"the body took over {self.limits.body_timeout:g} s") from None
        except web.HTTPRequestEntityTooLarge:
            raise Refused(413, f"a body over {limit} bytes") from None
        except (ConnectionError, web.RequestPayloadError):
            raise Refused(400, "the body was cut off") from None
        if not signed(self._secret, timestamp, body, signature):
            raise Refused(401, "a bad signature")
        return clean_payload(parse_body(body, request.content_type))

    async def dispatch(self, payload: dict[str, Any]) -> web.Response:
        """A clean payload through Bolt (whose own verification is off: it was done here)."""
        bolt_request = AsyncBoltRequest(body=json.dumps(payload), headers={"content-type": "application/json"})
        try:
            response = await self.app.async_dispatch(bolt_request)
        except Exception as exc:  # Bolt handles listener errors itself; this is a last resort
            log.error("slack: dispatching a request failed (%s)", raised(exc))
            return web.json_response({"error": "internal error"}, status=500)
        return await to_aiohttp_response(response)

    @staticmethod
    def refuse(exc: Refused) -> web.Response:
        """The answer to a refused request, and one log line (throttled in HTTP mode) without any of
        its content. 200 means a verified payload careerbot ignores."""
        if exc.status == 200:
            http_log.info("slack: ignored a signed request: %s", exc.reason)
            return web.Response(status=200)
        http_log.warning("slack: refused a request (HTTP %d): %s", exc.status, exc.reason)
        errors = {401: "invalid request", 408: "request timeout", 413: "request too large"}
        response = web.json_response({"error": errors.get(exc.status, "malformed request")}, status=exc.status)
        if exc.status != 401:
            response.force_close()  # its body may be unread or cut off: do not reuse the connection
        return response

    async def run(self) -> None:
        await self.sender.open()
        try:  # fail fast, with Slack's reason, on a revoked or mistyped token
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            raise ConnectionError(f"Slack refused the bot token (auth.test: {exc.response.get('error')})") from None
        log.info("slack: signed in as %s to %s", auth.get("user"), auth.get("team"))
        if self.settings.socket_mode:
            await self._run_socket_mode()
        else:
            await self._run_http()

    async def _run_http(self) -> None:
        limits = self.limits
        runner = self._runner = web.AppRunner(
            self.web_app(),
            access_log=None,
            logger=http_log,  # aiohttp's errors about malformed HTTP: one throttled line each
            keepalive_timeout=limits.keepalive_timeout,
            lingering_time=limits.body_timeout,
        )
        throttle = Throttle()  # this server's own: lines about refusals start afresh with it
        http_log.addFilter(throttle)
        try:
            await runner.setup()
            assert runner.server is not None
            self.guard = ConnectionGuard(
                runner.server, limit=limits.connection_limit(), header_timeout=limits.header_timeout
            )
            # Not web.TCPSite: the guard sits between the listening socket and aiohttp's protocol.
            self._server = server = await asyncio.get_running_loop().create_server(
                self.guard, self.host, self.port, backlog=limits.backlog
            )
            self.port = server.sockets[0].getsockname()[1]
            log.info(
                "slack: HTTP mode on %s:%s%s (at most %d connections)",
                self.host,
                self.port,
                EVENTS_PATH,
                self.guard.limit,
            )
            self.started.set()
            await asyncio.Event().wait()
        finally:
            self.started.clear()
            self._runner = None
            if self._server is not None:
                self._server.close()
                self._server = None
            await runner.cleanup()
            http_log.removeFilter(throttle)

    async def _run_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert self.settings.slack_app_token is not None
        handler = AsyncSocketModeHandler(
            self.app, self.settings.slack_app_token.get_secret_value(), web_client=self.client
        )
        try:
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack: connected in Socket Mode")
            self.started.set()
            await asyncio.Event().wait()
        finally:
            self.started.clear()
            await handler.close_async()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
        await self.adapter.close()
        await self.sender.close()
        await self.poster.close()


def build_platform(core: Core, options: dict[str, Any]) -> SlackPlatform:
    """Called by :mod:`adapters.runner` when ``SLACK_BOT_TOKEN`` is set."""
    return SlackPlatform(
        core, load_settings(), port=int(options.get("port", 3000)), host=options.get("host", "0.0.0.0")
    )


# ---------------------------------------------------------------------------- CLI

cli = click.Group("slack", help="The Slack app: print the manifest that creates it.")


@cli.command("manifest")
@click.option("--http-url", metavar="URL", help="Public HTTPS URL of this server (HTTP mode). Default: Socket Mode.")
@click.option(
    "--prefix",
    envvar=slack_manifest.PREFIX_VARIABLE,
    default="",
    help="Slash command prefix (env CAREERBOT_COMMAND_PREFIX).",
)
def manifest(http_url: str | None, prefix: str) -> None:
    """Print a Slack app manifest (YAML) with every command; paste it at api.slack.com/apps."""
    try:
        click.echo(
            slack_manifest.to_yaml(slack_manifest.build_manifest(REGISTRY, prefix=prefix.strip(), http_url=http_url)),
            nl=False,
        )
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
