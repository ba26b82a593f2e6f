"""The runner: platforms share one loop; a failing one is retried, a misconfigured one is dropped, one whose
connection ends is restarted, one whose close fails does not keep the others open; the scheduler starts once
the store opens (retried with backoff) and not at all when the store is misconfigured."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

import pytest

from adapters import runner
from bot.context import Services
from bot.core import Core
from bot.errors import ConfigError
from bot.knowledge.loader import default_knowledge_dir
from bot.schedule.clock import FakeClock
from bot.schedule.posting import Channel
from bot.schedule.rules import DAILY, Schedule
from bot.store.engine import Store, Tenant
from bot.tips.store import TenantTips
from tests.faults import eventually
from tests.tips.conftest import MemoryPoster, at


class Flaky:
    """Fails ``failures`` times, then serves until cancelled."""

    def __init__(self, name: str, failures: int = 0, config_error: bool = False) -> None:
        self.name = name
        self.failures = failures
        self.config_error = config_error
        self.starts = 0
        self.serving = asyncio.Event()
        self.closed = False

    async def run(self) -> None:
        self.starts += 1
        if self.config_error:
            raise ConfigError(f"{self.name.upper()}_TOKEN was rejected")
        if self.starts <= self.failures:
            raise ConnectionError("connection reset")
        self.serving.set()
        await asyncio.Event().wait()

    async def close(self) -> None:
        self.closed = True


async def test_a_failing_platform_is_retried_with_backoff() -> None:
    delays: list[float] = []

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)

    flaky = Flaky("slack", failures=3)
    task = asyncio.create_task(runner.supervise(flaky, sleep=fake_sleep))
    await asyncio.wait_for(flaky.serving.wait(), 1)
    task.cancel()
    assert delays == [1.0, 2.0, 4.0]
    assert flaky.starts == 4


async def test_a_misconfigured_platform_stops_and_the_other_keeps_serving(
    core: Core, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No wait between restarts: were a rejected token retried, it would be retried at once, again and
    # again, and "stopped" would never be logged.
    monkeypatch.setattr(runner, "BACKOFF_START", 0.0)
    good, bad = Flaky("slack"), Flaky("discord", config_error=True)
    with caplog.at_level(logging.ERROR, logger="careerbot.runner"):
        serving = asyncio.create_task(runner.serve(core, [good, bad]))
        await eventually(good.serving.is_set, what="slack serving")
        await eventually(lambda: "discord stopped" in caplog.text, what="discord dropped")
    assert not serving.done()  # slack still serves
    assert bad.starts == 1  # no retry loop on a rejected token
    assert "discord stopped: DISCORD_TOKEN was rejected" in caplog.text
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert good.closed and bad.closed


async def test_when_every_platform_is_misconfigured_serve_raises(core: Core) -> None:
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        await asyncio.wait_for(runner.serve(core, [Flaky("discord", config_error=True)]), 1)


class Scripted:
    """Runs through ``script`` ("fail": raise, "return": the connection ends), then serves until cancelled."""

    def __init__(self, name: str, *script: str, close_fails: bool = False) -> None:
        self.name = name
        self.script = list(script)
        self.close_fails = close_fails
        self.starts = 0
        self.serving = asyncio.Event()
        self.closed = False

    async def run(self) -> None:
        self.starts += 1
        if self.script:
            if self.script.pop(0) == "fail":
                raise ConnectionError("connection reset")
            return
        self.serving.set()
        await asyncio.Event().wait()

    async def close(self) -> None:
        self.closed = True
        if self.close_fails:
            raise RuntimeError("the socket was already gone")


async def test_a_platform_whose_run_returns_is_restarted_at_once_with_the_backoff_reset(
    caplog: pytest.LogCaptureFixture,
) -> None:
    delays: list[float] = []

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)

    platform = Scripted("slack", "fail", "fail", "return", "return", "fail")
    with caplog.at_level(logging.WARNING, logger="careerbot.runner"):
        task = asyncio.create_task(runner.supervise(platform, sleep=fake_sleep))
        await asyncio.wait_for(platform.serving.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert platform.starts == 6
    assert delays == [1.0, 2.0, 1.0]  # no wait after a connection that ended; the backoff starts over
    assert caplog.text.count("slack connection ended; reconnecting") == 2


async def test_a_failing_close_is_logged_and_the_others_are_still_closed(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = Scripted("slack", close_fails=True), Scripted("discord")
    serving = asyncio.create_task(runner.serve(core, [first, second]))
    await eventually(lambda: first.serving.is_set() and second.serving.is_set(), what="both serving")
    with caplog.at_level(logging.ERROR, logger="careerbot.runner"):
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
    assert first.closed and second.closed
    assert "closing slack failed" in caplog.text and "the socket was already gone" in caplog.text


class WithPoster:
    """A platform that offers a poster (so the runner starts the scheduler)."""

    name = "slack"

    def __init__(self) -> None:
        self.poster = MemoryPoster()

    async def run(self) -> None: ...

    async def close(self) -> None: ...


async def test_a_store_that_is_misconfigured_turns_tips_off_without_retrying(caplog: pytest.LogCaptureFixture) -> None:
    delays: list[float] = []

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    services = Services(environ={"CAREERBOT_DATABASE_URL": "mysql://db.example/careerbot"})
    core = Core(default_knowledge_dir(), services=services, rng=random.Random(1))
    with caplog.at_level(logging.ERROR, logger="careerbot.runner"):
        await asyncio.wait_for(runner.run_tips(core, [WithPoster()], sleep=fake_sleep), 10)  # returns: tips off
    assert delays == []
    assert "tips: daily tips are off: CAREERBOT_DATABASE_URL must be a postgresql:// or sqlite:// URL" in caplog.text


async def test_a_store_that_cannot_open_yet_is_retried_with_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The data directory is not there yet (a volume mounted late: a file stands in its way); opening
    the store fails and is retried, waiting 1 s, then 2 s; once the directory is there, tips post."""
    ready = tmp_path / "ready" / "careerbot.db"
    store = await Store.open(f"sqlite+aiosqlite:///{ready}", environ={})
    await TenantTips(store, Tenant("slack", "T1")).subscribe(
        Channel("C1", "general"), Schedule(9, 0, "UTC", DAILY), None, user="U1", now=at("2025-03-02T12:00"), seed=1
    )
    await store.close()
    data = tmp_path / "data"
    data.write_text("not a directory")
    delays: list[float] = []

    async def sleep_and_mount_on_the_second_wait(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 2:
            data.unlink()
            ready.parent.rename(data)
        await asyncio.sleep(0)

    clock = FakeClock(at("2025-03-03T09:00"))
    services = Services(url=f"sqlite+aiosqlite:///{data / 'careerbot.db'}", environ={}, clock=clock)
    core = Core(default_knowledge_dir(), services=services, rng=random.Random(1))
    slack = WithPoster()
    with caplog.at_level(logging.ERROR, logger="careerbot.runner"):
        task = asyncio.create_task(runner.run_tips(core, [slack], sleep=sleep_and_mount_on_the_second_wait))
        try:
            await eventually(lambda: bool(slack.poster.sent), what="the tip sent")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await core.aclose()
    assert delays == [1.0, 2.0]
    assert [p.channel for p in slack.poster.sent] == ["C1"]
    assert caplog.text.count("tips: cannot open the store (StoreError: cannot create the directory") == 2
