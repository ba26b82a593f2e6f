"""Plain-words answers on the paths the question set does not reach: words found only in an entry's
text, weak matches that say so, a name made of filler inside a question, a trend cue, noise in front
of a question, and the indexes' bounds (a word in very many FAQ wordings, the per-entry word cache,
near-copies counted once)."""

from __future__ import annotations

import random
import shutil
from collections import Counter
from pathlib import Path

import pytest

from bot.careers import understand
from bot.careers.understand import TEXT_GOOD, TEXT_WEAK, fulltext, in_scope, index_of, read, stem, words
from bot.commands import Invocation
from bot.context import Context
from bot.core import Core
from bot.knowledge.kb import KnowledgeBase
from bot.messages import CLOSE_CALL_FOOTER
from bot.registry import REGISTRY
from bot.reply import CAPS, Reply
from bot.safety import ELLIPSIS
from tests.careers.test_commands import Ask


def answer_of(reply: Reply) -> str:
    assert reply.confidence is not None, reply.title
    return reply.confidence.answer


def scored(reply: Reply) -> tuple[str, float]:
    assert reply.confidence is not None, reply.title
    return reply.confidence.answer, reply.confidence.score


def plain(kb: KnowledgeBase, text: str) -> Reply:
    """The free-text answer, computed afresh (the core would reuse a memoised one)."""
    invocation = Invocation(command="", text=text)
    return understand.answer(Context(kb=kb, invocation=invocation, registry=REGISTRY, rng=random.Random(1)), text)


def tree_without_faqs(tmp: Path, knowledge_dir: Path) -> Path:
    for path in knowledge_dir.glob("*.yaml"):
        if path.name != "faq.yaml":
            shutil.copy(path, tmp / path.name)
    return tmp


# ---------------------------------------------------------------------------- reading a question


async def test_a_name_made_only_of_filler_is_no_evidence_inside_a_question(ask: Ask) -> None:
    """ "how to learn" names the learning topic when it is the whole question; inside one, its words
    are question words, so "how to learn fhir" is about FHIR (the filler name would tie with it)."""
    assert answer_of(await ask("how to learn")) == "topic:learning"
    assert answer_of(await ask("how to learn fhir")) == "standard:fhir"
    assert answer_of(await ask("how to learn dicom")) == "standard:dicom"


async def test_a_trend_word_picks_the_trend_a_name_also_means(ask: Ask) -> None:
    """ "cloud" names a skill and a trend: alone it is the skill; with "trends" or "future", the trend."""
    assert answer_of(await ask("cloud")) == "skill:cloud"
    assert answer_of(await ask("cloud trends")) == "trend:cloud"
    assert answer_of(await ask("the future of cloud")) == "trend:cloud"


async def test_noise_in_front_of_a_question_is_dropped(ask: Ask) -> None:
    assert answer_of(await ask("ok so what is fhir")) == "standard:fhir"
    assert answer_of(await ask("bot, help")) == "smalltalk:help"
    assert answer_of(await ask("please thanks")) == "smalltalk:thanks"


# ---------------------------------------------------------------------------- full text


async def test_words_only_an_entrys_text_holds_answer_it_by_full_text(ask: Ask) -> None:
    """No name in "lab results exchange", but the interoperability skill's text covers it well."""
    reply = await ask("lab results exchange")
    assert reply.confidence is not None
    assert (reply.confidence.how, reply.confidence.answer) == ("fulltext", "skill:interoperability")
    assert reply.confidence.score >= TEXT_GOOD
    assert reply.title == "Interoperability" and not reply.summary.startswith("Closest I have")
    assert reply.tone == "answer" and reply.footer == ""


async def test_a_weak_full_text_match_says_so_and_offers_the_runners_up_first(ask: Ask) -> None:
    reply = await ask("medical images storage")
    assert reply.confidence is not None
    assert (reply.confidence.how, reply.confidence.answer) == ("fulltext", "skill:image-processing")
    assert TEXT_WEAK <= reply.confidence.score < TEXT_GOOD
    assert reply.summary.startswith("Closest I have: **Medical image processing**. ")
    assert reply.tone == "notice"
    runners_up = [f.label for f in reply.follow_ups[:3]]
    assert "Medical image processing" not in runners_up
    assert reply.footer == CLOSE_CALL_FOOTER.format(others=", ".join(runners_up))
    commands = [f.command for f in reply.follow_ups]
    assert len(commands) == len(set(commands))  # a runner-up the card also links is offered once
    assert "/tip image-processing" in commands  # the card's own follow-ups stay, after them


