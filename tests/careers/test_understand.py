"""Plain-words answers, as a user would type them: small talk, comparisons, FAQs, named entries,
commands given an entry of another kind, and the honest "I only cover careers in healthcare software"."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core import Core
from bot.reply import Reply
from tests.careers.test_commands import Ask

CAREERBOT = Path(sys.executable).with_name("careerbot")

FAQS = """
faq:
  - id: learn-hl7-first
    question: Should I learn HL7 before anything else?
    asked:
      - is hl7 the first thing to learn
      - learn hl7 before anything else
      - hl7 first or later
    answer: "Learn it when an interface job asks for it; start with the basics of health data."
    refs: [standard:hl7v2, role:interoperability, faq:pay-question]
    advice: true
    tags: [standards]
  - id: pay-question
    question: How much does a healthcare software developer earn?
    asked:
      - what salary can i expect
      - how much money do health tech developers make
      - healthcare developer pay
    answer: "It depends on the country and the employer; look at published wage statistics."
    refs: [topic:job-search]
    source: https://www.bls.gov/ooh/computer-and-information-technology/software-developers.htm
    tags: [job-search]
"""


def answer_of(reply: Reply) -> str:
    assert reply.confidence is not None, reply.title
    return reply.confidence.answer


@pytest.fixture(scope="module")
def faq_core(tmp_path_factory: pytest.TempPathFactory, knowledge_dir: Path) -> Core:
    """The shipped knowledge with its FAQs replaced by two known ones."""
    tree = tmp_path_factory.mktemp("knowledge")
    for path in knowledge_dir.glob("*.yaml"):
        if path.name != "faq.yaml":
            shutil.copy(path, tree / path.name)
    (tree / "faq.yaml").write_text(FAQS, encoding="utf-8")
    return Core(tree, rng=random.Random(3))


@pytest.fixture(scope="module")
def plain_core(tmp_path_factory: pytest.TempPathFactory, knowledge_dir: Path) -> Core:
    """The shipped knowledge without any FAQ."""
    tree = tmp_path_factory.mktemp("nofaq")
    for path in knowledge_dir.glob("*.yaml"):
        if path.name != "faq.yaml":
            shutil.copy(path, tree / path.name)
    return Core(tree, rng=random.Random(3))


# ---------------------------------------------------------------------------- small talk


async def test_help_lists_every_declared_command(ask: Ask, core: Core) -> None:
    for text in ("help", "what can you do", "What can you do?", "who are you", "hi, what can you do"):
        reply = await ask(text)
        assert answer_of(reply) == "smalltalk:help", text
        assert reply.confidence is not None and reply.confidence.how == "smalltalk"
        overview = reply.sections[0].text
        for command in core.registry:  # derived from the command table, so it cannot drift
            assert command.usage in overview, (text, command.name)


async def test_greetings_and_thanks_are_short_and_never_a_card(ask: Ask) -> None:
    for text, kind in (("hi", "greeting"), ("Hello!", "greeting"), ("helo", "greeting"), ("thanks", "thanks")):
        reply = await ask(text)
        assert answer_of(reply) == f"smalltalk:{kind}", text
        assert reply.ref is None and not reply.sections
        assert len(reply.summary) < 300
        assert reply.follow_ups and all(f.command.startswith("/") for f in reply.follow_ups)


async def test_a_greeting_in_front_of_a_question_is_skipped(ask: Ask) -> None:
    reply = await ask("hey, what is dicom")
    assert answer_of(reply) == "standard:dicom"


# ---------------------------------------------------------------------------- entities and filler


async def test_a_named_entry_outranks_common_words(plain_core: Core) -> None:
    reply = await plain_core.ask("what is HL7 and do I need to learn it?")
    assert answer_of(reply) == "standard:hl7v2"
    assert reply.confidence is not None and reply.confidence.how == "alias"
    typo = await plain_core.ask("is fihr hard")
    assert answer_of(typo) == "standard:fhir"
    assert typo.confidence is not None and typo.confidence.how == "fuzzy"


async def test_filler_alone_is_no_evidence(plain_core: Core) -> None:
    for text in ("what do I need to learn", "is it boring", "what is it"):
        reply = await plain_core.ask(text)
        assert reply.confidence is not None
        assert reply.confidence.how in ("none", "smalltalk") or reply.confidence.score < 0.6, (text, reply.title)


async def test_what_does_a_role_do_answers_the_role(ask: Ask) -> None:
    reply = await ask("what does a telemedicine developer do?")
    assert answer_of(reply) == "role:telemedicine"
    assert reply.sections[0].heading == "Day to day"


# ---------------------------------------------------------------------------- comparisons


@pytest.mark.parametrize(
    "text",
    ["difference between FHIR and HL7v2", "fhir vs hl7", "FHIR versus HL7 v2", "compare fhir and hl7", "hl7 or fhir"],
)
async def test_comparisons_set_both_side_by_side(ask: Ask, text: str) -> None:
    reply = await ask(text)
    assert reply.confidence is not None and reply.confidence.how == "comparison"
    parts = answer_of(reply).split(":")
    assert parts[0] == "comparison" and {parts[2], parts[4]} == {"fhir", "hl7v2"}
    headings = [s.heading for s in reply.sections]
    assert headings[:3] == ["What it is", "Who uses it", "When to learn it"]
    for section in reply.sections[:3]:
        lines = section.text.splitlines()
        assert len(lines) == 2 and "FHIR" in lines[0] + lines[1] and "HL7" in lines[0] + lines[1]
    commands = [f.command for f in reply.follow_ups]
    assert "/standard fhir" in commands and "/standard hl7v2" in commands


async def test_two_names_of_one_entry_are_not_compared(ask: Ask) -> None:
    reply = await ask("emr vs ehr")
    assert reply.confidence is not None and reply.confidence.how != "comparison"
    assert "same thing" in reply.summary


async def test_or_between_things_that_are_not_entries_is_no_comparison(ask: Ask) -> None:
    reply = await ask("pizza or pasta")
    assert answer_of(reply) == "out-of-scope"


def test_a_comparison_renders_within_slack_and_discord_limits(core: Core) -> None:
    import asyncio

    from adapters.discord_bot import render as discord_render
    from adapters.slack_bot.render import problems
    from adapters.slack_bot.render import render as slack_render
    from tests.discord.limits import check_message

    for text in ("fhir vs hl7", "hipaa vs gdpr", "ehr developer vs interface engineer", "pacs vs ris"):
        reply = asyncio.run(core.ask(text))
        assert reply.confidence is not None and reply.confidence.how == "comparison", text
        pages = slack_render(reply, share=None, more=text)
        assert pages and all(problems(m) == [] for m in pages), text
        assert "What it is" in json.dumps(pages[0].blocks)
        first = discord_render.render(reply, source=text)
        for page in range(first.pages):
            rendered = discord_render.render(reply, source=text, page=page)
            components = rendered.view.to_components() if rendered.view else []
            check_message(
                {
                    "embeds": [e.to_dict() for e in rendered.embeds],
                    "components": components,
                    "allowed_mentions": {"parse": []},
                }
            )
        assert any("Who uses it" in json.dumps(e.to_dict()) for e in first.embeds)


# ---------------------------------------------------------------------------- out of scope


@pytest.mark.parametrize("text", ["weather in Berlin", "a good pizza place", "who won the game last night"])
async def test_out_of_scope_is_said_honestly(ask: Ask, core: Core, text: str) -> None:
    reply = await ask(text)
    assert answer_of(reply) == "out-of-scope"
    assert reply.title == "I only cover careers in healthcare software"
    assert reply.ref is None and reply.tone == "notice"
    assert all(c.usage in reply.sections[0].text for c in core.registry)


# ---------------------------------------------------------------------------- commands given another kind


async def test_a_command_given_an_entry_of_another_kind_points_across(ask: Ask) -> None:
    reply = await ask("/standard iso 13485")
    assert answer_of(reply) == "compliance:iso-13485"
    assert "is a regulation, not a standard" in reply.summary
    assert reply.follow_ups[0].command == "/compliance iso-13485"
    assert reply.ref is not None and reply.ref.kind == "compliance"
    fhir = await ask("/compliance fhir")
    assert answer_of(fhir) == "standard:fhir" and "is a standard, not a regulation" in fhir.summary


async def test_an_unknown_role_is_not_answered_as_if_right(ask: Ask) -> None:
    reply = await ask("/role astronaut")
    assert answer_of(reply) == "none:role"
    assert reply.tone == "notice" and reply.ref is None
    assert all(f.command.startswith("/role") for f in reply.follow_ups)
    closest = await ask("/role chief marketing officer for hospitals")
    assert answer_of(closest) == "none:role"
    assert "I have no role called" in closest.title or "No role matches" in closest.title
    assert closest.ref is None


async def test_weak_matches_say_so(ask: Ask) -> None:
    reply = await ask("/role x-ray images")
    assert reply.confidence is not None and reply.confidence.answer == "none:role"
    assert "Closest I have" in reply.summary
    assert reply.follow_ups[0].command == "/role imaging"


async def test_confident_commands_carry_their_confidence(ask: Ask) -> None:
    exact = await ask("/role ehr")
    assert exact.confidence is not None and (exact.confidence.how, exact.confidence.score) == ("exact", 1.0)
    alias = await ask("/compliance hippa")
    assert alias.confidence is not None and alias.confidence.how == "alias"
    typo = await ask("/role telemedcine")
    assert typo.confidence is not None and typo.confidence.how == "fuzzy" and typo.confidence.score < 1


# ---------------------------------------------------------------------------- FAQs


async def test_a_paraphrase_finds_its_faq_with_source_and_refs(faq_core: Core) -> None:
    reply = await faq_core.ask("what salary can I expect?")
    assert answer_of(reply) == "faq:pay-question"
    assert reply.confidence is not None and reply.confidence.how == "faq"
    assert reply.title == "How much does a healthcare software developer earn?"
    assert reply.links[0].url.startswith("https://www.bls.gov/")
    assert [f.command for f in reply.follow_ups] == ["/tip job-search"]
    loose = await faq_core.ask("how much do health tech devs get paid")
    assert answer_of(loose) == "faq:pay-question"


async def test_a_faq_refers_to_entries_and_other_faqs(faq_core: Core) -> None:
    reply = await faq_core.ask("is HL7 the first thing to learn?")
    assert answer_of(reply) == "faq:learn-hl7-first"
    assert [f.command for f in reply.follow_ups] == ["/standard hl7v2", "/role interoperability", "/faq pay-question"]
    assert reply.sections[0].heading == "Related questions"
    assert "How much does a healthcare software developer earn?" in reply.sections[0].text
    assert not reply.links  # advice only: no source to link


async def test_without_a_faq_salary_is_out_of_scope_not_a_random_skill(plain_core: Core) -> None:
    reply = await plain_core.ask("what salary can I expect?")
    assert answer_of(reply) in ("out-of-scope",) or not answer_of(reply).startswith("skill:")


# ---------------------------------------------------------------------------- topics


async def test_a_topic_card_has_tips_faqs_and_starter_projects(faq_core: Core) -> None:
    portfolio = faq_core.kb.get("topic", "portfolio")
    assert portfolio is not None
    reply = await faq_core.ask("/tip portfolio")  # a tip; the card comes from plain words
    assert reply.ref is not None
    card = await faq_core.ask("portfolio projects")
    assert answer_of(card) == "topic:portfolio"
    headings = [s.heading for s in card.sections]
    assert "Tips" in headings and "Starter projects" in headings
    tips = card.sections[headings.index("Tips")].text.splitlines()
    tagged = {t.text for t in faq_core.kb.tips_tagged("portfolio")}
    assert 1 <= len(tips) <= 5 and all(line.removeprefix("- ") in tagged for line in tips)
    assert any(f.command.startswith("/path ") for f in card.follow_ups)
    jobs = await faq_core.ask("job search")
    assert answer_of(jobs) == "topic:job-search"
    assert "How much does a healthcare software developer earn?" in " ".join(s.text for s in jobs.sections)


# ---------------------------------------------------------------------------- the command line and speed


def test_ask_json_carries_how_and_score() -> None:
    out = subprocess.run(
        [str(CAREERBOT), "ask", "--json", "fhir vs hl7"], capture_output=True, text=True, timeout=60, check=True
    )
    data = json.loads(out.stdout)
    assert data["confidence"]["how"] == "comparison" and 0 < data["confidence"]["score"] <= 1
    plain = subprocess.run(
        [str(CAREERBOT), "ask", "--json", "/why"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "confidence" not in json.loads(plain.stdout)  # not a lookup: the reply reads as before
