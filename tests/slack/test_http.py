"""The real slack-bolt AsyncApp in HTTP mode on a real 127.0.0.1 port, driven with signed requests
as Slack sends them, answering through a fake Slack Web API."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from adapters import buttons
from adapters.slack_bot import listeners as slack_listeners
from adapters.slack_bot.listeners import ACK_BUDGET
from adapters.slack_bot.render import parse_more, plain
from bot.commands import Invocation
from bot.core import Core
from bot.reply import Reply, Section
from tests.fakes.slack import FakeSlack
from tests.mentions import live_mentions
from tests.slack.conftest import (
    BOT_TOKEN,
    SECRET,
    SlackHarness,
    find_button,
    sign,
    start_platform,
    stop_platform,
    texts,
)


def header(message: dict[str, Any]) -> str:
    first = message["blocks"][0]
    assert first["type"] == "header"
    return str(first["text"]["text"])


async def title_of(core: Core, text: str) -> str:
    return plain((await core.ask(text, platform="slack")).title, 150)


# ---------------------------------------------------------------------------- commands


async def test_role_ehr_answers_with_the_ehr_role_privately_in_the_ack(slack: SlackHarness, core: Core) -> None:
    status, body, _ = await slack.post(slack.command_body("/role", "ehr"))
    assert status == 200 and body  # the answer is the ack itself (how fast: bench.slack_http)
    message = json.loads(body)
    assert header(message) == await title_of(core, "/role ehr")
    assert message["response_type"] == "ephemeral"
    assert message["text"].startswith(header(message))
    await slack.fake.quiesce(slack.platform.adapter)  # all the command set off has finished
    assert slack.fake.of("response_url") == []  # answered in the ack: no extra round trip
    share = find_button(message, "Share in channel")
    assert buttons.decode(share["value"]) == ("share", "/role ehr")


async def test_every_declared_command_answers(slack: SlackHarness, core: Core) -> None:
    for command in core.registry:
        example = next((e for e in command.examples if " " in e), f"/{command.name}")
        name, _, text = example.partition(" ")
        message = await slack.command(name, text)
        if command.name == "tip":
            assert header(message).startswith("Tip"), message
        else:
            assert header(message) == await title_of(core, example), example
        assert message["text"].strip() and message["response_type"] == "ephemeral"


async def test_the_umbrella_command_runs_any_command(slack: SlackHarness, core: Core) -> None:
    assert header(await slack.command("/career", "role ehr")) == await title_of(core, "/role ehr")
    assert header(await slack.command("/career", "")) == await title_of(core, "/career")


async def test_slack_escaped_text_is_unescaped_before_the_core_sees_it(slack: SlackHarness, core: Core) -> None:
    message = await slack.command("/search", "patient &amp; privacy")
    assert header(message) == await title_of(core, "/search patient & privacy")


@pytest.mark.parametrize("text", ["<!channel> @here <@U123> <#C1>", "&lt;!channel&gt; @everyone &lt;@U123&gt;"])
async def test_hostile_command_text_is_echoed_without_any_live_mention(slack: SlackHarness, text: str) -> None:
    for command in ("/search", "/role", "/tip", "/nosuchcommand"):
        message = await slack.command(command, text)
        assert live_mentions(json.dumps(message, ensure_ascii=False)) == [], command
        assert live_mentions(texts(message)) == []


async def test_prefixed_commands(core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch) -> None:
    platform, task = await start_platform(core, fake, careerbot_command_prefix="cb-")
    try:
        async with aiohttp.ClientSession() as http:
            slack = SlackHarness(platform, fake, http)
            assert header(await slack.command("/cb-role", "ehr")) == await title_of(core, "/role ehr")
            assert header(await slack.command("/cb-career", "skills")) == await title_of(core, "/career skills")
    finally:
        await stop_platform(platform, task)


async def test_ack_comes_in_time_however_slow_the_core_is(
    slack: SlackHarness, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    answer = core.answer

    async def slow(invocation: Invocation) -> Reply:
        await release.wait()  # the answer cannot finish before the test sees the ack
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", slow)
    status, body, seconds = await slack.post(slack.command_body("/role", "ehr"))
    # an empty ack while the answer is still blocked on ``release``: the ack cannot have waited for
    # it, however slow it is (how long acks take under load: bench.slack_http --in-flight)
    assert (status, body) == (200, "")
    assert seconds >= ACK_BUDGET  # ... after the bot gave the core its budget to answer in the ack
    assert slack.fake.of("response_url") == []
    release.set()
    message = await slack.next_response()  # ... and the answer follows through response_url
    assert header(message) == await title_of(core, "/role ehr")
    assert message["response_type"] == "ephemeral" and message["replace_original"] is False


async def test_pure_answers_are_rendered_once_per_knowledge_tree(
    slack: SlackHarness, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    answer = core.answer

    async def spy(invocation: Invocation) -> Reply:
        calls.append(invocation.command)
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", spy)
    first = await slack.command("/role", "ehr")
    assert await slack.command("/role", "ehr", user="U2", channel="C2") == first  # anyone, anywhere
    assert calls == ["role"]
    for _ in range(3):
        assert header(await slack.command("/tip")).startswith("Tip")
    assert calls == ["role", "tip", "tip", "tip"]  # a tip is not pure (random): never cached
    await slack.command("/tips", "list")
    await slack.command("/tips", "list", user="U2", channel="C2")
    assert calls[-2:] == ["tips", "tips"]  # a workspace's subscriptions are state: never cached
    monkeypatch.setattr(core, "kb", copy.copy(core.kb))  # what a knowledge reload does
    assert await slack.command("/role", "ehr") == first
    assert calls == ["role", "tip", "tip", "tip", "tips", "tips", "role"]


# ---------------------------------------------------------------------------- signatures


def _now() -> int:
    return int(time.time())


BAD_SIGNATURES: dict[str, Callable[[str], dict[str, str]]] = {
    "missing": lambda body: {},
    "signature-of-another-body": lambda body: sign(body + "&text=other"),
    "wrong-secret": lambda body: sign(body, secret="not-the-secret"),
    "stale-6-minutes": lambda body: sign(body, timestamp=_now() - 6 * 60),
    "from-the-future": lambda body: sign(body, timestamp=_now() + 6 * 60),
    "garbage": lambda body: {"X-Slack-Request-Timestamp": str(_now()), "X-Slack-Signature": "v0=00"},
    "no-timestamp": lambda body: {"X-Slack-Signature": sign(body)["X-Slack-Signature"]},
}


@pytest.mark.parametrize("case", BAD_SIGNATURES)
async def test_unverified_requests_get_401_and_reach_no_handler(
    slack: SlackHarness, core: Core, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    calls: list[Invocation] = []
    answer = core.answer

    async def spy(invocation: Invocation) -> Reply:
        calls.append(invocation)
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", spy)
    body = slack.command_body("/role", "ehr")
    status, text, _ = await slack.post(body, headers=BAD_SIGNATURES[case](body))
    assert status == 401
    assert json.loads(text) == {"error": "invalid request"}
    await slack.fake.quiesce(slack.platform.adapter)  # refused before Bolt: nothing was started
    assert calls == []
    assert [c.method for c in slack.fake.calls] == ["auth.test"]  # the start-up check, nothing since
    status, text, _ = await slack.post(body)  # the same request correctly signed does get through
    assert status == 200 and "blocks" in json.loads(text)
    assert len(calls) == 1


async def test_a_signature_four_minutes_old_is_still_accepted(slack: SlackHarness) -> None:
    body = slack.command_body("/why")
    status, text, _ = await slack.post(body, headers=sign(body, timestamp=int(time.time()) - 4 * 60))
    assert status == 200
    assert header(json.loads(text))


async def test_a_stale_correctly_signed_request_gets_401(slack: SlackHarness) -> None:
    body = slack.command_body("/why")
    status, _, _ = await slack.post(body, headers=sign(body, timestamp=int(time.time()) - 301))
    assert status == 401


# ---------------------------------------------------------------------------- buttons


async def test_share_posts_the_same_answer_publicly_and_removes_the_private_one(slack: SlackHarness) -> None:
    private = await slack.command("/role", "ehr")
    assert await slack.click(private, "Share in channel") == 200
    public = await slack.next_response()
    assert public["response_type"] == "in_channel"
    assert public["blocks"][:-1] == private["blocks"][:-1]  # the same answer ...
    labels = [e["text"]["text"] for e in public["blocks"][-1]["elements"]]
    assert "Share in channel" not in labels  # ... without sharing it twice
    cleanup = await slack.next_response()
    assert cleanup == {"delete_original": True}


async def test_share_falls_back_to_chat_post_message_when_the_response_url_is_spent(slack: SlackHarness) -> None:
    private = await slack.command("/standard", "fhir")
    slack.fake.fail("response_url", status=404, error="expired_url")
    assert await slack.click(private, "Share in channel") == 200
    posted = (await slack.fake.wait_for("chat.postMessage")).body
    assert posted["channel"] == "C1"
    assert posted["blocks"][0] == private["blocks"][0]


async def test_a_follow_up_button_runs_its_command(slack: SlackHarness, core: Core) -> None:
    message = await slack.command("/role", "ehr")
    assert await slack.click(message, "Learning path") == 200
    answer = await slack.next_response()
    assert header(answer) == await title_of(core, "/path ehr")
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False


async def test_more_shows_the_next_page_of_a_long_answer(
    slack: SlackHarness, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = core.answer

    async def long_search(invocation: Invocation) -> Reply:
        if invocation.command == "search":
            sections = tuple(Section(heading=f"Part {i}", text="word " * 500) for i in range(12))
            return Reply(title="A long answer", summary="It goes on.", sections=sections)
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", long_search)
    first = await slack.command("/search", "everything")
    more = find_button(first, "More (2/3)")
    assert parse_more(more["action_id"]) == 2
    assert await slack.click(first, "More (2/3)") == 200
    second = await slack.next_response()
    assert header(second) == "A long answer (2/3)"
    assert "*Part 4*" in texts(second) and "*Part 0*" not in texts(second)


async def test_a_button_from_someone_else_is_ignored(slack: SlackHarness) -> None:
    message = {
        "blocks": [
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"text": "x"}, "action_id": "cb_run_0", "value": "evil"}],
            }
        ]
    }
    assert await slack.click(message, "x") == 200
    # then a button of ours: handled after it and the same way, so once that one is answered the
    # first click has had its chance to be answered too
    ours = json.loads((await slack.post(slack.command_body("/role", "ehr")))[1])
    assert await slack.click(ours, "Share in channel") == 200
    shared = await slack.next_response()
    assert shared["response_type"] == "in_channel" and header(shared) == header(ours)
    await slack.fake.quiesce(slack.platform.adapter)  # and whatever either press set off has finished
    # that answer and its cleanup (the private original removed), and nothing for the foreign button
    assert [c.body for c in slack.fake.of("response_url")] == [shared, {"delete_original": True}]


# ---------------------------------------------------------------------------- option pickers


async def test_a_list_offers_a_picker_whose_options_come_from_the_knowledge(slack: SlackHarness, core: Core) -> None:
    listing = await slack.command("/role", "")
    selects = [
        e for b in listing["blocks"] if b["type"] == "actions" for e in b["elements"] if e["type"] == "external_select"
    ]
    assert [s["action_id"] for s in selects] == ["cb_pick:role:query"]
    suggestion = {
        "type": "block_suggestion",
        "action_id": "cb_pick:role:query",
        "block_id": "b1",
        "value": "ehr",
    }
    status, body, _ = await slack.post(slack.interaction(suggestion))
    assert status == 200  # the options are in the response itself (how fast: bench.slack_http)
    options = json.loads(body)["options"]
    expected = core.autocomplete("role", "query", "ehr")
    assert [o["value"] for o in options] == [value for _, value in expected]
    assert all(o["text"]["type"] == "plain_text" and len(o["text"]["text"]) <= 75 for o in options)

    chosen = {"action_id": "cb_pick:role:query", "block_id": "b1", "type": "external_select", "action_ts": "1.2"}
    chosen["selected_option"] = options[0]
    status, _, _ = await slack.post(slack.interaction({"type": "block_actions", "actions": [chosen]}))
    assert status == 200
    assert header(await slack.next_response()) == await title_of(core, f"/role {options[0]['value']}")


async def test_a_missing_required_option_offers_the_picker(slack: SlackHarness) -> None:
    message = await slack.command("/path", "")
    assert "cb_pick:path:role" in json.dumps(message["blocks"])


# ---------------------------------------------------------------------------- mentions and DMs


async def test_a_mention_is_answered_in_thread_with_the_best_match(slack: SlackHarness, core: Core) -> None:
    event = {
        "type": "app_mention",
        "user": "U1",
        "text": "<@UBOT> what does an EHR developer do?",
        "ts": "1700000000.000100",
        "channel": "C1",
    }
    assert await slack.event(event) == 200
    call = await slack.fake.wait_for("chat.postMessage")
    assert call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert call.body["channel"] == "C1"
    assert call.body["thread_ts"] == "1700000000.000100"
    assert header(call.body) == await title_of(core, "what does an EHR developer do?")
    assert "Share in channel" not in texts(call.body)  # it is already public


async def test_a_mention_inside_a_thread_answers_in_that_thread(slack: SlackHarness) -> None:
    event = {
        "type": "app_mention",
        "user": "U1",
        "text": "<@UBOT> /role ehr",
        "ts": "2.0",
        "thread_ts": "1.0",
        "channel": "C1",
    }
    await slack.event(event)
    assert (await slack.fake.wait_for("chat.postMessage")).body["thread_ts"] == "1.0"


async def test_a_redelivered_event_is_answered_once(slack: SlackHarness) -> None:
    event = {"type": "app_mention", "user": "U1", "text": "<@UBOT> fhir", "ts": "3.0", "channel": "C1"}
    await slack.event(event, event_id="EvSAME")
    await slack.event(event, event_id="EvSAME")
    await slack.fake.wait_for("chat.postMessage")
    await slack.fake.quiesce(slack.platform.adapter)  # both deliveries handled to the end
    assert len(slack.fake.of("chat.postMessage")) == 1


async def test_a_direct_message_is_answered_and_bot_messages_are_not(slack: SlackHarness, core: Core) -> None:
    base = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "ts": "4.0"}
    await slack.event({**base, "text": "hipaa"})
    call = await slack.fake.wait_for("chat.postMessage")
    assert (call.body["channel"], call.body["thread_ts"]) == ("D1", "4.0")
    assert header(call.body) == await title_of(core, "hipaa")
    await slack.event({**base, "text": "gdpr", "bot_id": "B2"})
    await slack.event({**base, "text": "gdpr", "subtype": "message_changed"})
    await slack.event({**base, "text": "gdpr", "channel_type": "channel"})
    await slack.fake.quiesce(slack.platform.adapter)  # the three handled to the end
    assert len(slack.fake.of("chat.postMessage")) == 1


# ---------------------------------------------------------------------------- faults


async def test_a_429_is_retried_after_retry_after(slack: SlackHarness) -> None:
    slack.fake.fail("chat.postMessage", status=429, retry_after=1)
    await slack.event({"type": "app_mention", "user": "U1", "text": "<@UBOT> fhir", "ts": "5.0", "channel": "C1"})
    retried = await slack.fake.wait_for("chat.postMessage", timeout=10)
    limited, ok = slack.fake.of("chat.postMessage")
    assert (limited.status, ok.status) == (429, 200)
    assert ok is retried and ok.at - limited.at >= 1.0
    assert ok.body == limited.body


async def test_a_429_on_the_response_url_is_retried(slack: SlackHarness) -> None:
    message = await slack.command("/standard", "dicom")
    slack.fake.fail("response_url", status=429, retry_after=1)
    await slack.click(message, find_button(message, "Share in channel")["text"]["text"])
    message = await slack.next_response()
    limited, ok = slack.fake.of("response_url")[:2]
    assert (limited.status, ok.status) == (429, 200) and ok.at - limited.at >= 1.0
    assert message == ok.body


async def test_a_dropped_connection_is_retried(slack: SlackHarness) -> None:
    message = await slack.command("/why")
    slack.fake.fail("response_url", status=0)  # close the connection without answering
    await slack.click(message, "A tip")
    answer = await slack.next_response()
    assert [c.ok for c in slack.fake.of("response_url")] == [False, True]
    assert header(answer).startswith("Tip")


async def test_a_failed_post_is_logged_with_slacks_error_and_the_app_carries_on(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fake.fail("chat.postMessage", error="channel_not_found")
    with caplog.at_level(logging.WARNING, logger="careerbot.slack"):
        await slack.event({"type": "app_mention", "user": "U1", "text": "<@UBOT> fhir", "ts": "6.0", "channel": "C9"})
        await slack.fake.quiesce(slack.platform.adapter)  # the answer's post tried and logged
    assert "chat.postMessage failed: channel_not_found" in caplog.text
    assert header(await slack.command("/role", "ehr"))  # still serving


async def test_when_the_response_url_fails_the_answer_goes_by_chat_post_ephemeral(
    slack: SlackHarness, core: Core, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    answer = core.answer

    async def slow(invocation: Invocation) -> Reply:
        await release.wait()  # the answer misses the ack and follows through the response_url
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", slow)
    monkeypatch.setattr(slack_listeners, "ACK_BUDGET", 0.05)
    slack.fake.fail("response_url", status=404, error="expired_url")
    with caplog.at_level(logging.WARNING, logger="careerbot.slack"):
        status, _, _ = await slack.post(slack.command_body("/role", "ehr", user="U7", channel="C7"))
        release.set()  # acked (empty) by now
        call = await slack.fake.wait_for("chat.postEphemeral")
    assert status == 200
    assert (call.body["channel"], call.body["user"]) == ("C7", "U7")
    assert "response_url post failed: expired_url (HTTP 404)" in caplog.text


# ---------------------------------------------------------------------------- the server


async def test_healthz_on_the_same_server(slack: SlackHarness) -> None:
    async with slack.http.get(f"http://127.0.0.1:{slack.platform.port}/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"ok": True, "platform": "slack", "mode": "http"}


async def test_url_verification_challenge(slack: SlackHarness) -> None:
    body = json.dumps({"type": "url_verification", "token": "legacy", "challenge": "abc123"})
    status, text, _ = await slack.post(body, content_type="application/json")
    assert (status, json.loads(text)) == (200, {"challenge": "abc123"})


async def test_tokens_and_secrets_never_reach_the_logs(slack: SlackHarness, caplog: pytest.LogCaptureFixture) -> None:
    with contextlib.ExitStack() as stack:
        for name in (None, "slack_bolt.AsyncApp", "careerbot.slack"):  # Bolt's loggers keep their own level
            stack.enter_context(caplog.at_level(logging.DEBUG, logger=name))
        await slack.command("/role", "ehr")
        await slack.event({"type": "app_mention", "user": "U1", "text": "<@UBOT> fhir", "ts": "7.0", "channel": "C1"})
        await slack.fake.wait_for("chat.postMessage")
        body = urlencode({"command": "/role"})
        await slack.post(body, headers=sign(body, secret="wrong"))
    web_calls = [r.getMessage() for r in caplog.records if "chat.postMessage" in r.getMessage()]
    assert web_calls and "Authorization': '(redacted)'" in "\n".join(web_calls)  # the request was logged ...
    assert BOT_TOKEN not in caplog.text and SECRET not in caplog.text  # ... without the token


@pytest.mark.parametrize(
    ("text", "how"),
    [
        ("difference between fhir and hl7v2", "comparison"),
        ("hipaa vs gdpr", "comparison"),
        ("what's the weather in berlin today", "out-of-scope"),
        ("a good pizza place <!here>", "out-of-scope"),
    ],
)
async def test_comparisons_and_out_of_scope_answers_reach_slack_valid(
    slack: SlackHarness, core: Core, text: str, how: str
) -> None:
    """Through Bolt and the fake Slack: the thread answer is the core's, in valid Block Kit within
    Slack's limits, with no live mention."""
    from slack_sdk.models.blocks import Block

    event = {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}", "ts": "9.0", "channel": "C1"}
    assert await slack.event(event) == 200
    call = await slack.fake.wait_for("chat.postMessage")
    expected = await core.ask(text)
    assert expected.confidence is not None
    assert (expected.confidence.how if how == "comparison" else expected.confidence.answer) == how
    assert header(call.body) == expected.title
    blocks = call.body["blocks"]
    assert 1 <= len(blocks) <= 50 and len(call.body.get("text", "")) <= 4000
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    assert live_mentions(json.dumps(call.body, ensure_ascii=False)) == []
    if how == "comparison":
        assert "What it is" in json.dumps(blocks)
