"""What the knowledge tests share: a private copy of the shipped knowledge to break, and the problems
the loader reports for a directory."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.errors import KnowledgeError
from bot.knowledge.loader import load


@pytest.fixture
def tree(tmp_path: Path, knowledge_dir: Path) -> Path:
    """A private copy of the shipped knowledge to break."""
    target = tmp_path / "knowledge"
    shutil.copytree(knowledge_dir, target)
    return target


def problems(directory: Path) -> list[str]:
    """The problems loading ``directory`` reports (it must fail, with a problem in this tree)."""
    with pytest.raises(KnowledgeError, match=re.escape(str(directory))) as caught:
        load(directory)
    return [str(p) for p in caught.value.problems]
