"""Hostile input is normal input: arbitrary text to every command."""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import messages
from bot.core import Core
from bot.registry import REGISTRY
from bot.reply import CAPS, MAX_FIELDS, MAX_FOLLOW_UPS, MAX_SECTIONS, Reply
from tests.mentions import HOSTILE_MENTIONS, live_mentions

NAMES = REGISTRY.names()
hostile_words = st.sampled_from([*HOSTILE_MENTIONS, "<@U123>", "<@&42>", "<#C1>", "\x00", "\u202e"])
hostile_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(hostile_words, st.text(max_size=20)), max_size=20).map(" ".join),
    st.text(min_size=5000, max_size=12000),
)


def check(reply: Reply) -> None:
    assert reply.title != messages.INTERNAL_ERROR_TITLE, reply
    json.dumps(reply.to_dict())
    for text in reply.strings():
        assert live_mentions(text) == [], text
    assert len(reply.title) <= CAPS["title"]
    assert len(reply.summary) <= CAPS["summary"]
    assert len(reply.footer) <= CAPS["footer"]
    assert len(reply.sections) <= MAX_SECTIONS and len(reply.fields) <= MAX_FIELDS
    assert len(reply.follow_ups) <= MAX_FOLLOW_UPS
    for s in reply.sections:
        assert len(s.heading) <= CAPS["heading"] and len(s.text) <= CAPS["text"]
    for f in reply.fields:
        assert len(f.name) <= CAPS["field_name"] and len(f.value) <= CAPS["field_value"]
    for u in reply.follow_ups:
        assert len(u.label) <= CAPS["label"] and len(u.command) <= CAPS["command"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from([*NAMES, "", "nope"]), text=hostile_text)
def test_any_text_to_any_command_gets_a_safe_reply(core: Core, name: str, text: str) -> None:
    line = f"/{name} {text}" if name else text
    check(asyncio.run(core.ask(line)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(NAMES), option=st.text(max_size=40), value=hostile_text)
def test_adapter_supplied_options_are_safe_too(core: Core, name: str, option: str, value: str) -> None:
    """Adapters pass options by name (Discord, Slack); unknown names and hostile values must be harmless."""
    from bot.commands import Invocation

    command = REGISTRY.get(name)
    assert command is not None
    options = {o.name: value for o in command.options} | {option: value}
    check(asyncio.run(core.answer(Invocation(platform="test", command=name, options=options))))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=hostile_text)
def test_autocomplete_is_bounded(core: Core, query: str) -> None:
    for command in REGISTRY:
        for option in command.options:
            choices = core.autocomplete(command.name, option.name, query)
            assert len(choices) <= 25
            assert all(len(label) <= 100 and len(value) <= 100 for label, value in choices)
