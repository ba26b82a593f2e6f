"""Autocomplete on entity options: what Discord shows under the box while a user types."""

from __future__ import annotations

import pytest

from bot.core import Core
from bot.knowledge.schema import as_kinds
from bot.registry import REGISTRY
from tests.discord.conftest import DiscordUser

ENTITY_OPTIONS = [(c.name, o.name) for c in REGISTRY for o in c.options if o.kinds]
MISSPELLED = [
    ("standard", "query", "fihr", "fhir"),
    ("compliance", "query", "hipa", "hipaa"),
    ("role", "query", "telemedicne", "telemedicine"),
    ("software", "query", "pcas", "pacs"),
    ("path", "role", "imagng", "imaging"),
    ("tip", "topic", "interveiws", "interviews"),
]
HOSTILE_TYPED = ["@everyone", "<@&123456789012345678>", "\x00\x1b[31m\u202e", "é" * 10_000, "x" * 10_000]


def ids_for(core: Core, command: str, option: str) -> set[str]:
    declared = next(o for o in REGISTRY.get(command).options if o.name == option)  # type: ignore[union-attr]
    return {e.id for kind in as_kinds(declared.kinds) for e in core.kb.all(kind)}


def check_choices(choices: list[dict[str, str]], valid: set[str]) -> None:
    assert 1 <= len(choices) <= 25
    for choice in choices:
        assert 1 <= len(choice["name"]) <= 100 and 1 <= len(choice["value"]) <= 100
        assert choice["value"] in valid, choice


def test_every_entity_option_is_covered() -> None:
    assert {c for c, _ in ENTITY_OPTIONS} >= {"role", "skills", "software", "compliance", "standard", "trends"}
    assert {c for c, _, _, _ in MISSPELLED} <= {c for c, _ in ENTITY_OPTIONS}


@pytest.mark.parametrize("group", [False, True], ids=["top-level", "career-group"])
async def test_a_partial_word_suggests_entries_that_start_with_it(
    discord_user: DiscordUser, core: Core, group: bool
) -> None:
    for command, option in ENTITY_OPTIONS:
        valid = ids_for(core, command, option)
        wanted = sorted(valid)[0]
        choices = await discord_user.complete(command, option, wanted[:2], group=group)
        check_choices(choices, valid)
        assert wanted in [c["value"] for c in choices], (command, wanted)


@pytest.mark.parametrize(("command", "option", "typed", "meant"), MISSPELLED)
async def test_a_misspelling_still_suggests_what_was_meant_near_the_top(
    discord_user: DiscordUser, core: Core, command: str, option: str, typed: str, meant: str
) -> None:
    choices = await discord_user.complete(command, option, typed)
    check_choices(choices, ids_for(core, command, option))
    assert meant in [c["value"] for c in choices[:3]]


async def test_an_empty_box_lists_entries_and_never_more_than_25(discord_user: DiscordUser, core: Core) -> None:
    choices = await discord_user.complete("tip", "topic", "")  # the tip topics span 150+ entries
    assert len(ids_for(core, "tip", "topic")) > 25
    check_choices(choices, ids_for(core, "tip", "topic"))
    assert len(choices) == 25


async def test_hostile_input_gets_a_valid_answer(discord_user: DiscordUser, core: Core) -> None:
    """How fast: ``python -m bench.discord_interactions`` times autocomplete, these inputs included,
    against Discord's 3 s."""
    valid = ids_for(core, "role", "query")
    for typed in HOSTILE_TYPED:
        iid = await discord_user.fake.autocomplete("role", {"query": typed}, "query")
        body = await discord_user.fake.response(iid)
        assert body["type"] == 8 and len(body["data"]["choices"]) <= 25
        assert all(c["value"] in valid for c in body["data"]["choices"])
