"""Answer quality: how many of the questions people really type get the right answer.

Run: ``python -m bench.answers [--knowledge DIR] [--questions FILE]``. Asks every question of
``tests/careers/questions.yaml`` through the core (the console path), compares what each reply's
confidence names with the expected answer, and prints the accuracy per category, for the tuning
questions and the held-out ones apart, then every miss. Asserts nothing (``tests/careers/
test_questions.py`` holds the bar).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.core import Core

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "careers" / "questions.yaml"
SETS = ("tuning", "held_out")


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    expected: tuple[str, ...]
    category: str
    held_out: bool


@dataclass(frozen=True, slots=True)
class Result:
    question: Question
    got: str
    how: str
    score: float
    title: str

    @property
    def ok(self) -> bool:
        return canonical(self.got) in {canonical(e) for e in self.question.expected}


def canonical(answer: str) -> str:
    """``comparison:K:A:K:B`` in either order is the same answer."""
    parts = answer.split(":")
    if parts[0] == "comparison" and len(parts) == 5:
        a, b = ":".join(parts[1:3]), ":".join(parts[3:5])
        return "comparison:" + ":".join(sorted((a, b)))
    return answer


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: list[Question] = []
    for name in SETS:
        for category, pairs in (data.get(name) or {}).items():
            for text, expected in pairs:
                alternatives = tuple(e.strip() for e in str(expected).split("|"))
                out.append(Question(str(text), alternatives, category, name == "held_out"))
    return out


async def ask_all(core: Core, questions: list[Question]) -> list[Result]:
    results = []
    for q in questions:
        reply = await core.ask(q.text)
        c = reply.confidence
        results.append(Result(q, c.answer if c else "", c.how if c else "", c.score if c else 0.0, reply.title))
    return results


def evaluate(knowledge: Path | None = None, path: Path = QUESTIONS) -> list[Result]:
    core = Core(knowledge, rng=random.Random(1), memo_size=0)
    return asyncio.run(ask_all(core, load_questions(path)))


def accuracy(results: list[Result]) -> float:
    return sum(r.ok for r in results) / len(results) if results else 0.0


def report(results: list[Result]) -> str:
    lines = [f"{'category':<14} {'tuning':>16} {'held-out':>16}"]
    by: dict[tuple[str, bool], list[Result]] = defaultdict(list)
    for r in results:
        by[(r.question.category, r.question.held_out)].append(r)
    categories = list(dict.fromkeys(r.question.category for r in results))

    def cell(rs: list[Result]) -> str:
        return f"{sum(r.ok for r in rs):>3}/{len(rs):<3} {accuracy(rs) * 100:5.1f}%" if rs else f"{'-':>14}"

    for category in categories:
        lines.append(f"{category:<14} {cell(by[(category, False)]):>16} {cell(by[(category, True)]):>16}")
    tuning = [r for r in results if not r.question.held_out]
    held = [r for r in results if r.question.held_out]
    lines.append(f"{'all':<14} {cell(tuning):>16} {cell(held):>16}")
    misses = [r for r in results if not r.ok]
    lines.append(f"\nmisses ({len(misses)}):")
    for r in misses:
        where = "held-out" if r.question.held_out else "tuning"
        lines.append(
            f"  [{where}/{r.question.category}] {r.question.text!r}: expected {' | '.join(r.question.expected)}, "
            f"got {r.got or '-'} ({r.how} {r.score:.2f}) “{r.title[:60]}”"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--knowledge", type=Path, help="Knowledge directory (default: the shipped one).")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    args = parser.parse_args()
    t0 = time.perf_counter()
    results = evaluate(args.knowledge, args.questions)
    elapsed = time.perf_counter() - t0
    print(report(results))
    print(f"\n{len(results)} questions in {elapsed:.2f} s (knowledge load included)")


if __name__ == "__main__":
    main()
