"""Cards for entries that leave things out (software without examples or standards, a trend naming no
roles or skills, a topic nobody has written tips for), lists too long to show whole, a close typo's
runner-up, and comparisons of trends, skills and entries no role lists."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from bot.core import Core
from bot.messages import CLOSE_CALL_FOOTER
from bot.reply import Reply
from tests.careers.test_commands import Ask

TRENDS_ADDED = 33  # with the 8 shipped: one more than a list shows

EXTRA = """
software:
  - id: fax-gateway
    title: Fax Gateways
    summary: "Servers that still turn referrals and results into faxes for practices without an interface."
    used_by: [Clinic front desks]
    capabilities:
      - "Receiving faxed referrals and filing them to the right chart."
      - "Sending results to practices that have nothing else."
    roles: [ehr]
trends:
  - id: quantum
    title: Quantum Computing
    summary: "Early research into molecular simulation and optimisation; no clinical product yet."
    impact:
      - "Drug discovery groups run small experiments on cloud quantum hardware."
      - "Cryptographers plan for algorithms that resist quantum attacks."
{trends}
topics:
  - id: night-shifts
    title: Night shifts
    summary: "What on-call and overnight support look like for people who run hospital systems."
"""

TREND = """  - id: watch-{n:02d}
    title: Watch {n:02d}
    summary: "A trend to watch, number {n}."
    impact: ["It may change things.", "Or it may not."]
