"""Slack modals and the Home tab, read back and rendered: a submission of any shape but the form's
is refused as a whole (None), never half-read; knowledge suggestions fit Slack's option limits; a
Home tab with more blocks than Slack allows is cut and says so."""

from __future__ import annotations

import json
from typing import Any

from adapters.slack_bot import forms
from adapters.slack_bot import home as slack_home
from bot.core import Core
from bot.mentoring.forms import PROFILE
from bot.reply import Field, Link, Reply, Section
from tests.fakes.slack import TEAM_ID

BIO = forms.action_id(PROFILE, PROFILE.fields[-1])
KNOWS = "cb_form:mentoring-profile:knows"


def test_an_action_id_that_is_not_a_forms_names_no_field() -> None:
    assert forms.parse_action("cb_form:mentoring-profile:bio") == ("mentoring-profile", "bio")
    for other in ("cb_pick:role:query", "cb_form:mentoring-profile", "cb_form::bio", "cb_form:x:", "", "bio"):
        assert forms.parse_action(other) is None, other


def test_a_submission_not_shaped_like_the_form_is_refused_whole() -> None:
    assert forms.values(PROFILE, None) is None  # no state at all
    assert forms.values(PROFILE, ["bio"]) is None
    assert forms.values(PROFILE, {"bio": {BIO: "just a string"}}) is None  # an input that is not an object
    assert forms.values(PROFILE, {"knows": {KNOWS: {"selected_options": "fhir"}}}) is None  # not a list
    assert forms.values(PROFILE, {"bio": {BIO: {"value": "hi"}}, "knows": {KNOWS: {"selected_options": []}}}) == {
        "bio": "hi"
    }


def test_without_the_views_blocks_an_empty_field_keeps_what_it_had() -> None:
    emptied = {"bio": {BIO: {"type": "plain_text_input", "value": ""}}}
    shown = [{"type": "input", "block_id": "bio", "element": {"initial_value": "old bio"}}]
    assert forms.values(PROFILE, emptied, shown) == {"bio": ""}  # shown filled in, emptied: cleared
    for blocks in (None, "not a list", {"bio": shown[0]}):  # the view's blocks unknown: left out, kept
        assert forms.values(PROFILE, emptied, blocks) == {}


def test_knowledge_suggestions_are_kind_and_id_within_slacks_limits(core: Core) -> None:
    knows = PROFILE.field("knows")
    assert knows is not None
    for query in ("a", "e", "fhir", "health", "data"):
        found = forms.suggestions(core.kb, knows, query)
        assert found, query
        for option in found:
            kind, _, entry = option["value"].partition(":")
            assert kind in knows.entity and entry in core.kb.entries[kind]
            assert len(option["value"]) <= forms.OPTION_VALUE_MAX
            assert 1 <= len(option["text"]["text"]) <= forms.OPTION_TEXT_MAX
    assert forms.suggestions(core.kb, knows, "   ") == []


def home_blocks(view: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = view["blocks"]
    return blocks


def test_a_home_tab_longer_than_slack_allows_is_cut_and_says_so() -> None:
    # the most a reply holds, in text that escaping makes five times longer: more blocks than a Home tab
    amp = "&" * 2500
    reply = Reply(
        title="Your mentoring",
        summary=amp,
        sections=tuple(Section(heading=f"h{i}", text=amp) for i in range(12)),
        fields=tuple(Field(name=f"f{i}", value="&" * 1000, inline=False) for i in range(10)),
        links=tuple(Link(label=f"l{i}", url="https://example.org/?" + "&a" * 990) for i in range(10)),
    )
    view = slack_home.home_view(reply, b"key", TEAM_ID, "U1", status="Saved.")
    blocks = home_blocks(view)
    assert len(blocks) == slack_home.HOME_BLOCKS_MAX
    cut = {"type": "context", "elements": [{"type": "mrkdwn", "text": "_(cut: more than a Home tab holds)_"}]}
    assert blocks[-1] == cut
    assert blocks[0]["text"]["text"].endswith("*Saved.*") and blocks[1]["type"] == "header"
    shown = json.dumps(blocks)
    assert "*h11*" in shown and "*f9*" in shown and "|l0>" in shown
    assert "|l9>" not in shown  # the last links did not fit
