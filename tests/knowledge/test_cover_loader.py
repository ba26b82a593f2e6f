"""The loader's and the YAML reader's remaining branches, each with what a maintainer would see: the
``FILE:LINE`` problem, the limit that stopped the check, the line a problem points at, and the
lookups the KnowledgeBase still answers over a tree built by hand.

Files that cannot be read the ordinary way come from ``/proc``: a "regular file" whose ``stat`` says
0 bytes but which reads more (a file that grows while it is read), and one whose read fails with
``EIO``.
"""

from __future__ import annotations

import gc
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.errors import KnowledgeError
from bot.knowledge import loader
from bot.knowledge.kb import KnowledgeBase, Lookup, Match
from bot.knowledge.loader import Knowledge, Located, fingerprint, knowledge_files, load
from bot.knowledge.schema import KINDS, MIN_TIPS, Topic, as_kinds
from bot.knowledge.yamlread import DEFAULT_LIMITS, Doc, Limits, Unreadable, compose, read_limited
from tests.knowledge.conftest import problems

linux_proc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's /proc")


def failure(directory: Path, limits: Limits = DEFAULT_LIMITS) -> KnowledgeError:
    with pytest.raises(KnowledgeError, match=re.escape(str(directory))) as caught:
        load(directory, limits)
    return caught.value


# ------------------------------------------------------------------ where the knowledge is


def test_careerbot_knowledge_names_the_directory_to_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREERBOT_KNOWLEDGE", str(tmp_path))
    assert loader.default_knowledge_dir() == tmp_path
    (tmp_path / "zz.yaml").mkdir()
    with pytest.raises(KnowledgeError, match="is a directory") as caught:
        load()  # no directory given: the one the variable names
    assert [str(p) for p in caught.value.problems] == [f"{tmp_path / 'zz.yaml'}:1: is a directory, not a file"]


def test_an_empty_careerbot_knowledge_means_the_shipped_tree(
    monkeypatch: pytest.MonkeyPatch, knowledge_dir: Path
) -> None:
    monkeypatch.setenv("CAREERBOT_KNOWLEDGE", "")
    assert loader.default_knowledge_dir() == knowledge_dir.resolve()


# ------------------------------------------------------------------ the limits


def test_more_yaml_files_than_the_limit_is_one_problem_and_listing_stops(tree: Path) -> None:
    limits = Limits(files=3)
    found = failure(tree, limits)
    assert [str(p) for p in found.problems] == [f"{tree}:0: more than 3 .yaml files; the limit is 3"]
    # listing stops after limit + 1 names: a directory of a million files costs no more
    assert len(knowledge_files(tree, 3)) == 4
    assert len(fingerprint(tree, limits)) == 4
    assert len(knowledge_files(tree)) == len(list(tree.glob("*.yaml")))


def test_the_problem_limit_stops_at_a_second_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").mkdir()
    (tmp_path / "b.yaml").mkdir()
    found = failure(tmp_path, Limits(problems=1))
    assert [str(p) for p in found.problems] == [f"{tmp_path / 'a.yaml'}:1: is a directory, not a file"]
    assert found.complete is False
    assert found.report().endswith("... and 0+ more problems (checking stopped there)")


def test_the_problem_limit_reached_inside_a_file_stops_reading_it(tmp_path: Path) -> None:
    """The limit is reached by a problem the YAML reader reports (a duplicate key) while a file is read."""
    (tmp_path / "a.yaml").mkdir()
    (tmp_path / "b.yaml").write_text("tips:\n  - id: tip-zz\n    id: tip-yy\n")
    found = failure(tmp_path, Limits(problems=1))
    assert [str(p) for p in found.problems] == [f"{tmp_path / 'a.yaml'}:1: is a directory, not a file"]
    assert found.complete is False


