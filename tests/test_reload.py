"""A running core picks up knowledge edits, and keeps the last good tree when an edit is broken."""

from __future__ import annotations

import logging
import shutil
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
