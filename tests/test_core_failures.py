"""Issue 14, path 7: how :class:`bot.core.Core` recovers.

- A handler that crashes becomes the internal-error reply for the user (never the exception's text)
  and one log record with the traceback for the operator; the failure is not memoised.
- A knowledge directory that cannot be listed (gone, unreadable) on reload is reported once and the
  last good tree stays live; the fix is picked up.
- The watch loop restarts after it dies, backing off while it keeps dying and starting again from
  its poll interval once a poll gets through; only cancelling ends it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from bot.commands import Registry
from bot.context import Context
from bot.core import WATCH_BACKOFF_MAX, Core
from bot.errors import CommandError
from bot.reply import Reply
from tests.faults import deny_listing
from tests.knowledge.test_reload import until

SECRET = "password=hunter2 at /srv/careerbot/secret.py"


def crashing_registry(calls: list[str]) -> Registry:
    """A command table whose ``/boom`` crashes on its first call and answers after; ``/refuse`` raises
    :class:`CommandError`; free text crashes every time."""

    async def free_text(ctx: Context, text: str) -> Reply:
        raise ValueError(SECRET)

    registry = Registry(free_text=free_text)

    @registry.command("boom", "Crashes once, then answers", pure=True)
    async def boom(ctx: Context) -> Reply:
        calls.append("boom")
        if len(calls) == 1:
            raise RuntimeError(SECRET)
        return Reply(title="Fine now", summary="Answered.")

    @registry.command("refuse", "Refuses, as commands do")
    async def refuse(ctx: Context) -> Reply:
        raise CommandError("not like that")

    return registry


@pytest.fixture
def live(tmp_path: Path, knowledge_dir: Path) -> tuple[Core, Path]:
    tree = tmp_path / "knowledge"
    shutil.copytree(knowledge_dir, tree)
    return Core(tree), tree


def core_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "careerbot.core" and r.levelno >= logging.ERROR]


# ------------------------------------------------------------------ the catch-all


async def test_a_crashing_handler_is_the_internal_error_reply_and_one_log_line_with_the_traceback(
    knowledge_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    core = Core(knowledge_dir, registry=crashing_registry(calls))
    with caplog.at_level(logging.ERROR, logger="careerbot.core"):
        reply = await core.ask("/boom", platform="slack")
    assert reply == Reply(title=messages.INTERNAL_ERROR_TITLE, summary=messages.INTERNAL_ERROR, tone="error")
    assert "hunter2" not in repr(reply)  # the user never sees the exception
    (record,) = core_errors(caplog)
    assert record.getMessage() == "command 'boom' failed on slack"
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError  # the traceback, for the operator
    assert "hunter2" in caplog.text and "Traceback" in caplog.text
    # a crash is not remembered as the answer: the same pure command is run again, and answers
    again = await core.ask("/boom", platform="slack")
    assert again.title == "Fine now" and calls == ["boom", "boom"]


async def test_a_crash_answering_free_text_is_the_internal_error_reply(
    knowledge_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core = Core(knowledge_dir, registry=crashing_registry([]))
    with caplog.at_level(logging.ERROR, logger="careerbot.core"):
        reply = await core.ask("what does an EHR engineer do?", platform="discord")
    assert reply.title == messages.INTERNAL_ERROR_TITLE and reply.tone == "error"
    (record,) = core_errors(caplog)
    assert record.getMessage() == "command '' failed on discord" and record.exc_info is not None


async def test_a_refusal_is_not_an_internal_error(knowledge_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The contrast: :class:`CommandError` is the handler saying no, in words, with nothing logged."""
    core = Core(knowledge_dir, registry=crashing_registry([]))
    with caplog.at_level(logging.ERROR, logger="careerbot.core"):
        reply = await core.ask("/refuse")
    assert reply == Reply(title=messages.CANNOT_TITLE, summary="not like that", tone="error")
    assert core_errors(caplog) == []


# ------------------------------------------------------------------ an unreadable knowledge directory


async def test_a_knowledge_directory_that_disappears_keeps_the_last_good_tree(
    live: tuple[Core, Path], caplog: pytest.LogCaptureFixture
) -> None:
    core, tree = live
    before = await core.ask("/role ehr")
    aside = tree.with_name("aside")
    tree.rename(aside)  # a deploy that moves the directory away, an unmounted volume
    with caplog.at_level(logging.ERROR, logger="careerbot.core"):
        assert core.reload() is False
        assert core.reload() is False  # the same failure is not retried (nor logged) until something changes
    (record,) = core_errors(caplog)
    assert f"{tree}:0: not a directory" in record.getMessage()
    assert [str(p) for p in core.last_problems] == [f"{tree}:0: not a directory"]
    assert await core.ask("/role ehr") == before
    aside.rename(tree)
    assert core.reload() is True and core.last_problems == []


