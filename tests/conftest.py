"""Shared fixtures: a core on the shipped knowledge, and a test harness that reads like a chat."""

from __future__ import annotations

import random
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from bot.reply import Reply

KNOWLEDGE = default_knowledge_dir()


@pytest.fixture(scope="session")
def knowledge_dir() -> Path:
    return KNOWLEDGE


@pytest.fixture(scope="session")
def core() -> Core:
    """One core on the shipped knowledge (read-only; tests that reload use their own copy)."""
    return Core(KNOWLEDGE, rng=random.Random(7))


@pytest.fixture
def ask(core: Core) -> Callable[[str], Coroutine[Any, Any, Reply]]:
    """``reply = await ask("/role ehr")``: the console path, as a user would type it."""

    async def run(text: str) -> Reply:
        return await core.ask(text)

    return run
