"""How answers flow: Slack's markup read back as the user meant it, and the answer queue's overload,
said once per overload, however many requests it turns away."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import pytest

from adapters.slack_bot.flow import AnswerQueue, from_slack
from adapters.slack_bot.render import Message


def test_slack_markup_is_read_as_the_user_meant_it() -> None:
    assert from_slack("see <https://hl7.org/fhir> now") == "see https://hl7.org/fhir now"  # a bare link: its URL
    assert from_slack("see <https://hl7.org/fhir|FHIR>") == "see FHIR"  # a labelled one: its label
    assert from_slack("<@U1> in <#C1|general> <#C2> <!here> a &amp; b &lt;x&gt;") == "in #general a & b <x>"


async def test_an_overloaded_queue_says_so_once_and_again_once_half_are_sent(caplog: pytest.LogCaptureFixture) -> None:
    spawned: list[asyncio.Task[None]] = []

    def spawn(work: Coroutine[Any, Any, None]) -> None:
        spawned.append(asyncio.ensure_future(work))

    queue = AnswerQueue(spawn, size=2)
    gate = asyncio.Event()
    delivered: list[str] = []

    def job(name: str) -> tuple[Any, Any]:
        async def compute() -> list[Message]:
            await gate.wait()
            return [Message(text=name)]

        async def deliver(pages: list[Message]) -> None:
            delivered.append(pages[0].text)

        return compute, deliver

    with caplog.at_level(logging.WARNING, logger="careerbot.slack"):
        assert queue.put(*job("a")) and queue.put(*job("b"))
        assert not queue.put(*job("c"))  # full: turned away, said once ...
        assert not queue.put(*job("d"))  # ... not again for the same overload
        gate.set()
        async with asyncio.timeout(10):
            while not queue.idle():
                await asyncio.sleep(0.001)
        await asyncio.gather(*spawned)
        assert queue.put(*job("e"))  # taking requests again
        async with asyncio.timeout(10):
            while not queue.idle():
                await asyncio.sleep(0.001)
        await asyncio.gather(*spawned)
    await queue.close()
    assert sorted(delivered) == ["a", "b", "e"]
    assert [r.getMessage() for r in caplog.records] == [
        "slack: 2 answers pending; turning requests away until half are sent",
        "slack: 1 answers pending; taking requests again",
    ]