async def test_a_knowledge_directory_that_cannot_be_listed_keeps_the_last_good_tree(
    live: tuple[Core, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``chmod 000`` on the directory (simulated: the tests may run as root, who can list anything)."""
    core, tree = live
    before = await core.ask("/role ehr")
    real_scandir = os.scandir
    deny_listing(monkeypatch, tree)
    watcher = asyncio.create_task(core.watch(0.01))
    try:
        with caplog.at_level(logging.ERROR, logger="careerbot.core"):
            await until(lambda: core.last_problems)
            assert [str(p) for p in core.last_problems] == [f"{tree}:0: cannot list: Permission denied"]
            assert await core.ask("/role ehr") == before
            (record,) = core_errors(caplog)
            assert "still serving the last good version" in record.getMessage()
            monkeypatch.setattr(os, "scandir", real_scandir)  # the permissions are fixed
            await until(lambda: not core.last_problems)
        assert not watcher.done() and core.watch_restarts == 0
        assert await core.ask("/role ehr") == before
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watcher


# ------------------------------------------------------------------ the watch loop


async def test_the_watcher_backs_off_while_it_keeps_dying_and_resets_after_a_poll(
    live: tuple[Core, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Dies without polling 10 times (the delay doubles from the interval up to the cap), then polls
    once and dies (the delay is the interval again), then stays up until cancelled."""
    core, _ = live
    interval = 4.0
    script = ["die"] * 10 + ["poll-then-die"]
    polls: list[str] = []
    delays: list[float] = []
    hold = asyncio.Event()  # never set: the last poll loop runs until the watcher is cancelled
    real_sleep = asyncio.sleep

    async def fake_poll(given: float, polled: list[bool]) -> None:
        assert given == interval
        step = script[len(polls)] if len(polls) < len(script) else "stay"
        polls.append(step)
        if step == "stay":
            await hold.wait()
        if step == "poll-then-die":
            polled[0] = True
        raise OSError("the thread pool refused work\nsecond line")

    async def recorded_sleep(delay: float, *args: Any) -> Any:
        if asyncio.current_task() is not watcher:  # anything else sleeping meanwhile sleeps for real
            return await real_sleep(delay, *args)
        delays.append(delay)
        return await real_sleep(0)

    monkeypatch.setattr(core, "_poll", fake_poll)
    monkeypatch.setattr("bot.core.asyncio.sleep", recorded_sleep)
    watcher = asyncio.create_task(core.watch(interval))
    try:
        with caplog.at_level(logging.ERROR, logger="careerbot.core"):
            while len(polls) < len(script) + 1:  # bounded: each turn of the watcher is one real sleep(0)
                assert len(delays) <= len(script) and not watcher.done(), delays
                await real_sleep(0)
        expected = [min(interval * 2**n, WATCH_BACKOFF_MAX) for n in range(1, 11)] + [interval]
        assert delays == expected
        assert expected[-2] == WATCH_BACKOFF_MAX  # the cap was reached
        assert core.watch_restarts == len(script) and not watcher.done()
        records = core_errors(caplog)
        assert len(records) == len(script)
        assert all(r.exc_info is None and "\n" not in r.getMessage() for r in records)  # one line each
        assert records[0].getMessage() == (
            "knowledge watcher died (OSError: the thread pool refused work second line); restarting in 8.0s"
        )
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watcher
    assert watcher.cancelled()  # only cancelling ends it


async def test_the_watcher_restarts_after_dying_and_still_reloads(
    live: tuple[Core, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end with the real poll loop: the thread pool refuses work twice, then an edit lands."""
    core, tree = live
    real_to_thread: Callable[..., Any] = asyncio.to_thread
    refusals = [RuntimeError("cannot schedule new futures after shutdown")] * 2

    async def flaky_to_thread(func: Callable[..., Any], *args: Any) -> Any:
        if refusals:
            raise refusals.pop()
        return await real_to_thread(func, *args)

    monkeypatch.setattr("bot.core.asyncio.to_thread", flaky_to_thread)
    watcher = asyncio.create_task(core.watch(0.01))
    try:
        await until(lambda: core.watch_restarts == 2)
        roles = tree / "roles.yaml"
        title = core.kb.entries["role"]["ehr"].title
        roles.write_text(roles.read_text().replace(f"title: {title}", "title: EHR engineer (after)", 1))
        await until(lambda: core.kb.entries["role"]["ehr"].title == "EHR engineer (after)")
        assert not watcher.done() and core.watch_restarts == 2
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watcher
