"""More of the runner: health and metrics on a server of their own when no platform listens on the port,
an error that is not an ``Exception`` still closes everything, SIGTERM that outlasts the shutdown wait, a
loop without signal support (as on Windows), and the mentoring pool checks failing (misconfigured store:
given up; a store not there yet: the next pass tries again)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import signal
from asyncio.selector_events import BaseSelectorEventLoop
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from adapters import runner
from bot.context import Services
from bot.core import Core
from bot.errors import ConfigError
from bot.knowledge.loader import default_knowledge_dir
from bot.mentoring import tables
from bot.mentoring.pool import LEFT, Presence
from bot.schedule.clock import FakeClock
from bot.schedule.posting import Channel
from bot.store.engine import Store, Tenant
from tests.faults import eventually
from tests.mentoring.conftest import pairs_program
from tests.test_runner import Flaky, Scripted
from tests.tips.conftest import at


def leftover_tasks() -> set[str]:
    """The runner's own tasks still alive in this loop (besides the test's)."""
    names = {"knowledge-watch", "tips-scheduler", "mentoring-pools", "signals", "serve"}
    return {t.get_name() for t in asyncio.all_tasks() if t.get_name() in names or t.get_name().startswith("platform-")}


class OtherPortHttp(Scripted):
    """A platform that serves HTTP itself, but on another port than the one asked for health."""

    serves_http = True
    port = 1

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.extra_routes: list[Any] = []


async def test_health_gets_a_server_of_its_own_when_no_platform_listens_on_its_port(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    slack, discord = OtherPortHttp("slack"), Scripted("discord")
    with caplog.at_level(logging.INFO, logger="careerbot.ops"):
        serving = asyncio.create_task(runner.serve(core, [slack, discord], http_port=0))
        await eventually(lambda: slack.serving.is_set() and discord.serving.is_set(), what="both serving")
    found = re.search(r"health and metrics on 0\.0\.0\.0:(\d+)", caplog.text)
    assert found, caplog.text
    url = f"http://127.0.0.1:{found[1]}"
    assert slack.extra_routes == []  # not added to a server listening elsewhere
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/readyz") as r:
            assert r.status == 200
            assert json.loads(await r.text())["checks"] == {
                "knowledge": "ok",
                "store": "not used",
                "slack": "ok",
                "discord": "ok",
            }
        serving.cancel()
        with pytest.raises(asyncio.CancelledError, match="^$"):
            await serving
        with pytest.raises(aiohttp.ClientConnectorError, match="Cannot connect"):  # closed with the rest
            await session.get(f"{url}/healthz")
    assert slack.closed and discord.closed


class Fatal(BaseException):
    """Not an ``Exception``: supervision does not retry it."""


class Doomed(Scripted):
    async def run(self) -> None:
        self.starts += 1
        raise Fatal("the interpreter is going down")


async def test_an_error_that_is_not_an_exception_ends_serve_and_still_closes_every_platform(core: Core) -> None:
    good, doomed = Scripted("slack"), Doomed("discord")
    with pytest.raises(Fatal, match="the interpreter is going down"):
        await asyncio.wait_for(runner.serve(core, [good, doomed]), 10)
    assert doomed.starts == 1  # not retried
    assert good.closed and doomed.closed
    assert leftover_tasks() == set()


async def test_with_no_platform_serve_returns_at_once_and_leaves_nothing_running(core: Core) -> None:
    terminate = signal.getsignal(signal.SIGTERM)
    await asyncio.wait_for(runner.serve(core, []), 10)  # returns
    assert leftover_tasks() == set()
    await asyncio.wait_for(runner.serve_until_stopped(core, []), 10)  # returns
    assert leftover_tasks() == set()
    assert signal.getsignal(signal.SIGTERM) == terminate  # the handlers were given back


class HangsOnClose(Scripted):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.close_started = asyncio.Event()
        self.close_interrupted = False

    async def close(self) -> None:
        self.close_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.close_interrupted = True
            raise


async def test_sigterm_that_outlasts_the_shutdown_wait_is_logged_and_the_process_ends(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    slack = HangsOnClose("slack")
    with caplog.at_level(logging.INFO, logger="careerbot.runner"):
        stopping = asyncio.create_task(runner.serve_until_stopped(core, [slack], wait=0.05))
        # The platform runs inside serve, which starts after the handlers are installed.
        await eventually(slack.serving.is_set, what="slack serving")
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(stopping, 10)  # returns: the process exits 0
    assert slack.close_started.is_set() and slack.close_interrupted
    assert "stopping: finishing in-flight work and releasing leases" in caplog.text
    assert "stopping: shutdown took over 0 s; leases left will expire" in caplog.text
    assert caplog.records[-1].getMessage() == "stopped"


def test_without_signal_support_a_rejected_token_still_ends_serving_with_its_error(core: Core) -> None:
    """A loop that cannot take signal handlers (Windows' loops; here asyncio's portable selector loop):
    serving goes on without them, and the ConfigError still reaches the command line."""
    bad = Flaky("discord", config_error=True)
    with asyncio.Runner(loop_factory=BaseSelectorEventLoop) as loop_runner:
        loop = loop_runner.get_loop()
        with pytest.raises(NotImplementedError, match="^$"):  # the loop really has no signal support
            loop.add_signal_handler(signal.SIGTERM, lambda: None)
        with pytest.raises(ConfigError, match="DISCORD_TOKEN was rejected"):
            loop_runner.run(asyncio.wait_for(runner.serve_until_stopped(core, [bad]), 10))
    assert bad.starts == 1 and bad.closed


class PoolPlatform:
    name = "slack"

    def __init__(self) -> None:
        self.pool = self
        self.asked: list[tuple[str, str, tuple[str, ...]]] = []

    async def presence(self, tenant: str, channel: str, users: Any) -> dict[str, Presence]:
        self.asked.append((tenant, channel, tuple(users)))
        return {"U1": Presence.gone(LEFT)}

    async def run(self) -> None: ...

    async def close(self) -> None: ...


async def test_pools_are_not_checked_when_the_store_is_misconfigured(caplog: pytest.LogCaptureFixture) -> None:
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)

    services = Services(environ={"CAREERBOT_DATABASE_URL": "mysql://db.example/careerbot"})
    core = Core(default_knowledge_dir(), services=services, rng=random.Random(1))
    platform = PoolPlatform()
    with caplog.at_level(logging.ERROR, logger="careerbot.runner"):
        await asyncio.wait_for(runner.run_pools(core, [platform], first=30, interval=300, sleep=nap), 10)  # returns
    assert naps == [30]  # given up after the first pass, not retried every 300 s
    assert platform.asked == []
    assert caplog.text.count("mentoring: pools are not checked: CAREERBOT_DATABASE_URL must be") == 1


async def test_a_pool_pass_that_cannot_open_the_store_is_logged_and_the_next_pass_checks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The data directory is not there on the first pass (a file stands in its way): one log line;
    it is there by the next pass, which checks the program's members."""
    now = at("2025-03-03T08:30")  # 90 minutes before the program's first round (Monday 10:00 UTC)
    ready = tmp_path / "ready" / "careerbot.db"
    store = await Store.open(f"sqlite+aiosqlite:///{ready}", environ={})
    await pairs_program(store, Tenant("slack", "T1"), Channel("C1", "general"), 3, at("2025-03-02T12:00"))
    await store.close()
    data = tmp_path / "data"
    data.write_text("not a directory")
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:  # between the failed pass and the next one: the volume is mounted
            data.unlink()
            ready.parent.rename(data)
        if len(naps) == 3:
            raise asyncio.CancelledError

    services = Services(url=f"sqlite+aiosqlite:///{data / 'careerbot.db'}", environ={}, clock=FakeClock(now))
    core = Core(default_knowledge_dir(), services=services, rng=random.Random(1))
    platform = PoolPlatform()
    try:
        with (
            caplog.at_level(logging.ERROR, logger="careerbot.runner"),
            pytest.raises(asyncio.CancelledError, match="^$"),
        ):
            await asyncio.wait_for(runner.run_pools(core, [platform], first=30, interval=300, sleep=nap), 10)
        assert naps == [30, 300, 300]
        assert caplog.text.count("mentoring: checking slack pools failed (StoreError: cannot create the directory") == 1
        assert platform.asked == [("T1", "C1", ("U0", "U1", "U2"))]
        m = tables.members
        async with (await services.store()).connect() as conn:
            absent = dict((await conn.execute(select(m.c.user_id, m.c.absent).order_by(m.c.user_id))).all())
        assert absent == {"U0": None, "U1": LEFT, "U2": None}
    finally:
        await core.aclose()
