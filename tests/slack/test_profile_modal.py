"""The mentoring profile form as a Slack modal, end to end through the real Bolt app against the fake
Slack, on SQLite and PostgreSQL: ``/mentoring profile`` opens it (``views.open``), the knowledge
pickers get their options (``block_suggestion``), a bad submission gets a message on each bad field
and stores nothing, a good one updates the profile, and a forged one is refused with nothing written."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from slack_sdk.models.views import View

from adapters.slack_bot import forms
from bot.forms import TEXT_MAX, FieldValue
from bot.mentoring import messages as say
from bot.mentoring import tables as mentoring_tables
from bot.mentoring.forms import PROFILE
from bot.registry import FORMS
from tests.fakes.slack import TEAM_ID
from tests.slack.test_mentoring import MentoringSlack, database, mentoring_slack, postgres_url

__all__ = ["database", "mentoring_slack", "postgres_url"]

MEMBER = "UMEM1"


def check_view(view: dict[str, Any]) -> None:
    """A modal Slack accepts: slack_sdk's models validate it, and our own limits hold."""
    model = View(**view)
    model.validate_json()
    assert model.to_dict() == view
    assert view["type"] == "modal" and len(view["blocks"]) <= 100
    assert len(view.get("private_metadata", "")) <= 3000 and len(view.get("callback_id", "")) <= 255
    for text in ("title", "submit", "close"):
        if text in view:
            assert view[text]["type"] == "plain_text" and len(view[text]["text"]) <= 24
    for block in view["blocks"]:
        if block["type"] != "input":
            assert len(block["text"]["text"]) <= 3000
            continue
        assert len(block["block_id"]) <= 255 and len(block["element"]["action_id"]) <= 255
        assert len(block["label"]["text"]) <= 2000
        element = block["element"]
        if element["type"] == "plain_text_input":
            assert 1 <= element["max_length"] <= TEXT_MAX
        if element["type"] == "static_select":
            assert 1 <= len(element["options"]) <= 100
            assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in element["options"])
        if element["type"] == "multi_external_select":
            assert element["min_query_length"] == 1 and 1 <= element["max_selected_items"] <= 100
        if "placeholder" in element:
            assert len(element["placeholder"]["text"]) <= 150


def test_every_declared_form_renders_as_a_valid_modal() -> None:
    assert FORMS
    for form in FORMS.values():
        view = forms.view(form, forms.metadata(b"key", TEAM_ID, "U1", "C1", form))
        check_view(view)
        assert view["callback_id"] == "cb_form:" + form.id
        assert [b["block_id"] for b in view["blocks"]] == [f.name for f in form.fields]
    profile = {b["block_id"]: b["element"] for b in forms.view(PROFILE, "C1:x")["blocks"]}
    assert profile["role"]["type"] == "static_select"
    assert profile["knows"]["type"] == profile["wants"]["type"] == "multi_external_select"
    assert profile["knows"]["max_selected_items"] == PROFILE.field("knows").max_items  # type: ignore[union-attr]
    assert profile["timezone"]["type"] == "plain_text_input" and "multiline" not in profile["timezone"]
    assert profile["bio"]["multiline"] is True and profile["bio"]["max_length"] == 200
    check_view(forms.notice("careerbot", "x" * 5000))


def test_private_metadata_binds_channel_user_and_form() -> None:
    where = forms.metadata(b"key", "T1", "U1", "C1", PROFILE)
    assert where.startswith("C1:")
    assert forms.channel_of(b"key", "T1", "U1", PROFILE, where) == "C1"
    assert forms.channel_of(b"key", "T1", "U2", PROFILE, where) is None  # someone else's
    assert forms.channel_of(b"other", "T1", "U1", PROFILE, where) is None  # another key (a restart)
    assert forms.channel_of(b"key", "T1", "U1", PROFILE, "C2" + where[2:]) is None  # another channel
    for forged in ("", "C1", "../etc:" + where[3:], "C1:" + "0" * 32, "x" * 3000):
        assert forms.channel_of(b"key", "T1", "U1", PROFILE, forged) is None


# ---------------------------------------------------------------------------- end to end


