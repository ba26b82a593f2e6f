"""Indexes over a validated knowledge tree: exact ids, aliases, typo-tolerant and full-text lookup.

Lookup order: exact id, then aliases and titles, then fuzzy matching (rapidfuzz), then full-text
search (SQLite FTS5 with BM25 ranking and Porter stemming, in memory).
"""

from __future__ import annotations

import bisect
import math
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

from rapidfuzz import fuzz, process

from bot.knowledge.loader import Knowledge, normalize
from bot.knowledge.schema import Kind

How = Literal["id", "alias", "fuzzy", "text"]

FUZZY_CUTOFF = 80.0
FUZZY_MAX_WORDS = 4
CLOSE_MARGIN = 6.0
AUTOCOMPLETE_MAX = 25
SEARCHABLE: tuple[Kind, ...] = (
    "role",
    "software",
    "skill",
    "compliance",
    "standard",
    "trend",
    "topic",
    "why",
)

_STOPWORDS = frozenset(
    "a an and are as about at be can do does for from get how i in into is it me my of on or should "
    "the to what whats which who why with you your".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Match:
    kind: Kind
    entry: Any
    score: float


@dataclass(frozen=True, slots=True)
class Lookup:
    """The outcome of resolving a query: ``best`` (or None), how it was found, and runners-up."""

    best: Match | None
    how: How | None
    alternatives: tuple[Match, ...] = ()

    @property
    def close_call(self) -> bool:
        """True when a runner-up is nearly as good as the best, so the user should see it offered."""
        if self.best is None or not self.alternatives or self.how in ("id", "alias"):
            return False
        return self.alternatives[0].score >= self.best.score - CLOSE_MARGIN


def _body(entry: Any) -> str:
    """All free text of an entry (everything except ids and references), markup stripped."""
    parts: list[str] = []
    for name, value in entry:
        if name in ("id", "title", "aliases", "url"):
            continue
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str) and " " in v)
    return "\n".join(parts)  # the FTS tokenizer already skips markup punctuation


