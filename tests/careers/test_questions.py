"""The questions people really type (tests/careers/questions.yaml): enough of them, in every
category, with held-out ones apart, and answered right at least 90 % of the time."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.answers import QUESTIONS, Result, accuracy, canonical, evaluate, load_questions, report

BAR = 0.9
CATEGORIES = {"smalltalk", "entity", "faq", "comparison", "out_of_scope", "cross_kind", "role_lookup", "topic"}


def test_the_question_set_is_large_varied_and_has_held_out_questions() -> None:
    questions = load_questions(QUESTIONS)
    assert len(questions) >= 150
    held = [q for q in questions if q.held_out]
    assert len(held) >= 30
    assert {q.category for q in questions} == CATEGORIES
    assert {q.category for q in held} == CATEGORIES
    texts = Counter(q.text.casefold() for q in questions)
    assert [t for t, n in texts.items() if n > 1] == [], "a question is listed twice"
    typed = [q.text for q in questions if q.text == q.text.lower() and not q.text.endswith("?")]
    assert len(typed) > len(questions) * 0.8, "most questions are typed the lazy way (lowercase, no ?)"


def test_comparisons_match_in_either_order() -> None:
    assert canonical("comparison:standard:fhir:standard:hl7v2") == canonical("comparison:standard:hl7v2:standard:fhir")
    assert canonical("role:ehr") == "role:ehr"


@pytest.fixture(scope="module")
def results(knowledge_dir: Path) -> list[Result]:
    return evaluate(knowledge_dir)


def test_tuning_questions_are_answered_right_at_least_90_percent(results: list[Result]) -> None:
    tuning = [r for r in results if not r.question.held_out]
    assert accuracy(tuning) >= BAR, report(results)


def test_every_answer_says_how_it_was_found(results: list[Result]) -> None:
    assert all(r.how for r in results), [r.question.text for r in results if not r.how]
    assert all(0.0 <= r.score <= 1.0 for r in results)
    small = [r for r in results if r.got.startswith("smalltalk:")]
    assert small and all(r.how == "smalltalk" and r.score == 1.0 for r in small)
    scope = [r for r in results if r.got == "out-of-scope"]
    assert scope and all(r.how == "none" and r.score == 0.0 for r in scope)