async def member_opens_the_form(m: MentoringSlack) -> dict[str, Any]:
    """A program in #mentoring (C1), MEMBER in it, and ``/mentoring profile``: the view it opened."""
    await m.start_program()
    await m.join([MEMBER])
    answer = await m.slack.command("/mentoring", "profile", user=MEMBER, channel="C1")
    assert answer["response_type"] == "ephemeral"  # the command is still answered
    call = await m.fake.wait_for("views.open")
    assert call.body["trigger_id"] == "1.2.3"
    view: dict[str, Any] = call.body["view"]
    return view


def state(**values: Any) -> dict[str, Any]:
    """``view.state.values`` as Slack sends it for the profile form."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        action = f"cb_form:mentoring-profile:{name}"
        field = PROFILE.field(name)
        kind = field.kind if field else "text"
        got: dict[str, Any]
        if kind == "select":
            got = {"type": "static_select", "selected_option": {"value": value, "text": {"type": "plain_text"}}}
        elif kind == "multi_select":
            got = {"type": "multi_external_select", "selected_options": [{"value": v} for v in value]}
        else:
            got = {"type": "plain_text_input", "value": value}
        out[name] = {action: got}
    return out


async def submit(
    m: MentoringSlack, view: dict[str, Any], values: dict[str, Any], *, user: str = MEMBER, **changes: Any
) -> tuple[int, dict[str, Any]]:
    """Submit ``view`` (as opened, with ``changes``) with ``values``; the status and the ack's body."""
    submitted = {**view, "id": "V1", "team_id": TEAM_ID, "state": {"values": values}, **changes}
    payload = {
        "type": "view_submission",
        "user": {"id": user, "username": "m", "name": "m", "team_id": TEAM_ID},
        "view": submitted,
    }
    status, body, _ = await m.slack.post(m.slack.interaction(payload))
    return status, (json.loads(body) if body else {})


async def suggest(m: MentoringSlack, action_id: str, value: str, block_id: str = "knows") -> dict[str, Any]:
    payload = {
        "type": "block_suggestion",
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "container": {"type": "view", "view_id": "V1"},
        "user": {"id": MEMBER, "username": "m", "team_id": TEAM_ID},
    }
    status, body, _ = await m.slack.post(m.slack.interaction(payload))
    assert status == 200, body
    answer: dict[str, Any] = json.loads(body)
    return answer


async def profile_row(m: MentoringSlack) -> tuple[Any, ...]:
    rows = await m.rows(tenant=TEAM_ID)
    members = [r for r in rows[mentoring_tables.members.name] if MEMBER in r]
    assert len(members) == 1
    return members[0]


async def test_profile_opens_a_valid_modal(mentoring_slack: MentoringSlack) -> None:
    view = await member_opens_the_form(mentoring_slack)
    check_view(view)
    assert view["callback_id"] == "cb_form:mentoring-profile"
    assert view["private_metadata"].startswith("C1:")
    assert [b["block_id"] for b in view["blocks"]] == ["role", "knows", "wants", "timezone", "bio"]


async def test_an_expired_trigger_still_answers_the_command(
    mentoring_slack: MentoringSlack, caplog: pytest.LogCaptureFixture
) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.join([MEMBER])
    m.fake.fail("views.open", "expired_trigger_id")
    said = await m.say("profile", MEMBER)
    assert "#mentoring" in said
    await m.fake.quiesce(m.platform.adapter)
    assert [c.error for c in m.fake.of("views.open")] == ["expired_trigger_id"]
    assert "Traceback" not in caplog.text


