"""The mentoring profile form as a Discord modal, end to end: ``/mentoring profile`` through the real
client against the fake Discord opens the modal (a MODAL response, within Discord's limits); its
submission runs ``/mentoring join`` as the member, or names each refused field with nothing stored;
forged submissions are refused with nothing stored and no traceback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.discord_bot.app import FORGED_TITLE, FORM_ERRORS_TITLE
from bot.mentoring import messages as say
from bot.mentoring import tables
from tests.discord.conftest import Sent
from tests.discord.fake_discord import FakeDiscord
from tests.discord.limits import check_message, check_modal
from tests.discord.payloads import USER
from tests.discord.test_mentoring import Mentoring, land, launch

FORM = "cb_form:mentoring-profile"
PEOPLE: list[dict[str, Any]] = [
    USER | {"id": str(1400000000000000020 + i), "username": f"member{i}", "global_name": f"Member {i}"}
    for i in range(2)
]
ME = PEOPLE[0]


@pytest.fixture
async def mentoring(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Mentoring]:
    started = await launch(fake, tmp_path)
    await started.start_program(PEOPLE)
    yield started
    await land(started)


def text_input(name: str, value: str) -> dict[str, Any]:
    """A label holding a text input, as Discord sends it back in a modal submission."""
    return {"type": 18, "id": 1, "component": {"type": 4, "id": 2, "custom_id": name, "value": value}}


def select(name: str, *values: str) -> dict[str, Any]:
    return {"type": 18, "id": 3, "component": {"type": 3, "id": 4, "custom_id": name, "values": list(values)}}


def filled(**values: str) -> list[dict[str, Any]]:
    return [select(k, v) if k == "role" else text_input(k, v) for k, v in values.items()]


async def submit(m: Mentoring, components: list[dict[str, Any]], *, custom_id: str = FORM, **kw: Any) -> Sent:
    iid = await m.fake.submit(custom_id, components, user=kw.pop("user", ME), **kw)
    body = await m.fake.response(iid)
    assert body["type"] == 4, body  # a message, never a second modal
    sent = Sent(iid, body["data"])
    check_message(sent.body)
    assert sent.ephemeral
    return sent


async def me(m: Mentoring) -> Any:
    (row,) = [r for r in await m.rows(tables.members) if r.user_id == ME["id"]]
    return row


async def test_profile_without_options_opens_the_modal(mentoring: Mentoring) -> None:
    m = mentoring
    m.fake.member_permissions = "2147483647"  # even an admin gets the same modal
    iid = await m.fake.slash("mentoring", {"action": "profile"}, user=ME)
    body = await m.fake.response(iid)
    assert body["type"] == 9, body
    data = body["data"]
    check_modal(data)
    assert data["custom_id"] == FORM and data["title"] == "Your mentoring profile"
    inner = {c["component"]["custom_id"]: c["component"] for c in data["components"]}
    assert list(inner) == ["role", "knows", "wants", "timezone", "bio"]
    assert inner["role"]["type"] == 3 and [o["value"] for o in inner["role"]["options"]] == ["peer", "mentee", "mentor"]
    assert inner["knows"]["type"] == 4 and inner["knows"]["style"] == 1 and "FHIR" in inner["knows"]["placeholder"]
    assert inner["timezone"]["type"] == 4 and inner["timezone"]["style"] == 1
    assert inner["bio"]["type"] == 4 and inner["bio"]["style"] == 2 and inner["bio"]["max_length"] == 200
    callbacks = m.fake.find("POST", rf"/interactions/{iid}/[^/]+/callback")
    assert [c.body["type"] for c in callbacks] == [9] and len(m.fake.modals(iid)) == 1  # the modal, no embed


async def test_someone_without_a_profile_gets_the_cores_answer_not_a_modal(mentoring: Mentoring) -> None:
    m = mentoring
    stranger = USER | {"id": "1400000000000000098", "username": "newcomer", "global_name": "Newcomer"}
    sent = await m.run("/mentoring profile", stranger)
    assert sent.ephemeral and "/mentoring join" in sent.text, sent.text
    assert not m.fake.modals(sent.iid)


async def test_a_bad_submission_names_each_bad_field_and_stores_nothing(mentoring: Mentoring) -> None:
    m = mentoring
    before = await m.snapshot()
    bad = filled(
        role="mentor", knows="fhir, no-such-interest-zzqx", wants="sql", timezone="Mars/Olympus", bio="x" * 300
    )
    sent = await submit(m, bad)
    assert sent.title == FORM_ERRORS_TITLE, sent.text
    lines = [line for line in sent.text.split("\n")[1:] if line]
    assert sorted(line.split(":")[0] for line in lines) == ["A short bio (optional)", "Time zone", "What you know"]
    assert await m.snapshot() == before


async def test_a_good_submission_updates_the_profile(mentoring: Mentoring) -> None:
    m = mentoring
    assert (await me(m)).timezone != "Europe/Berlin"
    sent = await submit(m, filled(role="peer", knows="fhir, hipaa", wants="sql", timezone="Europe/Berlin", bio="Hi!"))
    assert sent.title == say.UPDATED_TITLE.format(channel="#general"), sent.text
    row = await me(m)
    assert (row.role, row.timezone, row.bio) == ("peer", "Europe/Berlin", "Hi!")
    assert "hipaa" in row.knows.casefold() and "sql" in row.wants.casefold()


async def test_the_core_refusing_the_command_is_its_reply_rendered_and_nothing_changes(mentoring: Mentoring) -> None:
    m = mentoring
    before = await m.snapshot()
    sent = await submit(m, filled(role="mentor", timezone="Europe/Berlin"))  # a peer program has no mentors
    assert sent.title not in (FORM_ERRORS_TITLE, FORGED_TITLE) and "role:peer" in sent.text, sent.text
    assert await m.snapshot() == before


@pytest.mark.parametrize(
    ("custom_id", "components", "dm"),
    [
        ("cb_form:no-such-form", filled(timezone="Europe/Berlin"), False),
        ("not-a-form", filled(timezone="Europe/Berlin"), False),
        (FORM, filled(timezone="Europe/Berlin") + [text_input("admin", "yes")], False),
        (FORM, [text_input("timezone", "Europe/Berlin"), text_input("timezone", "UTC")], False),
        (FORM, filled(bio="x" * 10_000), False),
        (FORM, filled(bio="hi\x00there\x1b[31m"), False),
        (FORM, [text_input(f"f{i}", "x") for i in range(50)], False),
        (FORM, [{"type": 18, "component": {"type": 4, "custom_id": "bio", "value": 12}}], False),
        (FORM, filled(timezone="Europe/Berlin"), True),
    ],
    ids=["unknown-form", "not-ours", "unknown-field", "twice", "10kb", "control", "many", "not-text", "dm"],
)
async def test_a_forged_submission_is_refused_and_stores_nothing(
    mentoring: Mentoring,
    caplog: pytest.LogCaptureFixture,
    custom_id: str,
    components: list[dict[str, Any]],
    dm: bool,
) -> None:
    m = mentoring
    before = await m.snapshot()
    with caplog.at_level(logging.DEBUG):
        sent = await submit(m, components, custom_id=custom_id, dm=dm)
    assert sent.title in (FORGED_TITLE, FORM_ERRORS_TITLE), sent.text
    assert "Nothing was saved" in sent.text or sent.title == FORM_ERRORS_TITLE
    assert await m.snapshot() == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], caplog.text


# ---------------------------------------------------------------------------- filled in with the profile


async def opened(m: Mentoring, who: dict[str, Any] = ME) -> dict[str, dict[str, Any]]:
    """``/mentoring profile`` by ``who``: the modal's inputs by field name."""
    iid = await m.fake.slash("mentoring", {"action": "profile"}, user=who)
    body = await m.fake.response(iid)
    assert body["type"] == 9, body
    check_modal(body["data"])
    return {c["component"]["custom_id"]: c["component"] for c in body["data"]["components"]}


