import re

import pytest

from bot.commands import Command, Invocation, Option, Registry, coerce, parse_options
from bot.errors import CommandError, DeclarationError
from bot.registry import REGISTRY
from bot.reply import Reply


async def _handler(ctx: object, query: str | None = None) -> Reply:
    return Reply(title="x")


async def _bare(ctx: object) -> Reply:
    return Reply(title="x")


def test_a_good_declaration_registers() -> None:
    reg = Registry()
    reg.command("good-name_1", "desc")(_bare)
    assert reg.names() == ["good-name_1"]


def test_declarations_are_valid_for_both_platforms() -> None:
    names = REGISTRY.names()
    assert names == [
        "career",
        "role",
        "skills",
        "software",
        "compliance",
        "standard",
        "trends",
        "why",
        "tip",
        "path",
        "faq",
        "search",
        "tips",
        "mentoring",
    ]
    for cmd in REGISTRY:
        assert 1 <= len(cmd.description) <= 100
        assert all(1 <= len(o.description) <= 100 for o in cmd.options)


@pytest.mark.parametrize("name", ["Role", "has space", "x" * 33, "", "émoji!"])
def test_bad_command_names_fail_at_declaration(name: str) -> None:
    with pytest.raises(DeclarationError, match="name"):
        Registry().command(name, "desc")(_bare)


def test_bad_option_declarations_fail() -> None:
    with pytest.raises(DeclarationError, match=re.escape("option 'q': description must be 1-100 characters, got 101")):
        Option(name="q", description="d" * 101)
    with pytest.raises(DeclarationError, match="option 'q': an entity option autocompletes; no choices"):
        Option(name="q", description="d", entity="role", choices=("a",))


def test_handler_must_be_async_and_match_options() -> None:
    def sync(ctx: object) -> Reply:
        return Reply(title="x")

    with pytest.raises(DeclarationError, match="async"):
        Registry().command("a", "d")(sync)  # type: ignore[arg-type]
    with pytest.raises(DeclarationError, match="parameters"):
        Registry().command("b", "d", Option(name="other", description="d"))(_handler)
    with pytest.raises(DeclarationError, match="twice"):
        reg = Registry()
        reg.command("c", "d", Option(name="query", description="d"))(_handler)
        reg.command("c", "d", Option(name="query", description="d"))(_handler)


def _cmd(*options: Option) -> Command:
    async def h(ctx: object, **kw: object) -> Reply:
        return Reply(title="x")

    return Command(name="t", description="d", options=options, handler=h)


def test_parse_options_single_option_takes_the_whole_text() -> None:
    cmd = _cmd(Option(name="text", description="d"))
    assert parse_options(cmd, "  what is: fhir? ") == {"text": "what is: fhir?"}
    assert parse_options(cmd, "text:hipaa rules") == {"text": "hipaa rules"}
    assert parse_options(cmd, "") == {}


def test_parse_options_named_and_positional() -> None:
    cmd = _cmd(Option(name="action", description="d"), Option(name="time", description="d"))
    assert parse_options(cmd, "subscribe time:09:00") == {"action": "subscribe", "time": "09:00"}
    assert parse_options(cmd, "subscribe at nine") == {"action": "subscribe", "time": "at nine"}


def test_coerce_types_and_required() -> None:
    cmd = _cmd(
        Option(name="role", description="the role", required=True),
        Option(name="n", description="d", type="integer"),
        Option(name="flag", description="d", type="boolean"),
    )
    assert coerce(cmd, {"role": " ehr ", "n": "3", "flag": "yes"}) == {"role": "ehr", "n": 3, "flag": True}
    with pytest.raises(CommandError, match="needs ROLE"):
        coerce(cmd, {"role": "   "})
    with pytest.raises(CommandError, match="whole number"):
        coerce(cmd, {"role": "x", "n": "three"})


def test_option_values_are_capped() -> None:
    cmd = _cmd(Option(name="q", description="d", max_length=10))
    assert coerce(cmd, {"q": "x" * 100}) == {"q": "x" * 10}


def test_invocation_defaults_are_local() -> None:
    inv = Invocation(command="role")
    assert (inv.platform, inv.tenant, inv.user, inv.channel) == ("console", "local", "local", "local")