async def test_a_question_in_scope_that_full_text_barely_matches_is_out_of_scope(ask: Ask, core: Core) -> None:
    index = index_of(core.kb)
    meaningful = read(index, "overtime night shifts").meaningful
    hits = fulltext(core.kb, index, meaningful)
    assert in_scope(index, meaningful) >= understand.IN_SCOPE and hits and hits[0][2] < TEXT_WEAK  # the path
    reply = await ask("overtime night shifts")
    assert answer_of(reply) == "out-of-scope"
    assert reply.title == "I only cover careers in healthcare software"


def closest_faq(reply: Reply, faq: str, question: str) -> None:
    """``reply`` is a weak FAQ match, said as the closest there is."""
    assert reply.confidence is not None
    assert (reply.confidence.how, reply.confidence.answer) == ("faq", f"faq:{faq}")
    assert TEXT_WEAK <= reply.confidence.score < understand.FAQ_GOOD
    assert reply.summary.startswith(f"Closest I have: **{question}**")
    assert reply.tone == "notice"


async def test_a_lone_word_of_a_faqs_question_is_its_closest_faq_said_as_such(ask: Ask) -> None:
    """ "face" is in the ethics FAQ's question ("What ethical issues will I face ...") and in no name."""
    reply = await ask("face")
    closest_faq(reply, "ethics", "What ethical issues will I face in healthcare software?")
    assert reply.footer == ""  # no runners-up to name


def test_no_words_are_in_no_scope_and_in_no_text(core: Core) -> None:
    index = index_of(core.kb)
    assert in_scope(index, []) == 0.0
    assert fulltext(core.kb, index, []) == []


# ---------------------------------------------------------------------------- /faq


async def test_a_faq_command_that_only_nearly_matches_says_closest(ask: Ask) -> None:
    closest_faq(await ask("/faq hospital job"), "job-search-where", "Where do I find healthcare software jobs?")


SMALL_FAQ = """
faq:
  - id: first-language
    question: Which programming language should I learn first?
    asked: [first programming language, what language to start with, best language for beginners]
    answer: "Any mainstream one; Python is a common start."
    advice: true
    tags: [learning]
  - id: night-school
    question: Can I study at night while I work?
    asked: [study at night, evening classes, part time study]
    answer: "Yes; many people do."
    advice: true
    tags: [learning]
"""


@pytest.fixture(scope="module")
def small_faq_core(tmp_path_factory: pytest.TempPathFactory, knowledge_dir: Path) -> Core:
    tree = tree_without_faqs(tmp_path_factory.mktemp("smallfaq"), knowledge_dir)
    (tree / "faq.yaml").write_text(SMALL_FAQ, encoding="utf-8")
    return Core(tree, rng=random.Random(3))


async def test_a_short_faq_list_is_listed_whole(small_faq_core: Core) -> None:
    reply = await small_faq_core.ask("/faq")
    (section,) = reply.sections
    assert section.heading == "2 questions"
    assert section.text.splitlines() == [
        "- Which programming language should I learn first? (`/faq first-language`)",
        "- Can I study at night while I work? (`/faq night-school`)",
    ]
    assert [f.command for f in reply.follow_ups] == ["/faq first-language", "/faq night-school"]


async def test_a_long_faq_list_says_how_many_it_leaves_out_rather_than_being_cut(core: Core) -> None:
    """76 questions do not fit a section (2,500 characters): the list stops at a whole line and says
    how many more there are (it used to be cut in the middle of a question, the pointer lost)."""
    for text in ("/faq", "/faq nothing like any question zzz"):
        (section,) = (await core.ask(text)).sections
        lines = section.text.splitlines()
        total = len(core.kb.all("faq"))
        assert section.heading == f"{total} questions"
        assert lines[-1] == f"- …and {total - len(lines) + 1} more: ask `/faq` with a few words"
        assert all(line.endswith("`)") for line in lines[:-1])  # every question shown whole, with its command
        assert len(section.text) <= CAPS["text"] and ELLIPSIS not in "\n".join(lines[:-1])


# ---------------------------------------------------------------------------- the indexes' bounds

