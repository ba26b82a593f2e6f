"""The ``faq`` kind: its schema, every problem the validator reports for it (``FILE:LINE: field:
message`` with a suggestion), the lookups the KnowledgeBase offers, and the shipped FAQ."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.core import Core
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import load, normalize
from bot.knowledge.schema import ANSWER_MAX, FAQ_REF_KINDS, MIN_ASKED, Faq
from tests.knowledge.conftest import problems

ENTRY = """\
  - id: {id}
    question: {question}
    asked:
      - {asked0}
      - {asked1}
      - {asked2}
    answer: An answer that exists only in this test.
    refs: [{refs}]
{source}    tags: [testing]
"""


def faq_entry(
    entry_id: str,
    n: int,
    refs: str = "role:ehr",
    source: str = "    source: https://www.hhs.gov/hipaa/index.html\n",
    asked: tuple[str, str, str] | None = None,
) -> str:
    a0, a1, a2 = asked or (f"test wording {n} one", f"test wording {n} two", f"test wording {n} three")
    return ENTRY.format(
        id=entry_id, question=f"Test question number {n}?", asked0=a0, asked1=a1, asked2=a2, refs=refs, source=source
    )


def write(tree: Path, *entries: str) -> Path:
    path = tree / "zz-faq.yaml"
    path.write_text("faq:\n" + "".join(entries))
    return path


# ------------------------------------------------------------------ a valid entry


def test_a_valid_faq_loads_and_is_found_by_id_and_wording(tree: Path) -> None:
    write(tree, faq_entry("test-faq", 1, refs="role:ehr, standard:fhir, compliance:hipaa, topic:interviews"))
    kb = KnowledgeBase(load(tree))
    faq = kb.get("faq", "test-faq")
    assert isinstance(faq, Faq)
    assert faq in kb.faqs
    assert faq.advice is False and faq.source == "https://www.hhs.gov/hipaa/index.html"
    assert kb.faq_asked("TEST wording 1, two!") is faq
    assert kb.faq_asked("  test question number 1  ") is faq
    assert kb.faq_asked("test wording 1 four") is None
    assert [(kind, entry.id) for kind, entry in kb.faq_refs(faq)] == [
        ("role", "ehr"),
        ("standard", "fhir"),
        ("compliance", "hipaa"),
        ("topic", "interviews"),
    ]


def test_advice_needs_no_source(tree: Path) -> None:
    write(tree, faq_entry("test-advice", 1, source="    advice: true\n"))
    entry = load(tree).entries["faq"]["test-advice"].entry
    assert entry.advice is True and entry.source is None


# ------------------------------------------------------------------ each problem, precisely


def test_unknown_reference_names_the_closest_ids(tree: Path) -> None:
    path = write(tree, faq_entry("test-faq", 1, refs="role:ehr, role:imagin, standard:fhr"))
    found = problems(tree)
    assert found[0] == f"{path}:9: faq.test-faq.refs[1]: unknown role 'imagin'; did you mean 'imaging'?"
    assert found[1].startswith(f"{path}:9: faq.test-faq.refs[2]: unknown standard 'fhr'; did you mean 'fhir'")
    assert found[1].endswith("?") and len(found) == 2


def test_unknown_reference_with_nothing_close_lists_known_ids(tree: Path) -> None:
    path = write(tree, faq_entry("test-faq", 1, refs="compliance:qqqqqqqqqqqqqqqqqqqq"))
    (found,) = problems(tree)
    assert found.startswith(
        f"{path}:9: faq.test-faq.refs[0]: unknown compliance 'qqqqqqqqqqqqqqqqqqqq'; nothing close; known: hipaa, "
    )
    assert found.endswith(", ...")


def test_unknown_kind_gets_a_suggestion_and_the_list_of_kinds(tree: Path) -> None:
    path = write(tree, faq_entry("test-faq", 1, refs="rol:ehr, tip:tip-001"))
    kinds = ", ".join(FAQ_REF_KINDS)
    assert problems(tree) == [
        f"{path}:9: faq.test-faq.refs[0]: 'rol' is not a kind; did you mean 'role'? (kinds: {kinds})",
        f"{path}:9: faq.test-faq.refs[1]: 'tip' is not a kind a FAQ may refer to (kinds: {kinds})",
    ]


def test_a_reference_without_a_kind_is_explained(tree: Path) -> None:
    path = write(tree, faq_entry("test-faq", 1, refs="ehr"))
    assert problems(tree) == [
        f"{path}:9: faq.test-faq.refs[0]: 'ehr' is not a reference; write KIND:ID, e.g. 'role:ehr' "
        f"(kinds: {', '.join(FAQ_REF_KINDS)})"
    ]


def test_faq_refs_may_name_other_faqs_but_not_themselves(tree: Path) -> None:
    path = write(tree, faq_entry("test-one", 1, refs="faq:test-two"), faq_entry("test-two", 2, refs="faq:test-two"))
    assert problems(tree) == [f"{path}:19: faq.test-two.refs[0]: a FAQ cannot refer to itself"]


def test_duplicate_wording_across_entries_points_at_the_first(tree: Path) -> None:
    path = write(
        tree,
        faq_entry("test-one", 1),
        faq_entry("test-two", 2, asked=("Test wording 1 -- ONE?", "test question number 1", "fresh wording")),
    )
    assert problems(tree) == [
        f"{path}:15: faq.test-two.asked[0]: 'Test wording 1 -- ONE?' is already asked in faq 'test-one' "
        "(at zz-faq.yaml:2); reword it or keep it in one entry",
        f"{path}:16: faq.test-two.asked[1]: 'test question number 1' is already asked in faq 'test-one' "
        "(at zz-faq.yaml:2); reword it or keep it in one entry",
    ]


def test_duplicate_wording_against_the_shipped_faq(tree: Path, knowledge_dir: Path) -> None:
    shipped = load(knowledge_dir).entries["faq"]
    first = next(iter(shipped.values()))
    path = write(tree, faq_entry("test-faq", 1, asked=(first.entry.asked[0].upper(), "fresh one", "fresh two")))
    where = f"{first.path.name}:{_entry_line(first.path, first.entry.id)}"  # the copy has the same lines
    assert problems(tree) == [
        f"{path}:5: faq.test-faq.asked[0]: {first.entry.asked[0].upper()!r} is already asked in faq "
        f"{first.entry.id!r} (at {where}); reword it or keep it in one entry"
    ]


def test_repeating_a_wording_inside_one_entry_is_harmless(tree: Path) -> None:
    write(tree, faq_entry("test-faq", 1, asked=("Test question number 1", "same", "SAME!")))
    assert "test-faq" in load(tree).entries["faq"]


def test_missing_source_is_required_unless_advice(tree: Path) -> None:
    path = write(tree, faq_entry("test-faq", 1, source=""), faq_entry("test-ok", 2, source="    advice: false\n"))
    assert problems(tree) == [
        f"{path}:2: faq.test-faq.source: required unless 'advice: true': link the official page the answer's "
        "facts come from, or mark an answer that gives advice only with 'advice: true'",
        f"{path}:11: faq.test-ok.source: required unless 'advice: true': link the official page the answer's "
        "facts come from, or mark an answer that gives advice only with 'advice: true'",
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://www.hhs.gov/hipaa/",
            "'http://www.hhs.gov/hipaa/' is not a valid URL; use https: 'https://www.hhs.gov/hipaa/'",
        ),
        ("www.bls.gov/ooh/", "'www.bls.gov/ooh/' is not a valid URL; write it in full: 'https://www.bls.gov/ooh/'"),
        (
            "https://hhs",
            "'https://hhs' is not a valid URL; write a full https:// address, e.g. 'https://www.hhs.gov/hipaa/'",
        ),
        (
            "https://www.hhs.gov/a page",
            "'https://www.hhs.gov/a page' is not a valid URL; write a full https:// address, "
            "e.g. 'https://www.hhs.gov/hipaa/'",
        ),
    ],
)
def test_bad_url_is_reported_with_a_fix(tree: Path, url: str, message: str) -> None:
    path = write(tree, faq_entry("test-faq", 1, source=f"    source: '{url}'\n"))
    assert problems(tree) == [f"{path}:10: faq.test-faq.source: {message}"]


def test_schema_limits_are_reported(tree: Path) -> None:
    long_answer = "x" * (ANSWER_MAX + 1)
    path = tree / "zz-faq.yaml"
    path.write_text(
        "faq:\n"
        "  - id: test-faq\n"
        "    question: Too few wordings?\n"
        "    asked: [only one, only two]\n"
        f"    answer: {long_answer}\n"
        "    advice: true\n"
        "    tags: [testing]\n"
        "    sources: [https://www.hhs.gov/]\n"
    )
    assert problems(tree) == [
        f"{path}:4: faq.test-faq.asked: List should have at least {MIN_ASKED} items after validation, not 2",
        f"{path}:5: faq.test-faq.answer: text is {ANSWER_MAX + 1} characters; the limit is {ANSWER_MAX}",
        f"{path}:8: faq.test-faq.sources: unknown field 'sources'; did you mean 'source'?",
    ]


def test_every_problem_is_reported_at_once(tree: Path) -> None:
    path = write(
        tree,
        faq_entry("test-one", 1, refs="role:nope", source=""),
        faq_entry("test-two", 2, asked=("test wording 1 one", "b", "c")),
        faq_entry("test-three", 3, source="    source: http://x.org/\n"),
    )
    found = problems(tree)
    assert [p.split(": ", 2)[:2] for p in found] == [
        [f"{path}:2", "faq.test-one.source"],
        [f"{path}:9", "faq.test-one.refs[0]"],
        [f"{path}:14", "faq.test-two.asked[0]"],
        [f"{path}:29", "faq.test-three.source"],
    ]


def test_an_entry_that_fails_the_schema_is_not_checked_further(tree: Path) -> None:
    path = write(
        tree,
        faq_entry("test-one", 1),
        faq_entry("test-two", 2, asked=("test wording 1 one", "b", "c"), source="    source: http://x.org/\n"),
    )
    assert problems(tree) == [
        f"{path}:20: faq.test-two.source: 'http://x.org/' is not a valid URL; use https: 'https://x.org/'"
    ]


def test_no_follow_on_reference_problems_when_a_file_is_unreadable(tree: Path) -> None:
    write(tree, faq_entry("test-faq", 1, refs="role:nope"))
    (tree / "broken.yaml").write_text("tips: [unclosed\n")
    found = problems(tree)
    assert len(found) == 1 and "YAML syntax error" in found[0]


# ------------------------------------------------------------------ the shipped FAQ


def test_shipped_faq_validates_and_is_substantial(knowledge_dir: Path) -> None:
    faqs = load(knowledge_dir).of("faq")
    assert len(faqs) >= 60
    for faq in faqs:
        assert len(faq.asked) >= MIN_ASKED, faq.id
        assert faq.source is not None or faq.advice, faq.id
        assert faq.refs, faq.id  # every answer offers somewhere to go next


def test_shipped_wordings_find_their_own_faq(core: Core) -> None:
    kb = core.kb
    for faq in kb.faqs:
        for wording in (faq.question, *faq.asked):
            assert kb.faq_asked(wording) is faq, (faq.id, wording)
        assert len(kb.faq_refs(faq)) == len(faq.refs), faq.id


def test_shipped_facts_that_must_not_drift(core: Core) -> None:
    """The answers readers most often act on say what the official sources say."""
    kb = core.kb
    hipaa = kb.faq_asked("is there a hipaa certification")
    assert hipaa is not None and "no official" in hipaa.answer.casefold() and "hhs.gov" in (hipaa.source or "")
    epic = kb.faq_asked("how do i get epic certified")
    assert epic is not None and "sponsor" in epic.answer.casefold()
    pay = kb.faq_asked("how much do healthcare software developers make")
    assert pay is not None and pay.source == (
        "https://www.bls.gov/ooh/computer-and-information-technology/software-developers.htm"
    )
    assert "$133,080" in pay.answer and "May 2024" in pay.answer
    for faq in kb.faqs:  # a dollar figure only where the source is the one that publishes it
        if "$" in faq.answer:
            assert faq.source is not None and "bls.gov" in faq.source, faq.id


def test_shipped_answers_use_only_our_markup(core: Core) -> None:
    for faq in core.kb.faqs:
        for url in re.findall(r"\]\(([^)]*)\)", faq.answer):
            assert url.startswith("https://"), (faq.id, url)
        assert normalize(faq.question), faq.id


def _entry_line(path: Path, entry_id: str) -> int:
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if text.strip() == f"- id: {entry_id}":
            return number
    raise AssertionError(entry_id)
