"""No unintended behaviour change: ``careerbot ask --json`` answers every stored input exactly as the
golden file says (see :mod:`tests.behaviour` for what it holds and how to regenerate it)."""

from __future__ import annotations

import pytest

from tests.behaviour import GOLDEN, answers, command_inputs, read_golden, stored_hostile


@pytest.mark.parametrize("group", ["commands", "tips"])
def test_answers_match_the_golden_file(group: str) -> None:
    rows = read_golden()
    expected = [r for r in rows if r["group"] == group]
    assert len(expected) > 10
    if group == "commands":
        assert [r["input"] for r in expected] == command_inputs(stored_hostile(rows)), "the inputs moved"
    got = answers([r["input"] for r in expected])
    changed = [r["input"][:60] for r, answer in zip(expected, got, strict=True) if answer != r["answer"]]
    assert not changed, f"{len(changed)} answers differ from {GOLDEN.name}, e.g. {changed[:5]}"
