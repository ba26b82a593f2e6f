"""Lookup order (id, alias, typo, full text), close calls and autocomplete."""

from __future__ import annotations

from bot.core import Core
from bot.knowledge.kb import KnowledgeBase


def kb_of(core: Core) -> KnowledgeBase:
    return core.kb


def test_lookup_order(core: Core) -> None:
    kb = kb_of(core)
    exact = kb.lookup("compliance", "hipaa")
    assert (exact.how, exact.best and exact.best.entry.id) == ("id", "hipaa")
    alias = kb.lookup("compliance", "Health Insurance Portability and Accountability Act")
    assert (alias.how, alias.best and alias.best.entry.id) == ("alias", "hipaa")
    typo = kb.lookup("standard", "snomd ct")
    assert (typo.how, typo.best and typo.best.entry.id) == ("fuzzy", "snomed-ct")
    text = kb.lookup("role", "pacemakers and infusion pumps")
    assert text.how == "text" and text.best is not None and text.best.entry.id == "device"
    assert kb.lookup("role", "zzzqqq").best is None
    assert kb.lookup("role", "   ").best is None


def test_separators_and_case_do_not_matter(core: Core) -> None:
    kb = kb_of(core)
    for query in ("SNOMED-CT", "snomed ct", "Snomed_CT"):
        found = kb.lookup("standard", query)
        assert found.best is not None and found.best.entry.id == "snomed-ct", query


def test_full_text_guesses_offer_runners_up(core: Core) -> None:
    found = kb_of(core).resolve_any("how do hospitals exchange lab results")
    assert found.how == "text" and found.best is not None
    assert len(found.alternatives) >= 2


def test_autocomplete_prefix_typo_and_empty(core: Core) -> None:
    kb = kb_of(core)
    assert kb.autocomplete(("role",), "tele")[0][1] == "telemedicine"
    assert "imaging" in [value for _, value in kb.autocomplete(("role",), "imgaing")[:5]]
    everything = kb.autocomplete(("role",), "")
    assert len(everything) == len(kb.all("role"))
    assert len(kb.autocomplete(("skill",), "")) == 25  # capped for Discord and Slack


def test_core_autocomplete_follows_the_declarations(core: Core) -> None:
    assert core.autocomplete("role", "query", "pac") == core.kb.autocomplete(("role",), "pac")
    tip_topics = [value for _, value in core.autocomplete("tip", "topic", "interv")]
    assert "interviews" in tip_topics
    assert core.autocomplete("search", "text", "fhir") == []  # free text: no entity to suggest
    assert core.autocomplete("nope", "query", "x") == []
