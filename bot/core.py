"""The platform-neutral core: turns an :class:`Invocation` into a :class:`Reply`.

Adapters call :meth:`Core.answer` (or :meth:`Core.ask` with raw text). Knowledge reloads without a
restart: :meth:`Core.reload` swaps in a new tree only if it validates, keeping the last good one, and
:meth:`Core.watch` polls for edits forever, whatever is dropped into the knowledge directory.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from bot import messages, metrics
from bot.commands import Command, Invocation, OptionValue, Registry, coerce, parse_options
from bot.context import Context, Services
from bot.errors import CommandError, KnowledgeError, Problem
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import default_knowledge_dir, fingerprint, load
from bot.knowledge.present import COMMAND_FOR
from bot.knowledge.schema import as_kinds
from bot.knowledge.yamlread import DEFAULT_LIMITS, Limits
from bot.registry import REGISTRY
from bot.reply import FollowUp, Reply
from bot.safety import one_line

log = logging.getLogger("careerbot.core")
requests_log = logging.getLogger("careerbot.requests")

FREE_TEXT_MAX = 500
MEMO_SIZE = 2048
SHARE_COMMAND_MAX = 80
#: A reload failure that is not a validation report (a bug, MemoryError...) is logged as one line of at most this.
RELOAD_ERROR_MAX = 300
#: The watcher restarts after a crash with backoff from its poll interval up to this many seconds.
WATCH_BACKOFF_MAX = 60.0


class Core:
    def __init__(
        self,
        knowledge_dir: Path | None = None,
        *,
        registry: Registry | None = None,
        rng: random.Random | None = None,
        services: Services | None = None,
        memo_size: int = MEMO_SIZE,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.knowledge_dir = Path(knowledge_dir or default_knowledge_dir())
        self.limits = limits
        """What a knowledge tree may hold (see :class:`bot.knowledge.loader.Limits`); the benchmark raises them."""
        self.registry = registry or REGISTRY
        self.rng = rng or random.Random()
        self.services = services
        """The store and friends (opened on first use), for commands such as /tips; None: none here."""
        self.memo_size = memo_size
        """How many pure replies to keep for reuse (0: recompute every time, as the benchmark does)."""
        self._memo: OrderedDict[Hashable, Reply] = OrderedDict()
        self._memo_kb: KnowledgeBase | None = None
        self._fingerprint = fingerprint(self.knowledge_dir, limits)
        self.kb = KnowledgeBase(load(self.knowledge_dir, limits))  # a broken tree fails fast here
        self.last_problems: list[Problem] = []
        self.watch_restarts = 0
        """How many times :meth:`watch` restarted its poll loop after it died."""

    # ------------------------------------------------------------------ knowledge reload

    def reload(self) -> bool:
        """Reload if the files changed. Returns True when a new tree was swapped in. Never raises.

        An invalid tree is logged with the validator's report (bounded: see
        :meth:`~bot.errors.KnowledgeError.report`) and the last good one stays live; so does any other
        failure, logged as one line. A failed version is not retried until the files change again.
        """
        try:
            current = fingerprint(self.knowledge_dir, self.limits)
            if current == self._fingerprint:
                return False
            self._fingerprint = current
            kb = KnowledgeBase(load(self.knowledge_dir, self.limits))
        except KnowledgeError as exc:
            log.error(messages.KNOWLEDGE_REJECTED.format(path=self.knowledge_dir, report=exc.report()))
            self.last_problems = exc.problems
            metrics.reloaded(accepted=False)
            return False
        except Exception as exc:  # whatever it is, the bot keeps answering from the last good tree
            reason = _one_line(f"{type(exc).__name__}: {exc}", RELOAD_ERROR_MAX)
            log.error(
                "knowledge reload from %s failed (%s); still serving the last good version", self.knowledge_dir, reason
            )
            log.debug("knowledge reload failure", exc_info=True)
            self.last_problems = [Problem(str(self.knowledge_dir), 0, "", f"reload failed: {reason}")]
            metrics.reloaded(accepted=False)
            return False
        self.kb = kb
        self.last_problems = []
        metrics.reloaded(accepted=True)
        log.info(messages.KNOWLEDGE_RELOADED.format(path=self.knowledge_dir))
        return True

    async def watch(self, interval: float = 2.0) -> None:
        """Poll for knowledge changes forever (run as a task beside an adapter); only cancelling ends it.

        :meth:`reload` never raises, and this supervises the poll loop anyway: if it dies (say the
        thread pool refuses work), the failure is logged as one line and the loop restarts, after a
        backoff from ``interval`` doubling up to :data:`WATCH_BACKOFF_MAX` seconds while it keeps dying.
        """
        delay = interval
        while True:
            polled = [False]
            try:
                await self._poll(interval, polled)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = interval if polled[0] else min(max(delay, interval, 0.001) * 2, WATCH_BACKOFF_MAX)
                self.watch_restarts += 1
                reason = _one_line(f"{type(exc).__name__}: {exc}", RELOAD_ERROR_MAX)
                log.error("knowledge watcher died (%s); restarting in %.1fs", reason, delay)
                await asyncio.sleep(delay)

    async def _poll(self, interval: float, polled: list[bool]) -> None:
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(self.reload)
            polled[0] = True

    # ------------------------------------------------------------------ requests

    def parse(
        self,
        text: str,
        *,
        platform: str = "console",
        tenant: str = "local",
        user: str = "local",
        channel: str = "local",
        admin: bool = False,
    ) -> Invocation:
        """Raw text as a user typed it: ``/role ehr`` is a command, anything else a question."""
        text = text.strip()
        command, options, rest = "", {}, text
        if text.startswith("/"):
            name, _, rest = text[1:].partition(" ")
            declared = self.registry.get(name)
            command = declared.name if declared else name[:64]
            options = parse_options(declared, rest) if declared else {}
        return Invocation(
            platform=platform,
            tenant=tenant,
            user=user,
            channel=channel,
            command=command,
            options=options,
            text=rest,
            admin=admin,
        )

    async def ask(self, text: str, **where: Any) -> Reply:
        """Answer raw text; ``where`` are :meth:`parse`'s keywords (platform, tenant, user, channel)."""
        return await self.answer(self.parse(text, **where))

    def cacheable(self, invocation: Invocation) -> bool:
        """True when the reply depends only on the options and the knowledge (a command declared
        ``pure``, or a plain question): the core reuses it, and adapters may cache its rendering
        for as long as :attr:`kb` is the same object."""
        if not invocation.command:
            return True
        command = self.registry.get(invocation.command)
        return command is not None and command.pure

    async def answer(self, invocation: Invocation) -> Reply:
        """Answer any invocation. Never raises: failures become an error reply and a log line.
        Each answer is counted in :mod:`bot.metrics` (command, platform, outcome, latency)."""
        started = time.perf_counter()
        reply = await self._answer_once(invocation)
        if reply.tone != "error":
            outcome = "ok"
        else:
            outcome = "failed" if reply.title == messages.INTERNAL_ERROR_TITLE else "refused"
        seconds = time.perf_counter() - started
        declared = self.registry.get(invocation.command) is not None if invocation.command else False
        metrics.observe_answer(invocation.command, declared, invocation.platform, outcome, seconds)
        if requests_log.isEnabledFor(logging.INFO):  # one line a request: bounded labels, never the text
            command = metrics.command_label(invocation.command, declared)
            requests_log.info(
                "answered %s on %s in %.1f ms: %s",
                command,
                invocation.platform,
                seconds * 1000,
                outcome,
                extra={
                    "tenant": invocation.tenant[:64],
                    "platform": invocation.platform[:16],
                    "command": command,
                    "latency_ms": round(seconds * 1000, 2),
                    "outcome": outcome,
                },
            )
        return reply

    async def _answer_once(self, invocation: Invocation) -> Reply:
        kb = self.kb  # one consistent tree for the whole request, even if a reload lands meanwhile
        key: Hashable = None
        if self.memo_size and self.cacheable(invocation):
            options = tuple(sorted(invocation.options.items(), key=lambda item: item[0]))
            key = (invocation.command, options, "" if invocation.command else invocation.text[:FREE_TEXT_MAX])
            if self._memo_kb is kb and (hit := self._memo.get(key)) is not None:
                self._memo.move_to_end(key)
                return hit
        reply = await self._answer(kb, invocation)
        if key is not None and reply.tone != "error":
            if self._memo_kb is not kb:
                self._memo_kb, self._memo = kb, OrderedDict()
            self._memo[key] = reply
            if len(self._memo) > self.memo_size:
                self._memo.popitem(last=False)
        return reply

    async def _answer(self, kb: KnowledgeBase, invocation: Invocation) -> Reply:
        ctx = Context(kb=kb, invocation=invocation, registry=self.registry, rng=self.rng, services=self.services)
        try:
            if not invocation.command:
                if self.registry.free_text is None:
                    raise CommandError(messages.UNKNOWN_COMMAND)
                return await self.registry.free_text(ctx, invocation.text[:FREE_TEXT_MAX])
            command = self.registry.get(invocation.command)
            if command is None:
                return self._unknown_command(invocation.command)
            return await command.handler(ctx, **coerce(command, invocation.options))
        except CommandError as exc:
            return Reply(title=messages.CANNOT_TITLE, summary=exc.reason, tone="error")
        except Exception:
            log.exception("command %r failed on %s", invocation.command, invocation.platform)
            return Reply(title=messages.INTERNAL_ERROR_TITLE, summary=messages.INTERNAL_ERROR, tone="error")

    async def aclose(self) -> None:
        """Release the services (database connections) if any were opened."""
        if self.services is not None:
            await self.services.aclose()

    def share_command(self, invocation: Invocation, reply: Reply) -> str | None:
        """A short command that reproduces ``reply`` (for "Share in channel" and "More" buttons), at
        most :data:`SHARE_COMMAND_MAX` characters so it fits a Discord ``custom_id`` with a prefix;
        None for a command declared ``admin`` (running it again would repeat a change), and for a
        plain-words answer that no command reproduces (small talk, a comparison, out of scope)."""
        command = self.registry.get(invocation.command) if invocation.command else None
        if command is not None and command.name == "career":  # the umbrella: judge the command it runs
            target = str(invocation.options.get("command") or "").lstrip("/").partition(" ")[0]
            command = self.registry.get(target) or command
        if command is not None and command.admin:
            return None
        if reply.ref is not None and reply.ref.kind == "tip":
            return f"/tip {reply.ref.id}"[:SHARE_COMMAND_MAX]
        if command is not None and invocation.command:
            text = _as_text(self.registry.get(invocation.command) or command, invocation.options)
            if text is not None and len(text) <= SHARE_COMMAND_MAX:
                return text
        if reply.ref is not None:
            return f"/{COMMAND_FOR[reply.ref.kind]} {reply.ref.id}"[:SHARE_COMMAND_MAX]
        if not invocation.command:  # small talk, a comparison, "I don't cover that": nothing to re-run
            return None
        return "/career"

    def autocomplete(self, command: str, option: str, query: str) -> list[tuple[str, str]]:
        """Up to 25 ``(label, value)`` suggestions for an entity option, for Discord and Slack."""
        cmd = self.registry.get(command)
        opt = next((o for o in cmd.options if o.name == option), None) if cmd else None
        if opt is None or not opt.kinds:
            return []
        return self.kb.autocomplete(as_kinds(opt.kinds), query[:100])

    def _unknown_command(self, name: str) -> Reply:
        return Reply(
            title=messages.UNKNOWN_COMMAND_TITLE.format(name=one_line(name, 40)),
            summary=messages.UNKNOWN_COMMAND,
            follow_ups=tuple(FollowUp(label=f"/{c.name}", command=f"/{c.name}") for c in list(self.registry)[:10]),
            tone="notice",
        )


def _one_line(text: str, limit: int) -> str:
    """``text`` as one printable log line of at most ``limit`` characters."""
    text = "".join(c if c.isprintable() else " " for c in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _as_text(command: Command, options: Mapping[str, OptionValue]) -> str | None:
    """The command line that :func:`parse_options` reads back as ``options``, or None if there is none.

    A one-option command takes its value as is. Otherwise values are written ``name:value``, except
    one value with spaces, written last as positional text: the parser gives the words left over to the
    options not named, one each and the rest to the last, so it must be the only option not named.
    """
    present = {o.name: str(v) for o in command.options if (v := options.get(o.name)) not in (None, "")}
    if len(command.options) == 1:
        return " ".join([f"/{command.name}", *present.values()])
    spaced = [name for name, value in present.items() if " " in value.strip()]
    free = [o.name for o in command.options if o.name not in present or o.name in spaced]
    if spaced and free != spaced:
        return None
    words = [f"/{command.name}", *(f"{n}:{v}" for n, v in present.items() if n not in spaced)]
    return " ".join(words + [present[n] for n in spaced])
