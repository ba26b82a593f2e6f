"""Each command, as a user would type it in the console."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bot.core import Core
from bot.reply import Reply

Ask = Callable[[str], Coroutine[Any, Any, Reply]]


def ref_of(reply: Reply) -> tuple[str, str] | None:
    return (reply.ref.kind, reply.ref.id) if reply.ref else None


async def test_role_ehr_answers_with_the_ehr_role(ask: Ask) -> None:
    reply = await ask("/role ehr")
    assert ref_of(reply) == ("role", "ehr")
    assert reply.tone == "answer"
    assert [s.heading for s in reply.sections][0] == "Day to day"
    assert "/path ehr" in [f.command for f in reply.follow_ups]


async def test_role_without_query_lists_every_role(ask: Ask, core: Core) -> None:
    reply = await ask("/role")
    text = reply.sections[0].text
    for role in core.kb.all("role"):
        assert f"/role {role.id}" in text


async def test_role_by_title_alias_and_typo(ask: Ask, core: Core) -> None:
    tele = core.kb.entries["role"]["telemedicine"]
    assert ref_of(await ask(f"/role {tele.title.upper()}")) == ("role", "telemedicine")
    for alias in tele.aliases:
        assert ref_of(await ask(f"/role {alias}")) == ("role", "telemedicine"), alias
    typo = await ask("/role telemedcine")
    assert ref_of(typo) == ("role", "telemedicine")


async def test_unknown_role_lists_what_exists(ask: Ask) -> None:
    reply = await ask("/role qqqzzz")
    assert reply.tone == "notice"
    assert "No role matches" in reply.title and "qqqzzz" in reply.title
    assert len(reply.follow_ups) >= 5
    assert all(f.command.startswith("/role ") for f in reply.follow_ups)


async def test_skills_overview_role_and_single_skill(ask: Ask) -> None:
    overview = await ask("/skills")
    headings = [s.heading for s in overview.sections]
    assert headings[:2] == ["Every developer", "Healthcare-specific"]
    for_role = await ask("/skills imaging")
    assert ref_of(for_role) == ("role", "imaging")
    assert for_role.title.startswith("Skills for")
    one = await ask("/skills communication")
    assert ref_of(one) == ("skill", "communication")


async def test_compliance_links_the_official_source(ask: Ask) -> None:
    hipaa = await ask("/compliance hipaa")
    assert ref_of(hipaa) == ("compliance", "hipaa")
    assert hipaa.links and hipaa.links[0].url.startswith("https://www.hhs.gov/")
    assert ref_of(await ask("/compliance hippa")) == ("compliance", "hipaa")
    gdpr = await ask("/compliance gdpr")
    assert any(f.name == "Jurisdiction" and ("EU" in f.value or "Europe" in f.value) for f in gdpr.fields)


async def test_standard_software_and_trends(ask: Ask) -> None:
    fhir = await ask("/standard fhir")
    assert ref_of(fhir) == ("standard", "fhir")
    assert fhir.links[0].url.startswith("https://hl7.org/")
    assert ref_of(await ask("/software pacs")) == ("software", "pacs")
    assert ref_of(await ask("/trends iot")) == ("trend", "iot")


async def test_why_gives_reasons(ask: Ask, core: Core) -> None:
    reply = await ask("/why")
    assert len(reply.sections) == len(core.kb.all("why")) >= 4


async def test_tip_random_by_topic_and_by_id(ask: Ask, core: Core) -> None:
    tip = await ask("/tip")
    assert tip.ref is not None and tip.ref.kind == "tip"
    assert len(tip.summary) <= 280
    fhir_tip = await ask("/tip fhir")
    assert fhir_tip.ref is not None
    assert "fhir" in core.kb.entries["tip"][fhir_tip.ref.id].tags
    first = core.kb.all("tip")[0]
    assert ref_of(await ask(f"/tip {first.id}")) == ("tip", first.id)


async def test_tip_about_something_untagged_still_gives_a_tip(ask: Ask) -> None:
    reply = await ask("/tip zzqqxx")
    assert reply.ref is not None and reply.ref.kind == "tip"
    assert "zzqqxx" in reply.footer


async def test_path_lists_the_learning_steps(ask: Ask, core: Core) -> None:
    reply = await ask("/path device")
    assert ref_of(reply) == ("role", "device")
    steps = reply.sections[0].text.splitlines()
    assert len(steps) == len(core.kb.entries["role"]["device"].learning_path) >= 4
    assert steps[0].startswith("1. ")


async def test_path_without_role_explains_usage(ask: Ask) -> None:
    reply = await ask("/path")
    assert reply.tone == "error"
    assert "/path ROLE" in reply.summary


async def test_search_and_plain_questions(ask: Ask) -> None:
    found = await ask("/search radiology images")
    assert found.ref is not None
    assert found.sections and found.sections[0].heading == "Matches"
    question = await ask("what does a telemedicine developer do?")
    assert ref_of(question) == ("role", "telemedicine")
    imaging = await ask("how do I get into medical imaging software")
    assert imaging.confidence is not None  # the imaging role, or the FAQ asking exactly this
    assert imaging.confidence.answer in ("role:imaging", "software:pacs", "faq:imaging-career")


async def test_unknown_command_is_helpful(ask: Ask) -> None:
    reply = await ask("/rolez ehr")
    assert reply.tone == "notice"
    assert "/rolez" in reply.title
    assert any(f.command == "/role" for f in reply.follow_ups)


async def test_career_overview_help_and_umbrella(ask: Ask, core: Core) -> None:
    overview = await ask("/career")
    for command in core.registry:
        assert command.usage in overview.sections[0].text
    helped = await ask("/career path")
    assert helped.title == "/path" and "`/path ROLE`" in helped.sections[0].text
    assert (await ask("/career role ehr")) == (await ask("/role ehr"))
    assert "Did you mean `/role`" in (await ask("/career rol")).summary


async def test_every_follow_up_leads_somewhere(ask: Ask) -> None:
    """Crawl every button reachable from the overview: none ends in an error."""
    seen: set[str] = set()
    queue = ["/career", "/role", "/skills", "/software", "/compliance", "/standard", "/trends", "/why"]
    while queue and len(seen) < 400:
        command = queue.pop()
        if command in seen:
            continue
        seen.add(command)
        reply = await ask(command)
        assert reply.tone != "error", (command, reply)
        assert "No " not in reply.title or command == "/career", (command, reply.title)
        queue.extend(f.command for f in reply.follow_ups if not f.command.startswith("/tip"))
    assert len(seen) > 50


async def test_pure_replies_are_reused_and_tips_are_not(core: Core) -> None:
    first = await core.ask("/role ehr", tenant="T1")
    assert await core.ask("/role ehr", tenant="T2") is first  # pure: reused across tenants
    assert core.cacheable(core.parse("what is fhir?")) and core.cacheable(core.parse("/search fhir"))
    assert not core.cacheable(core.parse("/tip")) and not core.cacheable(core.parse("/tips list"))
    assert not core.cacheable(core.parse("/career role ehr"))  # may run any command, pure or not


def test_only_commands_without_state_or_randomness_are_declared_pure(core: Core) -> None:
    pure = {c.name for c in core.registry if c.pure}
    assert pure == {"role", "skills", "software", "compliance", "standard", "trends", "why", "path", "faq", "search"}


async def test_share_command_reproduces_the_reply(core: Core) -> None:
    for text in ("/role ehr", "/skills imaging", "/search radiology images", "/path device"):
        invocation = core.parse(text)
        reply = await core.answer(invocation)
        again = core.share_command(invocation, reply)
        assert again == text
        assert await core.ask(again) == reply
    tip = await core.ask("/tip fhir")
    assert tip.ref is not None
    assert core.share_command(core.parse("/tip fhir"), tip) == f"/tip {tip.ref.id}"


async def test_changes_are_never_shareable(core: Core) -> None:
    for text in ("/tips subscribe time:09:00", "/tips list", "/career tips subscribe"):
        invocation = core.parse(text)
        assert core.share_command(invocation, await core.answer(invocation)) is None, text


def test_multi_option_commands_round_trip_through_text() -> None:
    from bot.commands import Option, parse_options
    from bot.core import _as_text

    async def handler(ctx: object, topic: str, time: str | None = None, days: str | None = None) -> Reply:
        return Reply(title="x")

    from bot.commands import Command

    cmd = Command(
        name="t",
        description="d",
        handler=handler,
        options=(
            Option(name="topic", description="d", required=True),
            Option(name="time", description="d"),
            Option(name="days", description="d"),
        ),
    )
    for options in (
        {"topic": "imaging", "days": "mon-fri"},
        {"topic": "imaging", "time": "09:00", "days": "mon-fri"},
        {"topic": "medical imaging", "time": "09:00", "days": "mon-fri"},
    ):
        text = _as_text(cmd, options)
        assert text is not None, options
        assert parse_options(cmd, text.partition(" ")[2]) == options, text
    assert _as_text(cmd, {"topic": "medical imaging", "days": "mon-fri"}) is None  # time would take "imaging"
    assert _as_text(cmd, {"topic": "a b", "days": "c d"}) is None
    assert _as_text(cmd, {"days": "every weekday", "topic": "fhir"}) is None  # time would take "every"


async def test_memo_can_be_turned_off(knowledge_dir: Path) -> None:
    core = Core(knowledge_dir, memo_size=0)
    first = await core.ask("/role ehr")
    again = await core.ask("/role ehr")
    assert again == first and again is not first


async def test_a_faq_answer_is_shared_as_its_faq_command_and_small_talk_is_not_shared(core: Core) -> None:
    invocation = core.parse("is there an official hipaa certification")
    reply = await core.answer(invocation)
    assert reply.ref is not None and reply.ref.kind == "faq"
    shared = core.share_command(invocation, reply)
    assert shared == f"/faq {reply.ref.id}"
    assert (await core.ask(shared)).title == reply.title
    for text in ("hi", "thanks", "fhir vs hl7v2", "a good pizza place in berlin"):
        plain = core.parse(text)
        assert core.share_command(plain, await core.answer(plain)) is None, text


async def test_faq_lists_answers_and_admits_a_miss(core: Core) -> None:
    listing = await core.ask("/faq")
    assert listing.tone == "answer" and str(len(core.kb.all("faq"))) in listing.sections[0].heading
    assert all(f.command.startswith("/faq ") for f in listing.follow_ups)
    found = await core.ask("/faq is hipaa certification worth getting")
    assert found.ref is not None and found.ref.kind == "faq" and found.confidence is not None
    assert found.confidence.how == "faq" and found.links and found.links[0].url.startswith("https://www.hhs.gov")
    by_id = await core.ask(f"/faq {found.ref.id}")
    assert by_id.title == found.title and by_id.confidence is not None and by_id.confidence.how == "exact"
    miss = await core.ask("/faq pizza <@U123> <!here>")
    assert miss.tone == "notice" and miss.title.startswith("No question matches")
    assert miss.confidence is not None and miss.confidence.how == "none"
    assert "<@U123>" not in miss.title  # mentions are made inert, never echoed live