async def test_a_non_member_gets_no_modal(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await m.start_program()
    said = await m.say("profile", "USTRANGER")
    assert say.NOT_MEMBER.format(channel="#mentoring").split("`")[0] in said
    await m.fake.quiesce(m.platform.adapter)
    assert m.fake.of("views.open") == []


async def test_knowledge_suggestions(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    answer = await suggest(m, "cb_form:mentoring-profile:knows", "fhi")
    options = answer["options"]
    assert options and options[0]["value"] == "standard:fhir" and "FHIR" in options[0]["text"]["text"]
    assert len(options) <= 100
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in options)
    for action in ("cb_form:mentoring-profile:timezone", "cb_form:nope:knows", "cb_form:mentoring-profile:x"):
        assert (await suggest(m, action, "fhi"))["options"] == []


async def test_a_bad_submission_marks_exactly_the_bad_fields(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    view = await member_opens_the_form(m)
    before = await m.rows()
    values = state(
        role="peer", knows=["standard:fhir"], wants=["no-such-thing"], timezone="Mars/Olympus", bio="b" * 300
    )
    status, answer = await submit(m, view, values)
    assert status == 200 and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"wants", "timezone", "bio"}
    assert all(0 < len(message) <= 150 for message in answer["errors"].values())
    assert "300" in answer["errors"]["bio"]
    await m.fake.quiesce(m.platform.adapter)
    assert await m.rows() == before
    assert m.fake.of("chat.postEphemeral") == []


async def test_a_good_submission_updates_the_profile(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    view = await member_opens_the_form(m)
    values = state(
        role="peer", knows=["standard:fhir", "skill:sql"], wants=["standard:dicom"], timezone="Europe/Berlin", bio="Hi!"
    )
    status, answer = await submit(m, view, values)
    assert status == 200 and answer == {}  # the modal closes
    call = await m.fake.wait_for("chat.postEphemeral")
    assert call.body["channel"] == "C1" and call.body["user"] == MEMBER
    assert "Europe/Berlin" in json.dumps(call.body)
    row = str(await profile_row(m))
    assert "Europe/Berlin" in row and "standard:dicom" in row and "skill:sql" in row and "Hi!" in row
    said = await m.say("status", MEMBER)
    assert "Europe/Berlin" in said


async def test_the_reply_goes_by_dm_when_the_ephemeral_fails(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    view = await member_opens_the_form(m)
    m.fake.fail("chat.postEphemeral", "channel_not_found")
    status, answer = await submit(m, view, state(timezone="Asia/Tokyo"))
    assert status == 200 and answer == {}
    call = await m.fake.wait_for("chat.postMessage")
    assert call.body["channel"] == MEMBER and "Asia/Tokyo" in json.dumps(call.body)
    assert "Asia/Tokyo" in str(await profile_row(m))


@pytest.mark.parametrize(
    "forgery",
    [
        "callback_id",
        "other_channel",
        "bad_channel",
        "no_metadata",
        "other_user",
        "unknown_block",
        "unknown_action",
        "huge_value",
        "control_characters",
    ],
)
async def test_a_forged_submission_is_refused_and_nothing_written(
    mentoring_slack: MentoringSlack, forgery: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    m = mentoring_slack
    view = await member_opens_the_form(m)
    m.fake.channel("C2", name="elsewhere")
    before = await m.rows()
    values = state(timezone="Asia/Tokyo")
    changes: dict[str, Any] = {}
    user = MEMBER
    mac = view["private_metadata"].partition(":")[2]
    if forgery == "callback_id":
        changes["callback_id"] = "cb_form:admin-settings"
    elif forgery == "other_channel":
        changes["private_metadata"] = f"C2:{mac}"
    elif forgery == "bad_channel":
        changes["private_metadata"] = f"<!channel>:{mac}"
    elif forgery == "no_metadata":
        changes["private_metadata"] = ""
    elif forgery == "other_user":
        user = "UMEM2"  # someone else submitting the member's modal (its metadata is bound to the member)
    elif forgery == "unknown_block":
        values |= {"action": {"cb_form:mentoring-profile:action": {"type": "plain_text_input", "value": "forget-me"}}}
    elif forgery == "unknown_action":
        values = {"timezone": {"cb_form:other:timezone": {"type": "plain_text_input", "value": "Asia/Tokyo"}}}
    elif forgery == "huge_value":
        values = state(timezone="Asia/Tokyo", bio="x" * 10_000)
    elif forgery == "control_characters":
        values = state(timezone="Asia/Tokyo", bio="hi\x07\u202ethere")
    status, answer = await submit(m, view, values, user=user, **changes)
    assert status == 200
    if forgery in ("huge_value", "control_characters"):
        assert answer["response_action"] == "errors" and set(answer["errors"]) == {"bio"}
    else:
        assert answer["response_action"] == "update"
        check_view(answer["view"])
        assert "no longer be sent" in json.dumps(answer["view"])
    await m.fake.quiesce(m.platform.adapter)
    assert await m.rows() == before
    assert m.fake.of("chat.postEphemeral") == [] and m.fake.of("chat.postMessage") == []
    assert "Traceback" not in caplog.text


# ---------------------------------------------------------------------------- filled in with the profile


def test_values_are_shown_within_slacks_limits() -> None:
    values = (
        FieldValue(name="role", text="mentor", chosen=(("mentor", "Mentor"),)),
        FieldValue(
            name="knows",
            text="",
            chosen=(("skill:" + "x" * 160, "Too long a value"), ("standard:fhir", "F" * 120)),
        ),
        FieldValue(name="timezone", text="Europe/Berlin"),
        FieldValue(name="bio", text="b" * 201),  # over the field's max_length: not shown
    )
    view = forms.view(PROFILE, "C1:x", values)
    check_view(view)
    elements = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert elements["role"]["initial_option"] in elements["role"]["options"]  # exactly one of its options
    assert elements["role"]["initial_option"]["value"] == "mentor"
    (shown,) = elements["knows"]["initial_options"]  # a value over 150 cannot be sent back: left out
    assert shown["value"] == "standard:fhir" and len(shown["text"]["text"]) <= 75
    assert "initial_options" not in elements["wants"]
    assert elements["timezone"]["initial_value"] == "Europe/Berlin"
    assert "initial_value" not in elements["bio"]
    unknown_role = forms.view(PROFILE, "C1:x", (FieldValue(name="role", chosen=(("boss", "Boss"),)),))
    assert "initial_option" not in unknown_role["blocks"][0]["element"]


async def test_the_form_opens_filled_in_with_the_members_profile(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.join([MEMBER])
    assert "Your mentoring profile" in await m.say("profile timezone:Asia/Tokyo bio:Hello there", MEMBER)
    await m.slack.command("/mentoring", "profile", user=MEMBER, channel="C1")
    view = (await m.fake.wait_for("views.open")).body["view"]
    check_view(view)
    elements = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert elements["role"]["initial_option"] == {
        "text": {"type": "plain_text", "text": "Peer (coffee chats)"},
        "value": "peer",
    }
    assert [o["value"] for o in elements["knows"]["initial_options"]] == ["standard:fhir"]
    assert "FHIR" in elements["knows"]["initial_options"][0]["text"]["text"]
    assert [o["value"] for o in elements["wants"]["initial_options"]] == ["skill:sql"]
    assert elements["timezone"]["initial_value"] == "Asia/Tokyo" and elements["bio"]["initial_value"] == "Hello there"
    optional = {b["block_id"]: b["optional"] for b in view["blocks"]}
    assert optional == {"role": False, "knows": True, "wants": True, "timezone": False, "bio": True}


async def test_emptying_the_bio_clears_it_and_an_empty_required_field_is_refused(
    mentoring_slack: MentoringSlack,
) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.join([MEMBER])
    await m.say("profile bio:Hello there", MEMBER)
    await m.slack.command("/mentoring", "profile", user=MEMBER, channel="C1")
    view = (await m.fake.wait_for("views.open")).body["view"]
    before = await m.rows()
    status, answer = await submit(m, view, state(role="peer", knows=["standard:fhir"], timezone=None, bio="Hi"))
    assert status == 200 and answer == {"response_action": "errors", "errors": {"timezone": "This field is required."}}
    await m.fake.quiesce(m.platform.adapter)
    assert await m.rows() == before  # refused: nothing written
    kept = state(role="peer", knows=["standard:fhir"], wants=[], timezone="UTC", bio=None)  # bio and wants emptied
    status, answer = await submit(m, view, kept)
    assert status == 200 and answer == {}
    await m.fake.wait_for("chat.postEphemeral")
    row = await profile_row(m)
    assert "Hello there" not in str(row) and "skill:sql" not in str(row) and "standard:fhir" in str(row)


async def test_a_form_opened_empty_keeps_what_its_empty_fields_had(mentoring_slack: MentoringSlack) -> None:
    """A modal shown without the profile (opened elsewhere, or before an upgrade): an empty field there
    says nothing, so the profile keeps it."""
    m = mentoring_slack
    await m.start_program()
    await m.join([MEMBER])
    await m.say("profile bio:Hello there", MEMBER)
    empty = forms.view(PROFILE, forms.metadata(m.platform.adapter.form_key, TEAM_ID, MEMBER, "C1", PROFILE))
    status, answer = await submit(m, empty, state(role="peer", timezone="UTC", bio=None, knows=[]))
    assert status == 200 and answer == {}
    await m.fake.wait_for("chat.postEphemeral")
    row = str(await profile_row(m))
    assert "Hello there" in row and "standard:fhir" in row
