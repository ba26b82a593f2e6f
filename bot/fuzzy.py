"""Did-you-mean: the closest of a few known words to one typed wrong (a command, an id, a time zone)."""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import fuzz, process

SUGGEST_MAX = 100
"""Longest word :func:`suggest` compares (fuzzy matching a huge key would take seconds)."""


def suggest(word: str, options: Iterable[str], cutoff: float = 60) -> str | None:
    """The option closest to ``word`` (rapidfuzz's WRatio, at least ``cutoff``), or None."""
    if len(word) > SUGGEST_MAX:
        return None
    match = process.extractOne(word, list(options), scorer=fuzz.WRatio, score_cutoff=cutoff)
    return match[0] if match else None
