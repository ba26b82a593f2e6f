"""The App Home tab and onboarding on Slack, end to end through the real Bolt app against the fake
Slack on 127.0.0.1, on SQLite and PostgreSQL: ``app_home_opened`` publishes the person's mentoring
(``views.publish``) for a member, an admin and someone in no program; every published view is one
Slack accepts; Home buttons snooze, resume and open the profile modal (saving it publishes the tab
again); forged or stale buttons are refused in the tab with nothing written; no other workspace
shows; ``member_joined_channel`` sends one private invitation and writes nothing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.models.views import View
from sqlalchemy import select

from adapters.slack_bot import home as slack_home
from adapters.slack_bot.http import clean_payload
from adapters.slack_bot.render import Message, problems
from bot.mentoring import home
from bot.mentoring import messages as say
from bot.mentoring import tables as mentoring_tables
from bot.reply import FollowUp, Reply, Section
from tests.fakes.slack import BOT_USER_ID, TEAM_ID
from tests.slack.conftest import find_button, texts
from tests.slack.test_mentoring import (
    MEMBERS,
    OTHER_TEAM,
    ROUND,
    MentoringSlack,
    database,
    mentoring_slack,
    postgres_url,
)
from tests.slack.test_profile_modal import check_view, state, submit

__all__ = ["database", "mentoring_slack", "postgres_url"]

MEMBER = MEMBERS[0]


def check_home(view: dict[str, Any]) -> None:
    """A home view Slack accepts: slack_sdk's models validate it, and our own limits hold."""
    model = View(**view)
    model.validate_json()
    assert model.to_dict() == view
    assert view["type"] == "home" and 1 <= len(view["blocks"]) <= slack_home.HOME_BLOCKS_MAX
    found = problems(Message(text="home", blocks=view["blocks"][:50]))  # per-block limits, no mention token
    assert [p for p in found if "characters of block text" not in p] == []  # (a message's total, not a view's)
    for block in view["blocks"]:
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["action_id"]) <= 255 and len(element.get("value", "")) <= 2000


async def open_home(
    m: MentoringSlack, user: str, *, team: str = TEAM_ID, event_id: str | None = None
) -> dict[str, Any]:
    """``user`` opens the Home tab; the view published for them (checked)."""
    event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home", "event_ts": "1.1"}
    assert await m.slack.event(event, event_id, team=team) == 200
    call = await m.fake.wait_for("views.publish", m.slack.consumed.get("views.publish", 0) + 1)
    m.slack.consumed["views.publish"] = m.slack.consumed.get("views.publish", 0) + 1
    assert call.body["user_id"] == user
    view: dict[str, Any] = call.body["view"]
    check_home(view)
    return view


async def next_home(m: MentoringSlack, user: str) -> dict[str, Any]:
    body = await m.slack.next_response("views.publish")
    assert body["user_id"] == user
    view: dict[str, Any] = body["view"]
    check_home(view)
    return view


async def press(
    m: MentoringSlack, view: dict[str, Any], label: str, *, user: str = MEMBER, value: str | None = None
) -> int:
    """Press a Home tab button as Slack sends it: no channel, no response_url, a view container."""
    element = find_button(view, label)
    action = {**element, "block_id": "b1", "action_ts": "1.1"}
    if value is not None:
        action["value"] = value
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "u", "team_id": TEAM_ID},
        "api_app_id": "A1",
        "token": "legacy",
        "team": {"id": TEAM_ID, "domain": "test"},
        "container": {"type": "view", "view_id": "VHOME"},
        "trigger_id": "9.9.9",
        "actions": [action],
    }
    status, _, _ = await m.slack.post(urlencode({"payload": json.dumps(payload)}))
    return status


def status_line(view: dict[str, Any]) -> str:
    first = view["blocks"][0]
    assert first["type"] == "section"
    return str(first["text"]["text"])


