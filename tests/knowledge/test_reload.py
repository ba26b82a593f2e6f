"""A running core picks up knowledge edits, and keeps the last good tree when an edit is broken."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core import Core


@pytest.fixture
def live(tmp_path: Path, knowledge_dir: Path) -> tuple[Core, Path]:
    tree = tmp_path / "knowledge"
    shutil.copytree(knowledge_dir, tree)
    return Core(tree), tree


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


async def test_reload_swaps_in_a_valid_edit(live: tuple[Core, Path]) -> None:
    core, tree = live
    assert core.reload() is False  # nothing changed yet
    title = core.kb.entries["role"]["ehr"].title
    edit(tree / "roles.yaml", f"title: {title}", "title: EHR engineer (edited)")
    assert core.reload() is True
    assert (await core.ask("/role ehr")).title == "EHR engineer (edited)"


async def test_broken_edit_keeps_the_last_good_tree(live: tuple[Core, Path], caplog: pytest.LogCaptureFixture) -> None:
    core, tree = live
    before = await core.ask("/role ehr")
    (tree / "broken.yaml").write_text("roles: [unclosed\n")
    with caplog.at_level(logging.ERROR, logger="careerbot.core"):
        assert core.reload() is False
    assert "broken.yaml:2: YAML syntax error" in caplog.text or "broken.yaml:1: YAML syntax error" in caplog.text
    assert core.last_problems
    assert await core.ask("/role ehr") == before
    (tree / "broken.yaml").unlink()
    assert core.reload() is True
    assert core.last_problems == []


async def until(condition: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_reload_that_fails_unexpectedly_is_one_log_line(
    live: tuple[Core, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    core, tree = live
    before = await core.ask("/role ehr")

    def broken(*args: object) -> None:
        raise RuntimeError("boom\n" + "x" * 100_000)

    monkeypatch.setattr("bot.core.load", broken)
    (tree / "zz.yaml").write_text("topics: []\n")
    with caplog.at_level(logging.ERROR, logger="careerbot.core"):
        assert core.reload() is False  # and does not raise
    (record,) = caplog.records
    assert "RuntimeError: boom" in record.getMessage() and "\n" not in record.getMessage()
    assert len(record.getMessage()) < 1000 and record.exc_info is None
    assert core.last_problems[0].message.startswith("reload failed: RuntimeError: boom")
    assert await core.ask("/role ehr") == before


async def test_the_watcher_restarts_when_it_dies(
    live: tuple[Core, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    core, tree = live
    real_reload = core.reload
    calls = []

    def dies_once() -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the poll loop died")
        return real_reload()

    monkeypatch.setattr(core, "reload", dies_once)
    watcher = asyncio.create_task(core.watch(0.01))
    try:
        with caplog.at_level(logging.ERROR, logger="careerbot.core"):
            await until(lambda: core.watch_restarts == 1)
            edit(tree / "roles.yaml", f"title: {core.kb.entries['role']['ehr'].title}", "title: EHR engineer (later)")
            await until(lambda: core.kb.entries["role"]["ehr"].title == "EHR engineer (later)")
        assert "knowledge watcher died (RuntimeError: the poll loop died); restarting" in caplog.text
        assert core.watch_restarts == 1 and not watcher.done()
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError, match="^$"):  # our cancel, which carries no message
            await watcher