"""


def copy_tree(source: Path, target: Path) -> Path:
    for path in source.glob("*.yaml"):
        shutil.copy(path, target / path.name)
    return target


@pytest.fixture(scope="module")
def extra_core(tmp_path_factory: pytest.TempPathFactory, knowledge_dir: Path) -> Core:
    tree = copy_tree(knowledge_dir, tmp_path_factory.mktemp("extra"))
    trends = "".join(TREND.format(n=n) for n in range(1, TRENDS_ADDED))
    (tree / "zz-extra.yaml").write_text(EXTRA.format(trends=trends), encoding="utf-8")
    return Core(tree, rng=random.Random(3))


def answer_of(reply: Reply) -> str:
    assert reply.confidence is not None, reply.title
    return reply.confidence.answer


def section(reply: Reply, heading: str) -> str:
    return next(s.text for s in reply.sections if s.heading == heading)


# ---------------------------------------------------------------------------- cards that leave things out


async def test_a_software_card_shows_only_the_fields_it_has(extra_core: Core) -> None:
    bare = await extra_core.ask("/software fax-gateway")
    assert answer_of(bare) == "software:fax-gateway"
    assert [(f.name, f.value) for f in bare.fields] == [("Used by", "Clinic front desks")]
    assert [f.command for f in bare.follow_ups] == ["/role ehr"]
    full = await extra_core.ask("/software ehr")
    assert [f.name for f in full.fields] == ["Used by", "Examples", "Standards", "Regulations"]


async def test_a_trend_naming_no_roles_or_skills_has_no_empty_fields(extra_core: Core) -> None:
    reply = await extra_core.ask("/trends quantum")
    assert answer_of(reply) == "trend:quantum"
    assert reply.fields == ()
    assert [f.command for f in reply.follow_ups] == ["/tip quantum", "/trends"]
    assert section(reply, "What it changes").startswith("- Drug discovery groups")


async def test_a_topic_nobody_wrote_tips_or_questions_for_is_its_summary_alone(extra_core: Core) -> None:
    reply = await extra_core.ask("night shifts")
    assert answer_of(reply) == "topic:night-shifts"
    assert reply.sections == ()
    assert reply.summary.startswith("What on-call and overnight support look like")
    assert [f.command for f in reply.follow_ups] == ["/tip night-shifts"]


# ---------------------------------------------------------------------------- lists


async def test_a_list_longer_than_forty_points_to_search_for_the_rest(extra_core: Core) -> None:
    reply = await extra_core.ask("/trends")
    total = 8 + TRENDS_ADDED
    (listing,) = reply.sections
    assert listing.heading == f"{total} to explore"
    lines = listing.text.splitlines()
    assert len(lines) == 41
    assert lines[-1] == "- …and 1 more: try `/search` with a word or two"
    assert lines[-2] == "- **Watch 31** (`/trends watch-31`)"  # whole lines, the last one left out
    assert len(reply.follow_ups) == 10


async def test_skills_show_no_heading_for_a_kind_of_skill_the_knowledge_lacks(
    tmp_path: Path, knowledge_dir: Path, ask: Ask
) -> None:
    tree = copy_tree(knowledge_dir, tmp_path)
    skills = tree / "skills.yaml"
    skills.write_text(skills.read_text().replace("category: technical", "category: general"), encoding="utf-8")
    reply = await Core(tree).ask("/skills")
    assert [s.heading for s in reply.sections] == ["Every developer", "Healthcare-specific"]
    shipped = await ask("/skills")
    assert [s.heading for s in shipped.sections] == ["Every developer", "Healthcare-specific", "Technical"]
    assert section(reply, "Every developer").count("\n") > section(shipped, "Every developer").count("\n")


# ---------------------------------------------------------------------------- a close call


@pytest.mark.parametrize(
    ("text", "meant", "runners_up"),
    [
        ("/software clims", "software:claims", ["/software lis"]),
        ("/compliance cfr part 1", "compliance:21-cfr-part-11", ["/compliance 42-cfr-part-2", "/compliance ftc-hbnr"]),
    ],
)
async def test_a_typo_close_to_two_names_offers_the_other_first(
    ask: Ask, text: str, meant: str, runners_up: list[str]
) -> None:
    reply = await ask(text)
    assert reply.confidence is not None
    assert (reply.confidence.how, reply.confidence.answer) == ("fuzzy", meant)
    assert [f.command for f in reply.follow_ups[: len(runners_up)]] == runners_up
    labels = [f.label for f in reply.follow_ups[: len(runners_up)]]
    assert reply.footer == CLOSE_CALL_FOOTER.format(others=", ".join(labels))
    commands = [f.command for f in reply.follow_ups]
    assert len(commands) == len(set(commands))


async def test_an_exact_name_is_no_close_call(ask: Ask) -> None:
    reply = await ask("/software claims")
    assert reply.footer == "" and reply.follow_ups[0].command != "/software lis"


# ---------------------------------------------------------------------------- comparisons


async def test_two_trends_compare_on_the_roles_they_touch_and_the_skills_to_learn(ask: Ask, core: Core) -> None:
    reply = await ask("ai vs iot")
    assert answer_of(reply) == "comparison:trend:ai-ml:trend:iot"
    ai, iot = core.kb.entries["trend"]["ai-ml"], core.kb.entries["trend"]["iot"]
    assert ai.roles and iot.roles and ai.skills and iot.skills

    def titles(kind: str, ids: list[str]) -> str:
        return ", ".join(core.kb.title(kind, i) for i in ids)  # type: ignore[arg-type]

    who, when = section(reply, "Who uses it").splitlines(), section(reply, "When to learn it").splitlines()
    assert who[0] == f"- **Artificial Intelligence and Machine Learning**: {titles('role', ai.roles[:5])}"
    assert when[0] == f"- **Artificial Intelligence and Machine Learning**: Learn {titles('skill', ai.skills[:4])}"
    assert when[1].endswith(f": Learn {titles('skill', iot.skills[:4])}")


async def test_two_skills_compare_on_how_to_start_learning_them(ask: Ask, core: Core) -> None:
    reply = await ask("programming vs communication")
    assert answer_of(reply) == "comparison:skill:programming:skill:communication"
    programming, communication = core.kb.entries["skill"]["programming"], core.kb.entries["skill"]["communication"]
    assert section(reply, "When to learn it").splitlines() == [
        f"- **Programming languages**: {programming.how_to_learn[0]}",
        f"- **Communication**: {communication.how_to_learn[0]}",
    ]


async def test_entries_no_role_lists_compare_without_inventing_who_needs_them(extra_core: Core) -> None:
    reply = await extra_core.ask("quantum computing vs fax gateways")
    assert answer_of(reply) == "comparison:trend:quantum:software:fax-gateway"
    assert reply.title == "Quantum Computing vs Fax Gateways"
    assert section(reply, "Who uses it").splitlines() == [
        "- **Quantum Computing**: Anyone in healthcare software",
        "- **Fax Gateways**: Clinic front desks",
    ]
    assert section(reply, "When to learn it").splitlines() == [
        "- **Quantum Computing**: When your work touches it",
        "- **Fax Gateways**: When your work touches it",
    ]
