"""The runner: platforms share one loop; a failing one is retried, a misconfigured one is dropped."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters import runner
from bot.core import Core
from bot.errors import ConfigError


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
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    good, bad = Flaky("slack"), Flaky("discord", config_error=True)
    with caplog.at_level(logging.ERROR, logger="careerbot.runner"):
        serving = asyncio.create_task(runner.serve(core, [good, bad]))
        await asyncio.wait_for(good.serving.wait(), 1)
        await asyncio.sleep(0.05)
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