def test_a_file_that_cannot_be_read_for_an_unexpected_reason_is_still_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MemoryError (a box short of memory) while one file is read: that file is one problem, and the
    next file is still checked."""
    real = read_limited

    def short_of_memory(path: Path, limit: int) -> bytes:
        if path.name == "a.yaml":
            raise MemoryError("out of memory")
        return real(path, limit)

    monkeypatch.setattr(loader, "read_limited", short_of_memory)
    (tmp_path / "a.yaml").write_text("tips: []\n")
    (tmp_path / "b.yaml").write_text("- x\n")
    assert [str(p) for p in failure(tmp_path).problems] == [
        f"{tmp_path / 'a.yaml'}:1: cannot read (MemoryError: out of memory)",
        f"{tmp_path / 'b.yaml'}:1: top level must be a mapping of sections",
    ]


def test_too_few_tips_points_at_the_tips_section(tree: Path) -> None:
    tips = tree / "tips.yaml"
    text = tips.read_text()
    kept = text[: text.index("  - id: tip-004")]  # the comment, "tips:" and the first three entries
    tips.write_text(kept)
    line = kept.splitlines().index("tips:") + 2  # where the section's list starts
    assert problems(tree) == [f"{tips}:{line}: tips: 3 tips; at least {MIN_TIPS} are required"]


def test_no_tips_at_all_points_at_the_directory(tree: Path) -> None:
    (tree / "tips.yaml").unlink()
    assert problems(tree) == [f"{tree}:0: tips: 0 tips; at least {MIN_TIPS} are required"]


def test_a_reference_to_a_kind_with_no_entries_says_there_are_none(tree: Path) -> None:
    (tree / "why.yaml").unlink()
    found = problems(tree)
    assert found, "the shipped FAQ refers to reasons"
    assert all(
        re.fullmatch(r".*faq\.yaml:\d+: faq\.[a-z-]+\.refs\[\d\]: unknown why '[a-z-]+'; there are none", p)
        for p in found
    )
    assert any("unknown why 'transferable-skills'; there are none" in p for p in found)


def test_a_load_leaves_a_disabled_garbage_collector_disabled(tmp_path: Path) -> None:
    (tmp_path / "zz.yaml").write_text("- x\n")
    gc.disable()
    try:
        failure(tmp_path)
        assert not gc.isenabled()
    finally:
        gc.enable()
    failure(tmp_path)
    assert gc.isenabled()


def test_a_name_that_is_not_a_kind_is_refused() -> None:
    assert as_kinds(("role", "tip")) == ("role", "tip")
    assert as_kinds(KINDS) == KINDS
    with pytest.raises(ValueError, match=r"^not a kind of knowledge: widget, roles$"):
        as_kinds(("role", "widget", "roles"))


# ------------------------------------------------------------------ files that misbehave while read


@linux_proc
def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path: Path) -> None:
    """``/proc/self/status`` is a regular file whose ``stat`` says 0 bytes: only the read finds it big."""
    status = Path("/proc/self/status")
    with pytest.raises(Unreadable, match=r"^file is over 16 bytes, the limit$"):
        read_limited(status, 16)
    assert read_limited(status, 1 << 20).startswith(b"Name:")
    (tmp_path / "zz.yaml").symlink_to(status)
    assert [str(p) for p in failure(tmp_path, Limits(file_bytes=64)).problems] == [
        f"{tmp_path / 'zz.yaml'}:1: file is over 64 bytes, the limit"
    ]


@linux_proc
def test_a_file_whose_read_fails_is_one_problem(tmp_path: Path) -> None:
    """Reading ``/proc/self/mem`` at offset 0 fails with EIO after it opened."""
    (tmp_path / "zz.yaml").symlink_to("/proc/self/mem")
    assert [str(p) for p in failure(tmp_path).problems] == [
        f"{tmp_path / 'zz.yaml'}:1: cannot read: Input/output error"
    ]


# ------------------------------------------------------------------ the composer


def composed(text: str, limits: Limits = DEFAULT_LIMITS, budget: int = 10**6) -> tuple[Any, Doc, list[str]]:
    reported: list[str] = []

    def report(line: int, where: tuple[str | int, ...], message: str) -> None:
        reported.append(f"{line}: {where}: {message}")

    value, lines, _nodes = compose(text.encode(), limits, budget, report)
    return value, Doc(Path("x.yaml"), value, lines), reported


def test_an_aliased_text_key_is_a_key() -> None:
    value, doc, reported = composed("a: &k name\nb:\n  *k : 1\n")
    assert value == {"a": "name", "b": {"name": 1}}
    assert reported == []
    assert doc.line(("b", "name")) == 3


def test_a_collection_under_a_key_that_is_not_text_is_dropped() -> None:
    value, doc, reported = composed("1: [a, b]\nc: 2\n2: &x {d: 3}\ne: *x\n")
    assert value == {"c": 2, "e": {"d": 3}}
    assert reported == ["1: ('1',): key 1 is not text", "3: ('2',): key 2 is not text"]
    assert doc.line(("c",)) == 2


@pytest.mark.parametrize(
    ("text", "line"),
    [("- a\n- b\n- c\n", 3), ("- [a]\n- [b]\n", 2)],
    ids=["a-scalar-crosses", "a-collection-crosses"],
)
def test_the_node_limit_stops_at_the_node_that_crosses_it(text: str, line: int) -> None:
    with pytest.raises(Unreadable, match=r"^more than 3 YAML nodes in one file") as caught:
        composed(text, Limits(nodes=3))
    assert caught.value.line == line


def test_the_tree_budget_names_the_whole_tree() -> None:
    with pytest.raises(Unreadable, match=r"^the knowledge files hold more than 1,500,000 YAML nodes together$"):
        composed("- a\n- b\n- c\n", budget=2)


def test_a_line_falls_back_to_the_deepest_value_that_exists() -> None:
    _value, doc, _ = composed("tips:\n  - id: tip-zz\n    text: T.\nroles:\n  ehr: x\n")
    assert doc.line(("tips", 0, "text")) == 3
    assert doc.line(("tips", 0, "text", 0, "deeper")) == 3  # past a scalar: the scalar's line
    assert doc.line(("tips", 5)) == 2  # no such index: the list's line
    assert doc.line(("tips", "id")) == 2  # a name in a list: the list's line
    assert doc.line(("roles", 0)) == 5  # an index in a mapping: the mapping's line
    assert doc.line(("nothing",)) == 1
    assert Doc(Path("x.yaml"), None, None, failed=True).line(("tips", 0)) == 1  # a file not read


# ------------------------------------------------------------------ lookups


def test_a_fuzzy_guess_is_a_close_call_only_when_the_runner_up_is_close(core: Any) -> None:
    kb: KnowledgeBase = core.kb
    close = kb.lookup("role", "ehr developr")
    assert close.how == "fuzzy" and close.best is not None and close.best.entry.id == "ehr"
    assert close.alternatives and close.close_call
    clear = kb.lookup("role", "Talemedicine Software Developer")
    assert clear.how == "fuzzy" and clear.best is not None and clear.best.entry.id == "telemedicine"
    assert clear.alternatives and not clear.close_call
    best = Match("role", clear.best.entry, 90.0)
    assert Lookup(best, "text", (Match("role", clear.best.entry, 84.0),)).close_call
    assert not Lookup(best, "text", (Match("role", clear.best.entry, 83.9),)).close_call


def test_resolve_any_tolerates_a_typo_across_kinds(core: Any) -> None:
    found = core.kb.resolve_any("snomd ct")
    assert found.how == "fuzzy" and found.best is not None
    assert (found.best.kind, found.best.entry.id) == ("standard", "snomed-ct")


def test_faq_refs_skip_an_entry_missing_from_a_tree_built_by_hand(core: Any) -> None:
    shipped: Knowledge = core.kb.knowledge
    knowledge = Knowledge(shipped.directory, {kind: dict(table) for kind, table in shipped.entries.items()})
    faq = next(loc.entry for loc in knowledge.entries["faq"].values() if len(loc.entry.ref_targets()) >= 2)
    (gone_kind, gone_id), *rest = faq.ref_targets()
    del knowledge.entries[gone_kind][gone_id]
    kb = KnowledgeBase(knowledge)
    assert [(kind, entry.id) for kind, entry in kb.faq_refs(faq)] == [
        (kind, entry_id) for kind, entry_id in rest if (kind, entry_id) != (gone_kind, gone_id)
    ]
    assert len(core.kb.faq_refs(faq)) == len(rest) + 1  # the shipped tree is untouched


class Ranked(Topic):
    """A topic with a field that is neither text nor a list (a future schema's number)."""

    rank: int


def test_full_text_indexes_the_text_of_an_entry_and_skips_its_numbers(tmp_path: Path) -> None:
    topic = Ranked(id="on-call", title="On call", summary="Rotas and pagers at night.", rank=42)
    knowledge = Knowledge(tmp_path, {"topic": {"on-call": Located(topic, tmp_path / "t.yaml", 0, "topics")}})
    kb = KnowledgeBase(knowledge)
    assert [m.entry.id for m in kb.search("pagers")] == ["on-call"]
    assert kb.search("42") == []
