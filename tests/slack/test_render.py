"""Block Kit rendering: every reply (real and hostile) is a message Slack accepts, unchanged by
slack_sdk's parser, within the limits slack_sdk does not check, with no mention token left."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from adapters import buttons
from adapters.slack_bot.render import (
    BUTTON_TEXT_MAX,
    FIELD_MAX,
    HEADER_MAX,
    MAX_BLOCKS,
    SECTION_TEXT_MAX,
    TEXT_BUDGET,
    Message,
    Picker,
    block_text,
    escape,
    mrkdwn,
    parse_more,
    render,
)
from bot.core import Core
from bot.knowledge.schema import as_kinds
from bot.reply import Field, FollowUp, Link, Reply, Section
from tests.mentions import HOSTILE_MENTIONS, live_mentions

MENTION = re.compile(r"<[!@#]|@(everyone|here|channel)\b", re.IGNORECASE)


def assert_valid(message: Message) -> None:
    """What Slack would accept: slack_sdk parsing and validation, an exact round trip, and our checks."""
    from adapters.slack_bot.render import problems

    assert message.text.strip(), "top-level text must be set"
    for block in message.blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()
        assert parsed.to_dict() == block, "slack_sdk dropped or changed something"
    assert problems(message) == []
    assert [m for s in all_strings(message) for m in live_mentions(s)] == []


def all_strings(message: Message) -> list[str]:
    out: list[str] = [message.text]

    def walk(node: Any) -> None:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.blocks)
    return out


def actions(message: Message) -> list[dict[str, Any]]:
    return [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


# ---------------------------------------------------------------------------- shape


def test_a_reply_becomes_header_sections_fields_context_and_actions() -> None:
    reply = Reply(
        title="EHR developer",
        summary="Builds **electronic health records** & the [FHIR](https://hl7.org/fhir/) APIs around them.",
        sections=(Section(heading="Day to day", text="- Build charts\n- Map `HL7 v2` to FHIR"),),
        fields=(Field(name="Builds", value="EHR"), Field(name="Applies to", value="Everyone", inline=False)),
        links=(Link(label="Official source", url="https://www.hhs.gov/hipaa?a=1&b=2"),),
        follow_ups=(FollowUp(label="Learning path", command="/path ehr"),),
        footer="Not what you meant?",
    )
    [message] = render(reply, share="/role ehr")
    assert_valid(message)
    kinds = [b["type"] for b in message.blocks]
    assert kinds == ["header", "section", "section", "section", "section", "section", "context", "actions"]
    assert message.blocks[0]["text"] == {"type": "plain_text", "text": "EHR developer"}
    assert message.blocks[1]["text"]["text"] == (
        "Builds *electronic health records* &amp; the <https://hl7.org/fhir/|FHIR> APIs around them."
    )
    assert message.blocks[2]["text"]["text"] == "*Day to day*\n• Build charts\n• Map `HL7 v2` to FHIR"
    assert message.blocks[3]["fields"] == [{"type": "mrkdwn", "text": "*Builds*\nEHR"}]
    assert message.blocks[4]["text"]["text"] == "*Applies to*\nEveryone"
    assert message.blocks[5]["text"]["text"] == "• <https://www.hhs.gov/hipaa?a=1&amp;b=2|Official source>"
    assert message.text == "EHR developer: Builds electronic health records &amp; the FHIR APIs around them."
    run, share = actions(message)
    assert (run["text"]["text"], buttons.decode(run["value"])) == ("Learning path", ("run", "/path ehr"))
    assert (share["text"]["text"], buttons.decode(share["value"])) == ("Share in channel", ("share", "/role ehr"))


def test_public_messages_have_no_share_button() -> None:
    [message] = render(Reply(title="t", follow_ups=(FollowUp(label="a", command="/why"),)))
    assert [e["text"]["text"] for e in actions(message)] == ["a"]


def test_picker_is_an_external_select_loaded_from_us() -> None:
    [message] = render(Reply(title="Roles"), picker=Picker(command="role", option="query", placeholder="Choose a role"))
    assert_valid(message)
    [select] = actions(message)
    assert select == {
        "type": "external_select",
        "action_id": "cb_pick:role:query",
        "placeholder": {"type": "plain_text", "text": "Choose a role"},
        "min_query_length": 0,
    }


def test_mrkdwn_escapes_everything_slack_decodes() -> None:
    assert escape("a & <b> c") == "a &amp; &lt;b&gt; c"
    # Even text that skipped Reply's inert() cannot form a token: escaping alone defuses it, code too.
    assert mrkdwn("<!channel> & <@U123> `<#C1>`") == "&lt;!channel&gt; &amp; &lt;@U123&gt; `&lt;#C1&gt;`"
    assert mrkdwn("[x](https://e.com/a?b=1&c=2)") == "<https://e.com/a?b=1&amp;c=2|x>"
    assert mrkdwn("[x](https://e.com/a|b)") == "x (https://e.com/a|b)"  # a "|" would end Slack's URL early


def test_a_link_to_a_non_http_url_is_shown_as_text() -> None:
    [message] = render(Reply(title="t", links=(Link(label="click", url="javascript:alert(1)"),)))
    assert message.blocks[1]["text"]["text"] == "• click (javascript:alert(1))"


# ---------------------------------------------------------------------------- limits


def huge_reply(text: str = "word & <b> ") -> Reply:
    long = (text * 400)[:2500]
    return Reply(
        title="T" * 150,
        summary=(text * 200)[:1500],
        sections=tuple(Section(heading=f"Heading {i}", text=long) for i in range(12)),
        fields=tuple(Field(name=f"F{i}", value=long, inline=i % 3 != 0) for i in range(10)),
        links=tuple(Link(label=f"L{i}", url="https://example.com/" + "x" * 1900) for i in range(10)),
        follow_ups=tuple(FollowUp(label="B" * 75, command=f"/role r{i}") for i in range(10)),
        footer="f & " * 75,
    )


def test_a_huge_reply_is_split_into_valid_pages_with_more_buttons() -> None:
    reply = huge_reply()
    pages = render(reply, share="/role ehr")
    assert len(pages) > 3
    for number, page in enumerate(pages, 1):
        assert_valid(page)
        assert len(page.blocks) <= MAX_BLOCKS
        assert sum(block_text(b) for b in page.blocks) <= TEXT_BUDGET
        more = [e for e in actions(page) if e["action_id"].startswith("cb_more")]
        if number < len(pages):
            assert more and more[0]["text"]["text"] == f"More ({number + 1}/{len(pages)})"
            assert parse_more(more[0]["action_id"]) == number + 1
            assert buttons.decode(more[0]["value"]) == ("run", "/role ehr")
            assert f"Part {number} of {len(pages)}" in page.blocks[-2]["elements"][-1]["text"]
        else:
            assert not more
    # Nothing is lost: every section heading appears on some page, in order.
    rendered = "\n".join(b.get("text", {}).get("text", "") for p in pages for b in p.blocks if b["type"] == "section")
    positions = [rendered.index(f"*Heading {i}*") for i in range(12)]
    assert positions == sorted(positions)


def test_without_a_command_to_page_with_a_long_reply_is_cut_and_says_so() -> None:
    [page] = render(huge_reply())
    assert_valid(page)
    assert "cut" in page.blocks[-2]["elements"][-1]["text"]


def test_limits_hold_for_worst_case_escaping() -> None:
    for page in render(huge_reply("&&&&<>"), share="/x"):
        assert_valid(page)
        for block in page.blocks:
            if block["type"] == "section" and "text" in block:
                assert len(block["text"]["text"]) <= SECTION_TEXT_MAX
            for f in block.get("fields", []):
                assert len(f["text"]) <= FIELD_MAX
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= HEADER_MAX
        assert all(len(e["text"]["text"]) <= BUTTON_TEXT_MAX for e in actions(page) if e["type"] == "button")


def test_a_cut_never_breaks_an_entity_or_a_link() -> None:
    for page in render(huge_reply("a&b [l](https://e.com/p) "), share="/x"):
        for block in page.blocks:
            for text in [block.get("text", {}).get("text", "")] + [f["text"] for f in block.get("fields", [])]:
                assert not re.search(r"&(?!amp;|lt;|gt;)", text), text[-40:]
                assert text.count("<") == text.count(">")


# ---------------------------------------------------------------------------- every real reply


async def test_every_reply_of_every_command_is_valid(core: Core) -> None:
    texts = []
    for command in core.registry:
        texts += [f"/{command.name}", *command.examples, f"/{command.name} zzzqqq", f"/{command.name} <!channel>"]
        for option in command.options:
            for kind in as_kinds(option.kinds):
                texts += [f"/{command.name} {entry.id}" for entry in core.kb.all(kind)]
    texts += ["what does an ehr developer do", "<@U123> @everyone", ""]
    assert len(texts) > 50
    for text in texts:
        invocation = core.parse(text, platform="slack")
        reply = await core.answer(invocation)
        for page in render(reply, share=core.share_command(invocation, reply)):
            assert_valid(page)
            assert not any(MENTION.search(s) for s in all_strings(page)), text


# ---------------------------------------------------------------------------- hostile text

HOSTILE = st.sampled_from(
    [
        *HOSTILE_MENTIONS,
        "<@U123>",
        "&",
        "&amp;",
        "&lt;!channel&gt;",
        "<",
        ">",
        "*",
        "**",
        "_",
        "`",
        "[x](https://e.com)",
        "<https://e.com|x>",
        "\n",
        "- ",
        " ",
        "\x00",
        "\x1b[31m",
        "\u202e",
        "\u200b",
        "ﷺ",
    ]
)
TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(HOSTILE, st.text(max_size=5)), max_size=60).map("".join),
    st.lists(HOSTILE, min_size=1, max_size=8).map(lambda parts: ("".join(parts) * 10_240)[:10_240]),  # 10 KB
)


@st.composite
def hostile_replies(draw: st.DrawFn) -> Reply:
    return Reply(
        title=draw(TEXT),
        summary=draw(TEXT),
        sections=tuple(Section(heading=draw(TEXT), text=draw(TEXT)) for _ in range(draw(st.integers(0, 12)))),
        fields=tuple(
            Field(name=draw(TEXT), value=draw(TEXT), inline=draw(st.booleans()))
            for _ in range(draw(st.integers(0, 10)))
        ),
        links=tuple(Link(label=draw(TEXT), url=draw(TEXT)) for _ in range(draw(st.integers(0, 3)))),
        follow_ups=tuple(FollowUp(label=draw(TEXT), command="/" + draw(TEXT)) for _ in range(draw(st.integers(0, 10)))),
        footer=draw(TEXT),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(reply=hostile_replies(), share=st.booleans())
def test_hostile_replies_render_valid_and_inert(reply: Reply, share: bool) -> None:
    pages = render(reply, share="/role ehr" if share else None)
    assert pages
    for page in pages:
        assert_valid(page)
        for s in all_strings(page):
            assert not MENTION.search(s), s[:100]
            assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", s)


@pytest.mark.parametrize("token", ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C1>", "<!subteam^S1>"])
def test_no_mention_token_survives_anywhere(token: str) -> None:
    reply = Reply(
        title=token,
        summary=token,
        sections=(Section(heading=token, text=f"- {token} **{token}** `{token}`"),),
        fields=(Field(name=token, value=token),),
        links=(Link(label=token, url=f"https://e.com/{token}"),),
        follow_ups=(FollowUp(label=token, command=f"/search {token}"),),
        footer=token,
    )
    [page] = render(reply, share=f"/search {token}")
    assert_valid(page)
    assert not [s for s in all_strings(page) if token in s]