class KnowledgeBase:
    """Read-only, built once per load; safe to share between concurrent handlers."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.entries: dict[Kind, dict[str, Any]] = {
            kind: {i: loc.entry for i, loc in table.items()} for kind, table in knowledge.entries.items()
        }
        self._names: dict[Kind, dict[str, str]] = {}
        self._choices: dict[Kind, tuple[list[str], list[str]]] = {}
        self._by_length: dict[Kind, tuple[list[int], list[str], list[str]]] = {}
        for kind, table in self.entries.items():
            names: dict[str, str] = {}
            for entry in table.values():
                for name in (entry.id, getattr(entry, "title", ""), *getattr(entry, "aliases", ())):
                    key = normalize(name)
                    if key:
                        names.setdefault(key, entry.id)
            self._names[kind] = names
            self._choices[kind] = (list(names), list(names.values()))
            ordered = sorted(names.items(), key=lambda item: len(item[0]))
            self._by_length[kind] = ([len(n) for n, _ in ordered], [n for n, _ in ordered], [i for _, i in ordered])
        self._asked: dict[str, str] = {}
        for faq in self.entries.get("faq", {}).values():
            for wording in (faq.question, *faq.asked):
                self._asked.setdefault(normalize(wording), faq.id)
        self._tagged: dict[str, list[Any]] = {}
        for tip in self.entries.get("tip", {}).values():
            for tag in tip.tags:
                self._tagged.setdefault(tag, []).append(tip)
        self._fts = self._build_fts()

    # ------------------------------------------------------------------ plain access

    def all(self, kind: Kind) -> list[Any]:
        return list(self.entries.get(kind, {}).values())

    def get(self, kind: Kind, entry_id: str) -> Any | None:
        return self.entries.get(kind, {}).get(entry_id)

    @property
    def faqs(self) -> list[Any]:
        """Every FAQ (:class:`~bot.knowledge.schema.Faq`: ``id``, ``question``, ``asked``, ``answer``,
        ``refs``, ``source``, ``advice``, ``tags``) in file order; ``get("faq", id)`` finds one by id."""
        return self.all("faq")

    def faq_asked(self, text: str) -> Any | None:
        """The FAQ whose ``question`` or one of whose ``asked`` wordings is ``text`` once normalized (case,
        punctuation and spacing folded, as :func:`~bot.knowledge.loader.normalize`), else None. Exact only;
        looser matching is the caller's (the validator keeps every wording to one FAQ)."""
        found = self._asked.get(normalize(text))
        return None if found is None else self.entries["faq"][found]

    def faq_refs(self, faq: Any) -> list[tuple[Kind, Any]]:
        """The entries a FAQ's ``refs`` (``KIND:ID``) name, in order, as ``(kind, entry)``; a reference
        whose entry is missing is skipped."""
        out: list[tuple[Kind, Any]] = []
        for name, entry_id in faq.ref_targets():
            kind = cast(Kind, name)
            entry = self.entries.get(kind, {}).get(entry_id)
            if entry is not None:
                out.append((kind, entry))
        return out

    def tips_tagged(self, tag: str) -> list[Any]:
        """The tips tagged with ``tag`` (an id of a role, skill, regulation, standard, trend, ...)."""
        return self._tagged.get(tag, [])

    def title(self, kind: Kind, entry_id: str) -> str:
        entry = self.get(kind, entry_id)
        return str(entry.title) if entry is not None and hasattr(entry, "title") else entry_id

    # ------------------------------------------------------------------ lookup

    def lookup(self, kind: Kind, query: str) -> Lookup:
        key = normalize(query)
        table = self.entries.get(kind, {})
        if not key or not table:
            return Lookup(None, None)
        if query.strip() in table:
            return Lookup(Match(kind, table[query.strip()], 100.0), "id")
        if key in self._names[kind]:
            return Lookup(Match(kind, table[self._names[kind][key]], 100.0), "alias")
        fuzzy = self._fuzzy(kind, key, fuzz.ratio, FUZZY_CUTOFF, limit=4)
        if fuzzy:
            return Lookup(fuzzy[0], "fuzzy", tuple(fuzzy[1:]))
        found = self.search(query, kinds=(kind,), limit=4)
        if found:
            return Lookup(found[0], "text", tuple(found[1:]))
        return Lookup(None, None)

    def resolve_any(self, query: str, kinds: Iterable[Kind] = SEARCHABLE) -> Lookup:
        """Like :meth:`lookup` across several kinds: ids and aliases first (in ``kinds`` order),
        then the best fuzzy match of any kind, then full-text ranking across all of them."""
        key = normalize(query)
        kinds = tuple(k for k in kinds if k in self.entries)
        if not key:
            return Lookup(None, None)
        for kind in kinds:
            found = self._names[kind].get(key)
            if found:
                return Lookup(Match(kind, self.entries[kind][found], 100.0), "alias")
        fuzzy = sorted(
            (m for kind in kinds for m in self._fuzzy(kind, key, fuzz.ratio, FUZZY_CUTOFF, limit=3)),
            key=lambda m: -m.score,
        )
        if fuzzy:
            return Lookup(fuzzy[0], "fuzzy", tuple(fuzzy[1:4]))
        results = self.search(query, kinds=kinds, limit=6)
        if results:
            return Lookup(results[0], "text", tuple(results[1:]))
        return Lookup(None, None)

    def _fuzzy(self, kind: Kind, key: str, scorer: Any, cutoff: float, limit: int) -> list[Match]:
        if scorer is fuzz.ratio and key.count(" ") >= FUZZY_MAX_WORDS:
            return []  # typo tolerance is for names; longer text is better served by full-text search
        names, ids = self._choices[kind]
        if scorer is fuzz.ratio:
            # ratio = 2M/(a+b) >= cutoff only if the lengths are within a factor of 200/cutoff - 1.
            lengths, by_len, by_len_ids = self._by_length[kind]
            reach = 200 / cutoff - 1
            lo = bisect.bisect_left(lengths, math.ceil(len(key) / reach))
            hi = bisect.bisect_right(lengths, math.floor(len(key) * reach))
            names, ids = by_len[lo:hi], by_len_ids[lo:hi]
        hits = process.extract(key, names, scorer=scorer, score_cutoff=cutoff, limit=limit * 4)
        seen: dict[str, Match] = {}
        for _name, score, index in hits:
            entry_id = ids[index]
            if entry_id not in seen:
                seen[entry_id] = Match(kind, self.entries[kind][entry_id], float(score))
        return sorted(seen.values(), key=lambda m: -m.score)[:limit]

    def autocomplete(self, kinds: Iterable[Kind], query: str) -> list[tuple[str, str]]:
        """Up to 25 ``(label, id)`` choices of ``kinds`` for a partial, possibly misspelled query:
        prefix matches first, then fuzzy ones, best first."""
        kinds = tuple(k for k in kinds if k in self.entries)
        key = normalize(query)
        ordered: dict[str, str] = {}
        if not key:
            for kind in kinds:
                for e in self.entries[kind].values():
                    ordered.setdefault(e.id, _label(e))
            return list((label, i) for i, label in ordered.items())[:AUTOCOMPLETE_MAX]
        for kind in kinds:
            for name, entry_id in self._names[kind].items():
                if name.startswith(key):
                    ordered.setdefault(entry_id, _label(self.entries[kind][entry_id]))
        fuzzy = sorted(
            (m for kind in kinds for m in self._fuzzy(kind, key, fuzz.WRatio, 50.0, limit=AUTOCOMPLETE_MAX)),
            key=lambda m: -m.score,
        )
        for match in fuzzy:
            ordered.setdefault(match.entry.id, _label(match.entry))
        return [(label, i) for i, label in ordered.items()][:AUTOCOMPLETE_MAX]

    # ------------------------------------------------------------------ full text

    def _build_fts(self) -> sqlite3.Connection:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(kind, id UNINDEXED, title, names, body, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        rows = []
        for kind in SEARCHABLE:
            for entry in self.entries.get(kind, {}).values():
                names = " ".join((entry.id.replace("-", " "), *getattr(entry, "aliases", ())))
                rows.append((kind, entry.id, entry.title, names, _body(entry)))
        db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?)", rows)
        return db

    def search(self, text: str, kinds: Iterable[Kind] = SEARCHABLE, limit: int = 5) -> list[Match]:
        words = [w for w in _WORD.findall(text.casefold()) if w not in _STOPWORDS][:16]
        if not words:
            return []
        expr = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
        kinds = tuple(kinds)
        if not set(SEARCHABLE) <= set(kinds):  # filter inside the index: far fewer rows to rank
            expr = f"({expr}) AND kind : ({' OR '.join(kinds)})"
        rows = self._fts.execute(
            "SELECT kind, id, bm25(docs, 0, 0, 10.0, 8.0, 1.0) AS r FROM docs WHERE docs MATCH ? ORDER BY r LIMIT ?",
            (expr, limit),
        ).fetchall()
        return [Match(kind, self.entries[kind][i], -float(rank)) for kind, i, rank in rows]


def _label(entry: Any) -> str:
    return str(getattr(entry, "title", entry.id))[:100]