def labels(view: dict[str, Any]) -> list[str]:
    return [e["text"]["text"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def member_row(m: MentoringSlack, user: str = MEMBER) -> Any:
    t = mentoring_tables.members
    async with (await m.store()).connect() as conn:
        return (await conn.execute(select(t).where(t.c.user_id == user, t.c.tenant == TEAM_ID))).one()


# ---------------------------------------------------------------------------- rendering alone


def test_a_full_reply_fits_a_home_view_and_its_buttons_are_bound() -> None:
    reply = Reply(
        title="Your mentoring",
        summary="s" * 1500,
        sections=tuple(Section(heading=f"#c{i}", text="y " * 1250) for i in range(12)),
        follow_ups=tuple(FollowUp(label="Edit profile", command="/mentoring profile") for _ in range(10)),
        footer="footer",
        extra={home.CHANNELS: " ".join(f"C{i}" for i in range(10))},
    )
    view = slack_home.home_view(reply, b"key", TEAM_ID, MEMBER, status="Done <!channel> @here", tone="notice")
    check_home(view)
    assert "<!channel>" not in json.dumps(view)
    values = [e["value"] for e in view["blocks"][-1]["elements"]]
    assert [slack_home.parse_value(b"key", TEAM_ID, MEMBER, v) for v in values] == [
        (f"C{i}", "/mentoring profile") for i in range(10)
    ]
    assert slack_home.parse_value(b"key", TEAM_ID, "UOTHER", values[0]) is None  # someone else's
    assert slack_home.parse_value(b"other", TEAM_ID, MEMBER, values[0]) is None  # another key
    assert slack_home.parse_value(b"key", "T0ELSE", MEMBER, values[0]) is None  # another workspace
    assert slack_home.parse_value(b"key", TEAM_ID, MEMBER, "C9" + values[0][2:]) is None  # another channel
    altered = values[0].replace("/mentoring profile", "/mentoring leave")
    assert slack_home.parse_value(b"key", TEAM_ID, MEMBER, altered) is None  # another command
    for forged in ("", "C1", "C1::/mentoring profile", "x" * 3000, "<!channel>:" + values[0].partition(":")[2]):
        assert slack_home.parse_value(b"key", TEAM_ID, MEMBER, forged) is None
    # a reply of more blocks than a Home tab holds is cut, and says so
    many = Reply(title="t", sections=tuple(Section(heading="h", text="w\n" * 1200) for _ in range(12)))
    cut = slack_home.home_view(many, b"key", TEAM_ID, MEMBER)
    assert len(cut["blocks"]) <= 100


def test_the_endpoint_lets_the_new_events_in_with_the_fields_read() -> None:
    event: dict[str, Any] = {"type": "app_home_opened", "user": "U1", "tab": "home", "channel": "D1"}
    opened = {"type": "event_callback", "team_id": TEAM_ID, "event_id": "Ev1", "event": event | {"view": {"id": "V"}}}
    cleaned = clean_payload(opened)
    assert cleaned is not None and cleaned["event"] == event
    member: dict[str, Any] = {"type": "member_joined_channel", "user": "U1", "channel": "C1", "inviter": "U2"}
    cleaned = clean_payload({"type": "event_callback", "team_id": TEAM_ID, "event_id": "Ev2", "event": member})
    assert cleaned is not None and cleaned["event"] == {"type": "member_joined_channel", "user": "U1", "channel": "C1"}


# ---------------------------------------------------------------------------- the Home tab


async def test_home_for_someone_in_no_program(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await m.start_program()
    before = await m.rows()
    view = await open_home(m, "UNOBODY")
    said = texts(view)
    assert view["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": home.TITLE}}
    assert "You are not in a mentoring program yet" in said and "/mentoring join" in said
    assert labels(view) == [] and home.WORKSPACE_HEADING not in said
    assert await m.rows() == before


async def test_home_for_a_member_with_their_last_intro(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.join(MEMBERS[:2])
    view = await open_home(m, MEMBER)
    said = texts(view)
    assert "#mentoring" in said and "Role: peer · You: active" in said
    assert "Next round: Mon 03 Mar 2025, 10:00 UTC" in said and "FHIR" in said
    assert home.NO_INTROS in said and home.WORKSPACE_HEADING not in said
    assert labels(view) == [home.EDIT, home.SNOOZE]
    m.clock.set(ROUND)  # the round: the intro goes out, and shows in the tab
    await m.fake.wait_for("chat.postMessage")
    await m.all_sent(mentoring_tables.intros, 1)
    said = texts(await open_home(m, MEMBER))
    assert f"Mon 03 Mar 2025 · #mentoring · with {MEMBERS[1]} (peer)" in said
    assert "Next round: Mon 17 Mar 2025" in said


async def test_home_for_an_admin_shows_the_workspace_and_no_other(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.join(MEMBERS[:3])
    # another workspace's program, in a channel with a name of its own
    m.fake.channel("C7", name="secret-circle")
    said = await m.say("program create", "UBOSS", team=OTHER_TEAM, channel="C7")
    assert say.CREATED_TITLE.format(channel="#secret-circle") in said, said
    view = await open_home(m, "UBOSS")  # m.start_program made UBOSS a workspace admin
    said = texts(view)
    assert home.WORKSPACE_HEADING in said
    assert "#mentoring: active · 3 members · next round Mon 03 Mar 2025, 10:00 UTC · 0 rounds so far" in said
    assert "secret-circle" not in said
    assert "secret-circle" in texts(await open_home(m, "UBOSS", team=OTHER_TEAM))
    # a plain member of the other workspace sees neither
    assert home.WORKSPACE_HEADING not in texts(await open_home(m, MEMBERS[1]))


async def test_a_redelivered_or_other_tab_event_publishes_nothing_more(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await open_home(m, MEMBER, event_id="EvSame")
    await m.slack.event({"type": "app_home_opened", "user": MEMBER, "tab": "home"}, "EvSame")
    await m.slack.event({"type": "app_home_opened", "user": MEMBER, "tab": "messages"})
    await m.fake.quiesce(m.platform.adapter)
    assert len(m.fake.of("views.publish")) == 1


async def test_snooze_and_resume_from_home(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.join([MEMBER])
    view = await open_home(m, MEMBER)
    answered = len(m.fake.of("response_url"))  # the join's answer, when it came after its ack
    assert await press(m, view, home.SNOOZE) == 200
    snoozed = await next_home(m, MEMBER)
    assert status_line(snoozed) == ":white_check_mark: *Mentoring snoozed until Mon 17 Mar 2025*"
    assert "You: snoozed until Mon 17 Mar 2025" in texts(snoozed)
    row = await member_row(m)
    assert row.state == "snoozed" and row.snooze_until == "2025-03-17"
    assert labels(snoozed) == [home.EDIT, home.RESUME]
    assert await press(m, snoozed, home.RESUME) == 200
    back = await next_home(m, MEMBER)
    assert say.BACK_TITLE in status_line(back) and "You: active" in texts(back)
    assert (await member_row(m)).state == "active"
    await m.fake.quiesce(m.platform.adapter)
    assert len(m.fake.of("response_url")) == answered and m.fake.of("chat.postEphemeral") == []  # nowhere else


@pytest.mark.parametrize("forgery", ["command", "channel", "mac", "someone_elses", "garbage"])
async def test_a_forged_home_button_is_refused_in_the_tab(mentoring_slack: MentoringSlack, forgery: str) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.join(MEMBERS[:2])
    view = await open_home(m, MEMBER)
    value = find_button(view, home.SNOOZE)["value"]
    channel, mac, _ = value.split(":", 2)
    user = MEMBER
    if forgery == "command":
        value = f"{channel}:{mac}:/mentoring leave"
    elif forgery == "channel":
        value = f"C2:{mac}:{home.SNOOZE_COMMAND}"
    elif forgery == "mac":
        value = f"{channel}:{'0' * 32}:{home.SNOOZE_COMMAND}"
    elif forgery == "someone_elses":
        user = MEMBERS[1]  # the member's own button, pressed by someone else
    else:
        value = "cb:run:/mentoring program end"
    before = await m.rows()
    assert await press(m, view, home.SNOOZE, user=user, value=value) == 200
    refused = await next_home(m, user)
    assert status_line(refused) == f":warning: *{slack_home.FORGED}*"
    await m.fake.quiesce(m.platform.adapter)
    assert await m.rows() == before


async def test_a_button_of_a_program_someone_is_no_longer_in(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.join([MEMBER])
    view = await open_home(m, MEMBER)
    said = await m.say("leave", MEMBER)
    assert say.LEFT_TITLE.format(channel="#mentoring") in said
    # a valid button, for a program they left (or a stale tab of someone never in it)
    stranger = slack_home.action_value(m.platform.adapter.form_key, TEAM_ID, "USTRANGER", "C1", home.SNOOZE_COMMAND)
    before = await m.rows()
    for user, value in ((MEMBER, None), ("USTRANGER", stranger)):
        assert await press(m, view, home.SNOOZE, user=user, value=value) == 200
        refused = await next_home(m, user)
        assert status_line(refused).startswith(":warning: *You are not in the mentoring program of #mentoring")
        assert labels(refused) == []
    await m.fake.quiesce(m.platform.adapter)
    assert await m.rows() == before


async def test_edit_profile_from_home_opens_the_modal_and_saving_publishes_home(
    mentoring_slack: MentoringSlack,
) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.join([MEMBER])
    view = await open_home(m, MEMBER)
    assert await press(m, view, home.EDIT) == 200
    opened = await m.fake.wait_for("views.open")
    assert opened.body["trigger_id"] == "9.9.9"
    modal = opened.body["view"]
    assert modal["callback_id"] == "cb_form:mentoring-profile" and modal["private_metadata"].startswith("C1:")
    assert modal["external_id"].startswith(slack_home.FROM_HOME)
    check_view(modal)
    assert "standard:fhir" in json.dumps(modal["blocks"])  # filled in with the profile (m.join: knows:fhir)
    await m.fake.quiesce(m.platform.adapter)
    assert len(m.fake.of("views.publish")) == 1  # the tab stays as it is while the modal is open
    status, answer = await submit(m, modal, state(timezone="Asia/Tokyo", wants=["standard:dicom"]), user=MEMBER)
    assert status == 200 and answer == {}
    saved = await next_home(m, MEMBER)
    assert status_line(saved) == f":white_check_mark: *{say.UPDATED_TITLE.format(channel='#mentoring')}*"
    assert "Time zone: Asia/Tokyo" in texts(saved) and "DICOM" in texts(saved)
    row = await member_row(m)
    assert row.timezone == "Asia/Tokyo" and row.wants == "standard:dicom"
    await m.fake.quiesce(m.platform.adapter)
    assert m.fake.of("chat.postEphemeral") == [] and m.fake.of("chat.postMessage") == []


async def test_edit_profile_with_an_expired_trigger_says_how_in_the_tab(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.join([MEMBER])
    view = await open_home(m, MEMBER)
    m.fake.fail("views.open", "expired_trigger_id")
    assert await press(m, view, home.EDIT) == 200
    shown = await next_home(m, MEMBER)
    assert "/mentoring profile knows:" in status_line(shown)


async def test_a_refused_publish_is_logged_and_nothing_breaks(
    mentoring_slack: MentoringSlack, caplog: pytest.LogCaptureFixture
) -> None:
    m = mentoring_slack
    m.fake.fail("views.publish", "not_enabled")  # the Home tab is off in the app's settings
    await m.slack.event({"type": "app_home_opened", "user": MEMBER, "tab": "home"})

    async def tried() -> bool:
        return bool(m.fake.of("views.publish"))

    await m.eventually(tried)
    await m.fake.quiesce(m.platform.adapter)
    assert [c.error for c in m.fake.of("views.publish")] == ["not_enabled"]
    assert "views.publish failed: not_enabled" in caplog.text and "Traceback" not in caplog.text


# ---------------------------------------------------------------------------- onboarding


def joined(user: str, channel: str = "C1") -> dict[str, Any]:
    return {"type": "member_joined_channel", "user": user, "channel": channel, "channel_type": "C", "team": TEAM_ID}


async def test_joining_a_channel_with_a_program_brings_one_invitation(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.join([MEMBER])
    m.fake.channel("C9", name="random")
    before = await m.rows()
    assert await m.slack.event(joined("UNEW"), "EvJoin") == 200
    assert await m.slack.event(joined("UNEW"), "EvJoin") == 200  # Slack's redelivery
    assert await m.slack.event(joined(BOT_USER_ID)) == 200  # the bot itself
    assert await m.slack.event(joined(MEMBER)) == 200  # already in the program
    assert await m.slack.event(joined("UNEW", "C9")) == 200  # no program there
    call = await m.fake.wait_for("chat.postEphemeral")
    await m.fake.quiesce(m.platform.adapter)
    assert len(m.fake.of("chat.postEphemeral")) == 1
    assert call.body["channel"] == "C1" and call.body["user"] == "UNEW"
    invitation = {"text": call.body["text"], "blocks": call.body["blocks"]}
    assert problems(Message(**invitation)) == []
    assert "Mentoring in #mentoring" in texts(invitation) and "opt-in" in texts(invitation)
    assert find_button(invitation, home.JOIN_LABEL)["action_id"] == slack_home.JOIN_ID
    assert find_button(invitation, home.ABOUT_LABEL)["action_id"].startswith("cb_run")
    assert await m.rows() == before  # nobody enrolled, nothing written
    assert m.fake.posts(TEAM_ID, "C1") == []  # nothing public


async def test_no_invitation_when_the_program_is_paused(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await m.start_program()
    assert "paused" in (await m.say("program pause", "UBOSS")).lower()
    await m.slack.event(joined("UNEW"))
    await m.fake.quiesce(m.platform.adapter)
    assert m.fake.of("chat.postEphemeral") == []


async def test_the_invitations_join_button_joins_and_opens_the_profile_form(mentoring_slack: MentoringSlack) -> None:
    m = mentoring_slack
    await m.start_program()
    await m.slack.event(joined("UNEW"))
    call = await m.fake.wait_for("chat.postEphemeral")
    invitation = {"blocks": call.body["blocks"]}
    user = {"id": "UNEW", "username": "n", "team_id": TEAM_ID}
    assert await m.slack.click(invitation, home.JOIN_LABEL, user=user) == 200
    answer = await m.slack.next_response()
    assert say.JOINED_TITLE.format(channel="#mentoring") in texts(answer) and answer["response_type"] == "ephemeral"
    opened = await m.fake.wait_for("views.open")
    modal = opened.body["view"]
    assert modal["callback_id"] == "cb_form:mentoring-profile" and modal["private_metadata"].startswith("C1:")
    assert "external_id" not in modal  # not from the Home tab: saving answers in the channel
    assert (await member_row(m, "UNEW")).state == "active"
