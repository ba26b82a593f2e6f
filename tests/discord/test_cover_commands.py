"""Discord app commands generated from declarations the shipped table does not use yet: integer
options (registered as Discord's INTEGER, with whole-number choices, and reaching the handler as
ints, top-level and inside ``/career``), choices Discord cannot take, and the tree built only to be
registered, which must never answer anyone."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import discord
import pytest

from adapters.discord_bot.commands import GROUP, _Unbound, build_tree, intents, registration_payload
from bot.commands import Option, Registry
from bot.context import Context
from bot.core import Core
from bot.errors import DeclarationError
from bot.registry import REGISTRY
from bot.reply import Reply
from tests.discord.conftest import DiscordUser
from tests.discord.fake_discord import FakeDiscord
from tests.discord.limits import check_message

PLANNING = Registry()
INTEGER, SUBCOMMAND = 4, 1


@PLANNING.command(
    "weeks",
    "How many weeks to plan ahead",
    Option(name="count", description="Weeks to plan", type="integer", required=True, choices=("1", "2", "4")),
    Option(name="skip", description="Weeks to leave out first", type="integer"),
)
async def weeks(ctx: Context, count: int, skip: int | None = None) -> Reply:
    return Reply(title=f"{count} weeks", summary=f"count is {type(count).__name__}; skip is {skip!r}")


def with_planning() -> Registry:
    return Registry.combine(REGISTRY, PLANNING, free_text=REGISTRY.free_text)


def option(payload: list[dict[str, Any]], command: str, name: str) -> dict[str, Any]:
    top = next(c for c in payload if c["name"] == command)
    found: dict[str, Any] = next(o for o in top["options"] if o["name"] == name)
    return found


def test_an_integer_option_is_registered_as_discords_integer_with_whole_number_choices() -> None:
    payload = registration_payload(with_planning())
    count, skip = option(payload, "weeks", "count"), option(payload, "weeks", "skip")
    assert (count["type"], count["required"], skip["type"], skip.get("required", False)) == (
        INTEGER,
        True,
        INTEGER,
        False,
    )
    assert count["choices"] == [{"name": "1", "value": 1}, {"name": "2", "value": 2}, {"name": "4", "value": 4}]
    assert "choices" not in skip or skip["choices"] == []
    sub = option(payload, GROUP, "weeks")  # the same command inside /career
    assert sub["type"] == SUBCOMMAND and [o["type"] for o in sub["options"]] == [INTEGER, INTEGER]


async def test_an_integer_option_reaches_the_handler_as_an_int(
    fake: FakeDiscord, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "registry", with_planning())
    user = DiscordUser(fake, core)
    await user.start()
    try:
        top = await user.command("weeks", count=2, skip=1)
        grouped = await user.command("weeks", group=True, count=4)
    finally:
        await user.stop()
    for sent in (top, grouped):
        check_message(sent.body)
        assert sent.ephemeral
    assert (top.title, top.text.split("\n")[1]) == ("2 weeks", "count is int; skip is 1")
    assert (grouped.title, grouped.text.split("\n")[1]) == ("4 weeks", "count is int; skip is None")


BAD_CHOICES = {
    "choice-too-long": (
        Option(name="q", description="d", choices=("x" * 101,)),
        "/career option 'q': at most 25 choices of 1-100 chars",
    ),
    "empty-choice": (
        Option(name="q", description="d", choices=("",)),
        "/career option 'q': at most 25 choices of 1-100",
    ),
    "boolean-with-choices": (
        Option(name="q", description="d", type="boolean", choices=("yes", "no")),
        "/career option 'q': a boolean option cannot have choices",
    ),
    "integer-choice-not-a-number": (
        Option(name="q", description="d", type="integer", choices=("1", "two")),
        "/career option 'q': integer choices must be whole numbers",
    ),
}


@pytest.mark.parametrize(("bad", "message"), BAD_CHOICES.values(), ids=BAD_CHOICES.keys())
def test_choices_discord_cannot_take_fail_at_start_up(bad: Option, message: str) -> None:
    command = replace(next(iter(REGISTRY)), options=(bad,))  # the core accepts it ...
    with pytest.raises(DeclarationError, match=f"^{re.escape(message)}"):  # ... Discord's check refuses it
        registration_payload([*list(REGISTRY)[1:], command])


def test_negative_integer_choices_are_whole_numbers() -> None:
    choices = Option(name="q", description="d", type="integer", choices=("-1", "3"))
    payload = registration_payload([*list(REGISTRY)[1:], replace(next(iter(REGISTRY)), options=(choices,))])
    (q,) = option(payload, GROUP, "help")["options"]  # the core's /career is /career help on Discord
    assert (q["type"], q["choices"]) == (INTEGER, [{"name": "-1", "value": -1}, {"name": "3", "value": 3}])


async def test_the_tree_built_only_to_register_commands_never_answers_one() -> None:
    """``sync`` and ``commands --json`` build a tree with no platform behind it: were it ever
    attached to a client, a command must fail loudly (not answer as nobody) and autocomplete offer nothing."""
    unbound = _Unbound()
    tree = build_tree(discord.Client(intents=intents()), REGISTRY, unbound)
    role = tree.get_command("role")
    assert isinstance(role, discord.app_commands.Command)
    with pytest.raises(RuntimeError, match="^this command tree only registers commands$"):
        callback: Any = role.callback  # what discord.py calls with the interaction and the options
        await callback(None, o0="ehr")
    assert unbound.complete("role", "query", "eh") == []