FAQ_QUESTIONS = (
    "is there a hipaa certification",
    "do i need a computer science degree",
    "how much do healthcare software developers earn",
    "can i work remotely in healthcare software",
    "what does an interface analyst do",
)


def test_words_in_very_many_faq_wordings_only_add_weight(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    """A word in more FAQ wordings than :data:`POSTINGS_MAX` (a huge tree) no longer finds candidates;
    the rarer words do, and it adds its weight to them: the same FAQs, the same scores."""
    kb = core.kb
    index = index_of(kb)
    common = {t for t, found in index.faq_postings.items() if len(found) > 3}
    assert {"healthcare", "software", "developer"} <= common
    expected = [scored(plain(kb, q)) for q in FAQ_QUESTIONS]
    assert sum(answer.startswith("faq:") for answer, _ in expected) >= 4
    monkeypatch.setattr(understand, "POSTINGS_MAX", 3)
    assert [scored(plain(kb, q)) for q in FAQ_QUESTIONS] == expected
    # every word common: the rarest one's first wordings are still the candidates, so a FAQ answers
    only_common = "healthcare software developer job"  # without a FAQ: the job-search topic
    assert all(len(index.faq_postings[stem(w)]) > 3 for w in words(only_common))
    assert scored(plain(kb, only_common))[0].startswith("faq:")


def test_the_per_entry_word_cache_stays_bounded(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    """Full text ranks candidates by the words of each entry, kept at hand up to :data:`ENTRY_WORDS_MAX`
    entries; past that the cache starts again, and the answers are the same."""
    questions = ("lab results exchange", "medical images storage", "overtime night shifts", "pharmacy systems")
    expected = [scored(plain(core.kb, q)) for q in questions]
    monkeypatch.setattr(understand, "ENTRY_WORDS_MAX", 2)
    fresh = KnowledgeBase(core.kb.knowledge)  # its own, empty indexes
    assert [scored(plain(fresh, q)) for q in questions] == expected
    assert 0 < len(index_of(fresh).entry_words) <= 2


COPIES = """
topics:
  - id: patient-impact-again
    title: Your work reaches patients
    aliases: [impact, purpose, meaningful work, make a difference, mission driven]
    summary: "{summary}"
faq:
  - id: only-symbols
    question: "???"
    asked: ["!!!", "?!", "..."]
    answer: "Punctuation only."
    advice: true
    tags: [learning]
  - id: only-symbols-again
    question: "?!?"
    asked: ["!?", "!!", "?"]
    answer: "Punctuation again, different words."
    advice: true
    tags: [learning]
"""


@pytest.fixture(scope="module")
def copies_core(tmp_path_factory: pytest.TempPathFactory, knowledge_dir: Path, core: Core) -> Core:
    """The shipped knowledge plus an exact copy of a reason (as a topic) and two FAQs worded only in
    punctuation (the loader accepts them; every wording of the second is one the first already has)."""
    tree = tmp_path_factory.mktemp("copies")
    for path in knowledge_dir.glob("*.yaml"):
        shutil.copy(path, tree / path.name)
    summary = core.kb.entries["why"]["patient-impact"].summary.replace('"', '\\"')
    (tree / "zz-copies.yaml").write_text(COPIES.format(summary=summary), encoding="utf-8")
    return Core(tree, rng=random.Random(3))


async def test_near_copies_are_counted_once(copies_core: Core, core: Core) -> None:
    """Word weights (idf) come from distinct texts: an exact copy of an entry, and a FAQ all of whose
    wordings another FAQ already has, add nothing; the first punctuation-only FAQ is one new text."""
    base, copied = index_of(core.kb), index_of(copies_core.kb)
    new_words = Counter({stem(w): 1 for w in words("??? !!! ?! ... Punctuation only.")})
    assert copied.docs == base.docs + 1
    assert copied.df == dict(Counter(base.df) + new_words)
    assert copied.names["your work reaches patients"] == [("topic", "patient-impact-again"), ("why", "patient-impact")]
    # what users see: the punctuation FAQs are found by id only; the copy answers like the original
    assert answer_of(await copies_core.ask("???")) == "out-of-scope"
    assert answer_of(await copies_core.ask("/faq only-symbols-again")) == "faq:only-symbols-again"
    reply, original = await copies_core.ask("meaningful work"), await core.ask("meaningful work")
    assert answer_of(reply) == "topic:patient-impact-again" and answer_of(original) == "why:patient-impact"
    assert reply.summary == original.summary
