"""Modal submissions read back from the raw interaction, through the real client against the fake
Discord: the older layout (inputs in action rows, as Discord sent them before labels) is read like
the new one; components that are not objects and select values of the wrong shape are refused as
forged with nothing stored; and a form without checks of its own still cannot run its command with
an emptied required field: the command's own refusal answers."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from adapters.discord_bot.app import FORGED, FORGED_TITLE
from bot import messages
from bot.core import Core
from bot.forms import Form, FormField
from bot.mentoring import messages as say
from bot.registry import FORMS
from tests.discord.conftest import DiscordUser, Sent
from tests.discord.fake_discord import FakeDiscord
from tests.discord.limits import check_message
from tests.discord.test_mentoring import Mentoring
from tests.discord.test_profile_modal import me, mentoring, select, submit, text_input

__all__ = ["mentoring"]  # the fixture: a program started with PEOPLE in it


def row(*inputs: Any) -> dict[str, Any]:
    """An action row holding ``inputs`` (the layout of modals before labels)."""
    return {"type": 1, "components": list(inputs)}


async def test_a_submission_in_action_rows_is_read_like_one_in_labels(mentoring: Mentoring) -> None:
    m = mentoring
    components = [
        row({"type": 3, "custom_id": "role", "values": ["peer"]}),
        row({"type": 4, "custom_id": "knows", "value": "fhir"}),
        row({"type": 4, "custom_id": "timezone", "value": "America/Chicago"}),
        row({"type": 4, "custom_id": "bio", "value": "Rows, not labels"}),
    ]
    sent = await submit(m, components)
    assert sent.title == say.UPDATED_TITLE.format(channel="#general"), sent.text
    row_ = await me(m)
    assert (row_.role, row_.timezone, row_.bio) == ("peer", "America/Chicago", "Rows, not labels")
    assert "fhir" in row_.knows.casefold()


FORGED_SHAPES: dict[
    str, tuple[list[Any], str]
] = {  # what the submission carries -> why it is refused (the operator's log line)
    "a string for a component": (["role", text_input("timezone", "UTC")], "a component is not an object"),
    "a number inside an action row": ([row(7), text_input("timezone", "UTC")], "a component is not an object"),
    "a select value that is not a list": (
        [{"type": 18, "component": {"type": 3, "custom_id": "role", "values": "peer"}}],
        "a select value of the wrong type",
    ),
    "two values for a one-value select": (
        [select("role", "peer", "mentee"), text_input("timezone", "UTC")],
        "a select value of the wrong type",
    ),
    "a select value that is not text": (
        [{"type": 18, "component": {"type": 3, "custom_id": "role", "values": [1]}}],
        "a select value of the wrong type",
    ),
    "action rows nested past the layout": ([row(row(row(text_input("timezone", "UTC"))))], "too many components"),
}


async def test_components_of_the_wrong_shape_are_refused_as_forged_and_store_nothing(
    mentoring: Mentoring, caplog: pytest.LogCaptureFixture
) -> None:
    m = mentoring
    before = await m.snapshot()
    for shape, (components, reason) in FORGED_SHAPES.items():
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="careerbot.discord"):
            sent = await submit(m, components)
        assert (sent.title, sent.text.split("\n", 1)[1].strip()) == (FORGED_TITLE, FORGED), shape
        assert "Share in channel" not in sent.buttons
        assert [r.getMessage() for r in caplog.records if r.name == "careerbot.discord"] == [
            f"refused a modal submission: {reason}"
        ], shape
    assert await m.snapshot() == before


# ---------------------------------------------------------------------------- a form without checks

WORDS = Form(
    id="search-words",
    title="Search",
    submit="Search",
    command="search",
    fields=(FormField(name="text", label="Words to look for", required=True),),
)


async def test_a_form_without_checks_of_its_own_still_cannot_empty_a_required_option(
    fake: FakeDiscord, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(FORMS, WORDS.id, WORDS)  # a wing's form that relies on its command's checks
    user = DiscordUser(fake, core)
    await user.start()
    try:
        iid = await fake.submit(f"cb_form:{WORDS.id}", [text_input("text", "   ")])
        refused = Sent(iid, await fake.reply(iid))
        iid = await fake.submit(f"cb_form:{WORDS.id}", [text_input("text", " fhir ")])
        found = Sent(iid, await fake.reply(iid))
    finally:
        await user.stop()
    check_message(refused.body)
    assert refused.ephemeral and refused.title == messages.CANNOT_TITLE
    assert "/search needs TEXT" in refused.text  # the blank field was not passed as a search for ""
    check_message(found.body)
    assert found.ephemeral and "FHIR" in found.text and found.title != messages.CANNOT_TITLE
