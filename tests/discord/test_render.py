"""Rendering a neutral reply as Discord embeds and buttons, within Discord's limits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import discord
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.discord_bot import render
from bot.reply import Field, FollowUp, Link, Reply, Section
from tests.discord.limits import check_message, units


def body(rendered: render.Rendered) -> dict[str, Any]:
    """The message payload discord.py would send (client-level allowed mentions included)."""
    components = rendered.view.to_components() if rendered.view else []
    return {
        "embeds": [e.to_dict() for e in rendered.embeds],
        "components": components,
        "allowed_mentions": {"parse": []},
    }


def all_pages(reply: Reply, source: str | None = "/role ehr") -> list[render.Rendered]:
    first = render.render(reply, source=source)
    return [first, *(render.render(reply, source=source, page=i) for i in range(1, first.pages))]


def test_markup_becomes_discord_markdown_and_literal_markup_is_escaped() -> None:
    text = "**Bold** and *it* and `x_y` and [FHIR](https://hl7.org/fhir/)\n- a_b\n> not a quote"
    assert render.DISCORD.convert(text) == (
        "**Bold** and *it* and `x_y` and [FHIR](https://hl7.org/fhir/)\n- a\\_b\n\\> not a quote"
    )
    assert (
        render.DISCORD.convert("~~s~~ ||spoiler|| __u__ # h") == "\\~\\~s\\~\\~ \\|\\|spoiler\\|\\| \\_\\_u\\_\\_ # h"
    )
    assert render.DISCORD.convert("# heading\n-# small") == "\\# heading\n\\-# small"
    assert render.DISCORD.convert("see https://example.org/a_b_c") == "see https://example.org/a_b_c"
    assert render.DISCORD.convert("**EHR** - notes") == "**EHR** - notes"  # a dash mid-line stays plain


def test_lengths_count_utf16_units_and_cuts_are_visible() -> None:
    assert render.dlen("🩺") == 2 == units("🩺")
    cut = render.fit("🩺" * 200, 256)
    assert units(cut) <= 256 and cut.endswith("…")
    assert not render.fit("a" * 300 + "\\*", 301).endswith("\\…")


def test_empty_field_values_are_left_out_and_links_are_clickable() -> None:
    reply = Reply(
        title="T",
        fields=(Field(name="Empty", value=""), Field(name="Kept", value="v")),
        links=(Link(label="Spec", url="https://hl7.org/fhir/"), Link(label="Odd", url="ftp://x y")),
    )
    (embed,) = render.render(reply).embeds
    fields = {f.name: f.value for f in embed.fields}
    assert "Empty" not in fields and fields["Kept"] == "v"
    assert fields["Links"] == "- [Spec](https://hl7.org/fhir/)\n- Odd: ftp://x y"


def test_buttons_share_first_then_unique_follow_ups_that_fit_a_custom_id() -> None:
    follow_ups = (
        FollowUp(label="Path", command="/path ehr"),
        FollowUp(label="Path again", command="/path ehr"),
        FollowUp(label="Too long", command="/search " + "x" * 100),
        FollowUp(label="Not a command", command="what is fhir"),
        *(FollowUp(label=f"R{i}", command=f"/role r{i}") for i in range(6)),  # 10 in all: the cap
    )
    rendered = render.render(Reply(title="T", follow_ups=follow_ups), source="/role ehr")
    rows = body(rendered)["components"]
    labels = [[b["label"] for b in row["components"]] for row in rows]
    assert labels[0] == ["Share in channel"]
    assert labels[1:] == [["Path", "R0", "R1", "R2", "R3"], ["R4", "R5"]]
    public = render.render(Reply(title="T", follow_ups=follow_ups), source="/role ehr", shareable=False)
    assert "Share in channel" not in str(body(public)["components"])


def test_button_payloads_round_trip() -> None:
    assert render.decode("cb:share:/role ehr") == ("share", "/role ehr", 0)
    assert render.decode("cb:run:/path ehr") == ("run", "/path ehr", 0)
    more = render.more_id("/role ehr", 2)
    assert more is not None and render.decode(more) == ("more", "/role ehr", 2)
    assert render.more_id("/" + "x" * 95, 1) is None
    for foreign in ("cb:more:0:/x", "cb:more:1:x", "other:run:/x", "cb:run:x"):
        assert render.decode(foreign) is None


def test_choices_fit_discords_autocomplete_limits() -> None:
    pairs = [("n" * 150, "v"), ("", "ok"), ("x", "v" * 101), *((f"c{i}", f"v{i}") for i in range(40))]
    choices = render.choices(pairs)
    assert len(choices) == 25
    assert all(1 <= len(c.name) <= 100 and 1 <= len(c.value) <= 100 for c in choices)
    assert choices[0].name.endswith("…") and choices[1].name == "ok"
    assert "v" * 101 not in [c.value for c in choices]


def test_a_short_reply_is_one_page_with_its_footer() -> None:
    rendered = render.render(Reply(title="T", summary="s", footer="f"))
    assert rendered.pages == 1 and rendered.embeds[-1].footer.text == "f"
    assert rendered.embeds[0].colour == discord.Colour(render.COLOURS["answer"])


def test_an_empty_reply_still_renders_a_valid_embed() -> None:
    check_message(body(render.render(Reply(title=""))))


long_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=3000)
replies = st.builds(
    Reply,
    title=st.text(max_size=300),
    summary=long_text,
    sections=st.lists(st.builds(Section, heading=st.text(max_size=200), text=long_text), max_size=12),
    fields=st.lists(st.builds(Field, name=st.text(max_size=120), value=st.text(max_size=1200)), max_size=10),
    links=st.lists(st.builds(Link, label=st.text(max_size=80), url=st.text(max_size=300)), max_size=10),
    follow_ups=st.lists(st.builds(FollowUp, label=st.text(max_size=80), command=st.text(max_size=120)), max_size=10),
    footer=st.text(max_size=400),
    tone=st.sampled_from(["answer", "notice", "error"]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reply=replies, markup=st.sampled_from(["", "*", "\\", "**_`~|>", "🩺"]))
def test_any_reply_renders_within_every_limit_on_every_page(reply: Reply, markup: str) -> None:
    # markup that escaping lengthens as much as it can, added to the whole random reply (every field kept)
    reply = replace(reply, title=reply.title + markup * 100, summary=markup * 1500 + reply.summary)
    pages = all_pages(reply)
    for page in pages:
        check_message(body(page))
    assert pages[0].pages == len(pages) >= 1


@pytest.mark.parametrize("heavy", ["x", "*", "🩺"])
def test_the_longest_reply_is_split_and_nothing_is_lost(heavy: str) -> None:
    sections = tuple(Section(heading=f"Section {i}", text=heavy * 2500) for i in range(12))
    pages = all_pages(Reply(title="Long", sections=sections))
    assert len(pages) > 1
    for page in pages:
        check_message(body(page))
    described = "".join(e.description or "" for p in pages for e in p.embeds)
    assert all(f"**Section {i}**" in described for i in range(12))
    assert described.count(heavy) >= 12 * 2500 * 0.99  # only the odd cut mark, never a section dropped