async def test_the_modal_opens_filled_in_with_the_members_profile(mentoring: Mentoring) -> None:
    m = mentoring
    said = await m.user.command("mentoring", as_user=ME, action="profile", timezone="Asia/Tokyo", bio="Hello there")
    assert said.title == say.UPDATED_TITLE.format(channel="#general"), said.text
    inner = await opened(m)
    assert [o["value"] for o in inner["role"]["options"] if o.get("default")] == ["peer"]
    assert inner["role"]["required"] is True and inner["role"]["min_values"] == 1
    assert inner["knows"]["value"] == "standard:fhir" and inner["wants"]["value"] == "skill:sql"
    assert inner["timezone"]["value"] == "Asia/Tokyo" and inner["timezone"]["required"] is True
    assert inner["bio"]["value"] == "Hello there" and inner["bio"]["required"] is False
    # submitted as opened, the profile stays exactly as it was
    kept = await me(m)
    values = {"role": "peer"} | {k: inner[k]["value"] for k in ("knows", "wants", "timezone", "bio")}
    sent = await submit(m, filled(**values))
    assert sent.title == say.UPDATED_TITLE.format(channel="#general"), sent.text
    row = await me(m)
    fields = ("role", "knows", "wants", "timezone", "bio", "capacity", "state")
    assert [getattr(row, f) for f in fields] == [getattr(kept, f) for f in fields]


async def test_emptying_the_bio_clears_it_and_an_empty_time_zone_is_refused(mentoring: Mentoring) -> None:
    m = mentoring
    await m.user.command("mentoring", as_user=ME, action="profile", bio="Hello there")
    assert (await me(m)).bio == "Hello there"
    before = await m.snapshot()
    refused = await submit(m, filled(role="peer", knows="standard:fhir", wants="", timezone=" ", bio=""))
    assert refused.title == FORM_ERRORS_TITLE and "Time zone: This field is required." in refused.text
    assert await m.snapshot() == before
    sent = await submit(m, filled(role="peer", knows="standard:fhir", wants="", timezone="UTC", bio=""))
    assert sent.title == say.UPDATED_TITLE.format(channel="#general"), sent.text
    row = await me(m)
    assert (row.bio, row.wants, row.knows, row.timezone) == (None, "", "standard:fhir", "UTC")
    inner = await opened(m)
    assert "value" not in inner["bio"] and "value" not in inner["wants"]


def test_defaults_fit_each_inputs_max_length() -> None:
    from adapters.discord_bot import forms
    from bot.forms import FieldValue
    from bot.mentoring.forms import PROFILE

    many = tuple((f"skill:{'x' * 94}", "X") for _ in range(10))  # the longest values filled() keeps
    values = (
        FieldValue(name="knows", text="", chosen=many),
        FieldValue(name="timezone", text="t" * 65),  # over its max_length: not shown (never cut)
        FieldValue(name="bio", text="b" * 200),
    )
    modal = forms.modal(PROFILE, values)
    components: list[dict[str, Any]] = modal.to_components()
    check_modal({"title": modal.title, "custom_id": modal.custom_id, "components": components})
    inner = {c["component"]["custom_id"]: c["component"] for c in components}
    assert inner["knows"]["value"] == ", ".join(v for v, _ in many)
    assert "value" not in inner["timezone"] and len(inner["bio"]["value"]) == 200
