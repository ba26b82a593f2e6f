"""The Slack listeners' remaining paths, through the real Bolt app on 127.0.0.1 and the fake Slack:
a picker with nothing picked, Share on a public message and Share nowhere to post, removal events
without a workspace, events without an id or past the redelivery memory, a store that cannot say
whether an event was seen, the bounded answer and admin caches, a failing answer in the queue and
in a follow-up, closing with answers in progress, and Join without mentoring."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest

from adapters import buttons
from adapters.slack_bot import home as slack_home
from adapters.slack_bot import listeners as slack_listeners
from adapters.slack_bot.listeners import form_errors, pressed_message
from adapters.slack_bot.render import plain
from bot.commands import Invocation
from bot.context import Services
from bot.core import Core
from bot.forms import Form, FormField
from bot.knowledge.loader import default_knowledge_dir
from bot.mentoring import messages as say
from bot.reply import Reply
from bot.store.deliveries import deliveries
from bot.store.engine import Store
from tests.fakes.slack import BOT_USER_ID, TEAM_ID, FakeSlack
from tests.slack.conftest import SlackHarness, find_button, start_platform, stop_platform, texts

NOT_EPHEMERAL = {"type": "message", "message_ts": "1.1", "channel_id": "C1", "is_ephemeral": False}


def messages(caplog: pytest.LogCaptureFixture, logger: str = "careerbot.slack") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def mention(text: str, ts: str = "5.0", channel: str = "C5") -> dict[str, Any]:
    return {"type": "app_mention", "user": "U1", "text": f"<@{BOT_USER_ID}> {text}", "ts": ts, "channel": channel}


async def post_event(slack: SlackHarness, body: dict[str, Any]) -> int:
    status, _, _ = await slack.post(json.dumps(body), content_type="application/json")
    return status


# ---------------------------------------------------------------------------- pure helpers


def test_a_press_on_a_message_without_a_channel_or_ts_edits_nothing() -> None:
    action = {"value": "v"}
    for container in (
        {"type": "message", "channel_id": "", "message_ts": "1.1"},
        {"type": "message", "channel_id": "C1", "message_ts": 11},
        {"type": "message", "message_ts": "1.1"},
    ):
        assert pressed_message({"container": container}, action) is None
    assert pressed_message({"container": {"type": "message", "channel_id": "C1", "message_ts": "1.1"}}, action) == (
        "C1",
        "1.1",
    )


def test_a_form_other_than_the_profile_brings_no_checks_of_the_profiles(core: Core) -> None:
    other = Form(
        id="feedback",
        title="Feedback",
        submit="Send",
        command="mentoring",
        fields=(FormField(name="role", label="Role"),),
    )
    assert form_errors(other, core.kb, {"role": "no-such-role"}) == {}


# ---------------------------------------------------------------------------- buttons and pickers


async def test_a_picker_with_nothing_picked_or_not_ours_runs_nothing(slack: SlackHarness) -> None:
    nothing = {"type": "external_select", "action_id": "cb_pick:role:query", "block_id": "b1", "action_ts": "1.1"}
    not_ours = nothing | {"action_id": "cb_pick:role", "selected_option": {"value": "ehr"}}
    for action in (nothing, not_ours):
        status, _, _ = await slack.post(slack.interaction({"type": "block_actions", "actions": [action]}))
        assert status == 200
    picked = nothing | {"selected_option": {"value": "pacs"}}  # then one that runs: answered after them
    assert (await slack.post(slack.interaction({"type": "block_actions", "actions": [picked]})))[0] == 200
    answer = await slack.next_response()
    await slack.fake.quiesce(slack.platform.adapter)
    assert "PACS" in texts(answer)
    assert len(slack.fake.of("response_url")) == 1


async def test_share_from_a_public_message_posts_it_and_deletes_nothing(slack: SlackHarness) -> None:
    private = await slack.command("/role", "ehr")
    assert await slack.click(private, "Share in channel", container=NOT_EPHEMERAL) == 200
    public = await slack.next_response()
    await slack.fake.quiesce(slack.platform.adapter)
    assert public["response_type"] == "in_channel"
    assert [c.body for c in slack.fake.of("response_url")] == [public]  # no delete_original


async def test_share_where_the_bot_cannot_post_tells_the_user_to_invite_it(slack: SlackHarness) -> None:
    private = await slack.command("/role", "ehr")
    slack.fake.fail("response_url", status=404, error="expired_url")
    slack.fake.channel("C1", is_member=False)
    assert await slack.click(private, "Share in channel") == 200
    notice = await slack.fake.wait_for("chat.postEphemeral")
    await slack.fake.quiesce(slack.platform.adapter)
    assert (notice.body["channel"], notice.body["user"]) == ("C1", "U1")
    assert notice.body["text"].startswith("I couldn't post in this channel. Invite me with `/invite @careerbot`")
    assert [c.error for c in slack.fake.of("chat.postMessage")] == ["not_in_channel"]
    assert slack.fake.posts() == []


async def test_a_press_without_a_response_url_is_answered_by_chat_post_ephemeral(
    slack: SlackHarness, core: Core
) -> None:
    message = await slack.command("/role", "ehr")
    element = find_button(message, "Learning path")
    payload = slack.interaction({"type": "block_actions", "actions": [{**element, "block_id": "b1"}]})
    raw = json.loads(dict(parse_qsl(payload))["payload"])
    del raw["response_url"]  # Slack sends none from some surfaces
    status, _, _ = await slack.post(urlencode({"payload": json.dumps(raw)}))
    assert status == 200
    answer = await slack.fake.wait_for("chat.postEphemeral")
    assert (answer.body["channel"], answer.body["user"]) == ("C1", "U1")
    blocks = answer.body["blocks"]
    first = (json.loads(blocks) if isinstance(blocks, str) else blocks)[0]
    expected = (await core.ask("/path ehr", platform="slack")).title
    assert first["type"] == "header" and first["text"]["text"] == plain(expected, 150)
    assert slack.fake.of("response_url") == []


# ---------------------------------------------------------------------------- events


async def test_removal_without_a_workspace_id_deletes_nothing_and_says_so(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"token": "legacy", "api_app_id": "A1", "type": "event_callback", "event_id": "EvGone"}
    with caplog.at_level(logging.INFO, logger="careerbot.slack"):
        assert await post_event(slack, body | {"event": {"type": "app_uninstalled"}}) == 200
        await slack.fake.quiesce(slack.platform.adapter)
    assert "slack: app_uninstalled without a workspace id; nothing deleted" in messages(caplog)
    assert {c.method for c in slack.fake.calls} == {"auth.test"}


async def test_an_event_without_an_id_is_still_answered(slack: SlackHarness) -> None:
    body = {"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A1", "type": "event_callback"}
    assert await post_event(slack, body | {"event": mention("fhir", ts="7.0")}) == 200
    call = await slack.fake.wait_for("chat.postMessage")
    assert (call.body["channel"], call.body["thread_ts"]) == ("C5", "7.0")


async def test_redeliveries_are_remembered_up_to_a_bound_the_oldest_forgotten_first(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack_listeners, "SEEN_EVENTS_MAX", 2)
    for event_id in ("Ev1", "Ev2", "Ev3", "Ev1", "Ev3"):  # Ev1 forgotten by then; Ev3 remembered
        assert await slack.event(mention("fhir", ts=event_id.removeprefix("Ev") + ".0"), event_id) == 200
    await slack.fake.quiesce(slack.platform.adapter)
    assert sorted(c.body["thread_ts"] for c in slack.fake.of("chat.postMessage")) == ["1.0", "1.0", "2.0", "3.0"]


async def test_a_store_that_cannot_say_whether_an_event_was_seen_answers_it(
    fake: FakeSlack, clean_env: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = tmp_path / "careerbot.db"
    damaged.write_bytes(b"not a database\n" * 100)
    services = Services(url=f"sqlite+aiosqlite:///{damaged}", environ={})
    core = Core(default_knowledge_dir(), services=services, rng=random.Random(2))
    platform, task = await start_platform(core, fake)
    try:
        async with aiohttp.ClientSession() as http:
            slack = SlackHarness(platform, fake, http)
            with caplog.at_level(logging.WARNING, logger="careerbot.slack"):
                assert await slack.event(mention("fhir", ts="8.0"), "EvStore1") == 200
                call = await fake.wait_for("chat.postMessage")
                await fake.quiesce(platform.adapter)
    finally:
        await stop_platform(platform, task)
        await services.aclose()
    assert call.body["thread_ts"] == "8.0"
    (line,) = [m for m in messages(caplog) if "cannot check event" in m]
    assert line.startswith("slack: cannot check event EvStore1 with the store (") and line.endswith("); answering it")


async def test_two_replicas_on_one_store_answer_an_event_once(
    fake: FakeSlack, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'careerbot.db'}", migrate=False, environ={})
    async with store.begin() as conn:  # the one table this needs, without running every migration
        await conn.run_sync(deliveries.create)
    replicas = []
    for seed in (1, 2):  # two processes' cores on one database
        core = Core(default_knowledge_dir(), services=Services(store=store, environ={}), rng=random.Random(seed))
        replicas.append(await start_platform(core, fake))
    try:
        async with aiohttp.ClientSession() as http:
            first, second = (SlackHarness(platform, fake, http) for platform, _ in replicas)
            assert await first.event(mention("fhir", ts="1.0"), "EvTwice") == 200
            await fake.wait_for("chat.postMessage")
            assert await second.event(mention("fhir", ts="1.0"), "EvTwice") == 200  # Slack's retry, elsewhere
            await fake.quiesce(second.platform.adapter)
            assert await first.event(mention("hl7", ts="2.0"), "EvNext") == 200  # the first again, soon after
            await fake.wait_for("chat.postMessage", 2)
            for platform, _ in replicas:
                await fake.quiesce(platform.adapter)
    finally:
        for platform, task in replicas:
            await stop_platform(platform, task)
        await store.close()
    assert sorted(c.body["thread_ts"] for c in fake.of("chat.postMessage")) == ["1.0", "2.0"]


# ---------------------------------------------------------------------------- caches


async def test_the_answer_cache_keeps_only_its_size_of_answers(
    slack: SlackHarness, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    answer = core.answer

    async def counting(invocation: Invocation) -> Reply:
        asked.append(invocation.text)
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", counting)
    slack.platform.adapter.cache.size = 1
    first = await slack.command("/role", "ehr")
    await slack.command("/role", "pacs")  # pushes /role ehr out
    again = await slack.command("/role", "ehr")
    assert again["blocks"] == first["blocks"]
    assert asked == ["ehr", "pacs", "ehr"]  # asked again: it had been forgotten


async def test_admin_status_is_remembered_for_a_bounded_number_of_people(slack: SlackHarness) -> None:
    slack.platform.adapter.admins.size = 1
    for user in ("U1", "U2", "U1", "U1"):  # U1 forgotten once U2 asked; then remembered again
        await slack.command("/tips", "", user=user)
    assert [c.body["user"] for c in slack.fake.of("users.info")] == ["U1", "U2", "U1"]


# ---------------------------------------------------------------------------- failures in the background


async def test_an_answer_that_fails_in_the_queue_is_one_line_and_the_queue_goes_on(
    slack: SlackHarness, core: Core, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    answer = core.answer

    async def broken_path(invocation: Invocation) -> Reply:
        if invocation.command == "path":
            raise RuntimeError("a bug answering /path ehr")
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", broken_path)
    message = await slack.command("/role", "ehr")
    with caplog.at_level(logging.ERROR, logger="careerbot.slack"):
        assert await slack.click(message, "Learning path") == 200
        assert await slack.click(message, "Share in channel") == 200
        shared = await slack.next_response()
        await slack.fake.quiesce(slack.platform.adapter)
    assert shared["response_type"] == "in_channel"
    (line,) = messages(caplog)
    assert line.startswith("slack: answering a request failed (RuntimeError at test_cover_listeners.py:")
    assert "bug" not in caplog.text  # the type and where, never the message
    assert [c.body.get("response_type") for c in slack.fake.of("response_url")] == ["in_channel", None]


async def test_a_follow_up_that_fails_is_one_line_and_nothing_is_sent(
    slack: SlackHarness, core: Core, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()

    async def slow_then_broken(invocation: Invocation) -> Reply:
        await release.wait()  # past the ack: the answer would follow through the response_url
        raise RuntimeError("a bug after the ack")

    monkeypatch.setattr(core, "answer", slow_then_broken)
    monkeypatch.setattr(slack_listeners, "ACK_BUDGET", 0.05)
    with caplog.at_level(logging.ERROR, logger="careerbot.slack"):
        status, text, _ = await slack.post(slack.command_body("/role", "ehr"))
        release.set()
        await slack.fake.quiesce(slack.platform.adapter)
    assert (status, text) == (200, "")
    (line,) = messages(caplog)
    assert line.startswith("slack: handling a request failed (RuntimeError at test_cover_listeners.py:")
    assert slack.fake.of("response_url") == []


async def test_closing_the_platform_cancels_answers_in_progress_and_sends_nothing(
    core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck(invocation: Invocation) -> Reply:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    monkeypatch.setattr(core, "answer", stuck)
    monkeypatch.setattr(slack_listeners, "ACK_BUDGET", 0.05)
    platform, task = await start_platform(core, fake)
    async with aiohttp.ClientSession() as http:
        slack = SlackHarness(platform, fake, http)
        status, text, _ = await slack.post(slack.command_body("/role", "ehr"))
    assert (status, text) == (200, "")  # acked empty; the answer still being computed
    await asyncio.wait_for(started.wait(), 10)
    assert platform.adapter.tasks  # the follow-up waiting for it
    await stop_platform(platform, task)
    assert cancelled.is_set() and not platform.adapter.tasks
    assert fake.of("response_url") == [] and fake.of("chat.postEphemeral") == []


# ---------------------------------------------------------------------------- onboarding without mentoring


@pytest.mark.parametrize("where", ["in-a-channel", "in-a-dm-without-a-trigger"])
async def test_join_without_mentoring_here_says_so_privately_and_opens_no_form(slack: SlackHarness, where: str) -> None:
    join = {
        "type": "button",
        "action_id": slack_home.JOIN_ID,
        "block_id": "b1",
        "value": buttons.encode("run", "/mentoring join"),
        "action_ts": str(time.time()),
    }
    payload: dict[str, Any] = {"type": "block_actions", "actions": [join]}
    if where != "in-a-channel":
        payload |= {"channel": {"id": "D1", "name": "directmessage"}, "trigger_id": ""}
    assert (await slack.post(slack.interaction(payload)))[0] == 200
    answer = await slack.next_response()
    await slack.fake.quiesce(slack.platform.adapter)
    assert answer["response_type"] == "ephemeral"
    assert say.UNAVAILABLE_TITLE in texts(answer)
    assert slack.fake.of("views.open") == []
