"""Issue 14, path 10: the loader's branches not covered elsewhere, each one ``FILE:LINE`` problem
saying what to write instead where the loader knows it.

A file whose top level is not a mapping, a section that is not a list, a key that is not text, an id
that is not an id, a directory with no YAML files (or none at all, or one that cannot be listed),
bytes that are not UTF-8 text, and a bug in a check (reported like a problem, never raised).
Other YAML failures (tags, aliases, ``\\xff``, syntax) are in ``test_hostile.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge import loader
from bot.knowledge.loader import load
from tests.faults import deny_listing
from tests.knowledge.conftest import problems

ID_RULE = "is not a valid id (lowercase letters, digits and '-')"


def write(tree: Path, content: str | bytes, name: str = "zz.yaml") -> Path:
    path = tree / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # the top level is not a mapping
        ("- roles\n- tips\n", "1: top level must be a mapping of sections"),
        ("just some text\n", "1: top level must be a mapping of sections"),
        ("42\n", "1: top level must be a mapping of sections"),
        # a section is not a list: the line is where its value starts
        ("tips:\n  id: tip-zz\n  text: T.\n", "2: tips: must be a list"),
        ("tips: hello\n", "1: tips: must be a list"),
        # a key that is not text, wherever it is (the entry is still read without it)
        (
            "tips:\n  - id: tip-zz\n    text: T.\n    tags: [ehr]\n    2024: x\n",
            "5: tips[0].2024: key 2024 is not text",
        ),
        ("1: x\n", "1: 1: key 1 is not text"),
        ("? [a, b]\n: 1\n", "1: ?: key a list is not text"),
        # an id that is not an id
        ("tips:\n  - id: Not_An_Id\n    text: T.\n    tags: [ehr]\n", f"2: tips.Not_An_Id.id: 'Not_An_Id' {ID_RULE}"),
        (
            "topics:\n  - id: has space\n    title: One\n    summary: S.\n",
            f"2: topics.has space.id: 'has space' {ID_RULE}",
        ),
        # bytes that are not UTF-8 text: the line of the bad byte
        (
            "tips:\n  - id: tip-zz\n    text: café\n".encode("latin-1"),
            "3: cannot read: incomplete UTF-8 octet sequence",
        ),
        (b"tips:\n  - id: tip-zz\x00\n", "2: cannot read: control characters are not allowed"),
    ],
    ids=lambda v: repr(v)[:28],
)
def test_each_branch_is_one_file_line_problem(tree: Path, content: str | bytes, expected: str) -> None:
    path = write(tree, content)
    assert problems(tree) == [f"{path}:{expected}"]


def test_an_undecodable_file_stops_follow_ons(tree: Path) -> None:
    """With a file unread, a required entry it might have held is not reported missing."""
    roles = tree / "roles.yaml"
    roles.write_bytes(roles.read_bytes().replace(b"title:", "titlé:".encode("latin-1"), 1))
    (found,) = problems(tree)
    assert found.startswith(f"{roles}:") and "cannot read: " in found


@pytest.mark.parametrize("what", ["empty", "other-files"])
def test_a_directory_without_yaml_files_is_one_problem(tmp_path: Path, what: str) -> None:
    directory = tmp_path / "knowledge"
    directory.mkdir()
    if what == "other-files":
        (directory / "README.md").write_text("# notes\n")
        (directory / "roles.yaml.bak").write_text("roles: []\n")
        (directory / ".#roles.yaml").write_text("roles: []\n")  # an editor's lock: skipped
    assert problems(directory) == [f"{directory}:0: no .yaml files"]


@pytest.mark.parametrize("what", ["missing", "a-file"])
def test_a_knowledge_path_that_is_not_a_directory_is_one_problem(tmp_path: Path, what: str) -> None:
    path = tmp_path / "knowledge"
    if what == "a-file":
        path.write_text("roles: []\n")
    assert problems(path) == [f"{path}:0: not a directory"]


def test_a_directory_that_cannot_be_listed_is_one_problem(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``chmod 000`` (simulated: root lists anything)."""
    deny_listing(monkeypatch, tree)
    assert problems(tree) == [f"{tree}:0: cannot list: Permission denied"]


def test_a_bug_in_a_check_is_reported_not_raised(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object) -> None:
        raise RuntimeError("a bug in a check")

    monkeypatch.setattr(loader._Validator, "_check_faqs", broken)
    assert problems(tree) == [f"{tree}:0: cannot check the knowledge (RuntimeError: a bug in a check)"]


def test_an_empty_file_is_accepted(tree: Path) -> None:
    write(tree, "")
    write(tree, "# only a comment\n", "zz-comment.yaml")
    load(tree)
