"""The suite keeps its own rules (docs/testing.md), checked on its source so they cannot drift:
every ``pytest.raises`` names the message it expects with ``match=``, so a test fails when the wrong error
is raised. The one exception is ``asyncio.CancelledError``, which carries no message (a cancelled task
awaited at the end of a test)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
MESSAGELESS = {"asyncio.CancelledError"}


def raises_without_match(source: str) -> list[int]:
    """The lines of ``pytest.raises(...)`` calls in ``source`` that give no ``match=``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "pytest.raises"):
            continue
        if any(k.arg == "match" for k in node.keywords):
            continue
        if node.args and ast.unparse(node.args[0]) in MESSAGELESS:
            continue
        lines.append(node.lineno)
    return lines


def test_every_pytest_raises_in_the_suite_has_match() -> None:
    found = {
        f"{path.relative_to(TESTS)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line in raises_without_match(path.read_text(encoding="utf-8"))
    }
    assert found == set()


def test_the_rule_finds_a_raises_without_match() -> None:
    source = (
        "import asyncio, pytest\n"
        "with pytest.raises(ValueError):\n    pass\n"
        "with pytest.raises(ValueError, match='bad'):\n    pass\n"
        "with pytest.raises(asyncio.CancelledError):\n    pass\n"
        "with pytest.raises((KeyError, OSError)):\n    pass\n"
    )
    assert raises_without_match(source) == [2, 8]
