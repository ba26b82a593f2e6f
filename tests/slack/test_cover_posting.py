"""The Slack poster's and sender's remaining paths against the fake Slack: the memory bounds (pacing
windows, rendered replies, opened group DMs), Slack refusing the people left after some were left
out, an open answer without a conversation, a crash look-up over pages of history, and the sender
giving up on a long Retry-After and on a network that keeps hanging up."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack_bot import posting
from adapters.slack_bot.posting import METADATA_TYPE, SlackTipPoster, Window
from adapters.slack_bot.render import Message
from adapters.slack_bot.send import Sender, retry_handlers
from bot.errors import PostError
from bot.reply import Reply
from bot.schedule.posting import Post
from tests.fakes.slack import FakeSlack

TEAM = "T1"


class StricterSlack(FakeSlack):
    """The fake Slack, refusing what the real one can: some people together though each alone is fine
    (``invalid_user_combination``), an open answered without a conversation, and a channel's history
    in pages of one message (``history_pages``)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused_together: set[frozenset[str]] = set()
        self.no_conversation = False
        self.history_pages: list[dict[str, Any]] | None = None

    def _open(self, team: str, body: dict[str, Any]) -> dict[str, Any]:
        users = frozenset(u for u in str(body.get("users") or "").split(",") if u)
        if users in self.refused_together:
            return {"ok": False, "error": "invalid_user_combination"}
        if self.no_conversation:
            return {"ok": True, "channel": {}}
        return super()._open(team, body)

    def _answer(self, method: str, team: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "conversations.history" and self.history_pages is not None:
            page = int(str(body.get("cursor") or "page:0").removeprefix("page:"))
            found = self.history_pages[page : page + 1]
            following = f"page:{page + 1}" if page + 1 < len(self.history_pages) else ""
            return {
                "ok": True,
                "messages": found,
                "has_more": bool(following),
                "response_metadata": {"next_cursor": following},
            }
        return super()._answer(method, team, body)


@pytest.fixture
async def slack() -> AsyncIterator[StricterSlack]:
    fake = StricterSlack()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def poster(slack: StricterSlack) -> AsyncIterator[SlackTipPoster]:
    made = SlackTipPoster(lambda team: f"xoxb-{team}", base_url=slack.api_url, period=60.0)
    yield made
    await made.close()


def tip(channel: str = "C1", *, key: str = "k1", audience: tuple[str, ...] = (), title: str = "A tip") -> Post:
    reply = Reply(title=title, summary="Read the spec.")
    return Post(tenant=TEAM, channel=channel, reply=reply, key=key, due_at=int(time.time()) - 5, audience=audience)


def keyed(key: str) -> dict[str, Any]:
    return {"ts": "9.9", "text": "x", "metadata": {"event_type": METADATA_TYPE, "event_payload": {"key": key}}}


# ---------------------------------------------------------------------------- memory bounds


async def test_pacing_windows_of_quiet_channels_are_forgotten_past_the_bound(
    slack: StricterSlack, poster: SlackTipPoster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(posting, "CHANNEL_WINDOWS_MAX", 2)
    await poster.post(tip("C1", key="k1"))
    await poster.post(tip("C2", key="k2"))
    quiet = Window(1, 60.0)  # nothing in its window: a channel not posted to for a while
    poster.channels[(TEAM, "COLD")] = quiet
    assert quiet.idle() and not poster.channels[(TEAM, "C1")].idle()
    await poster.post(tip("C3", key="k3"))
    assert set(poster.channels) == {(TEAM, "C1"), (TEAM, "C2"), (TEAM, "C3")}  # the busy ones kept: pacing holds
    assert [m["text"] for m in slack.posts(TEAM)] == ["A tip: Read the spec."] * 3


async def test_rendered_replies_are_forgotten_past_the_bound_and_each_post_keeps_its_own(
    slack: StricterSlack, poster: SlackTipPoster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(posting, "RENDERED_MAX", 1)
    for i in range(4):
        await poster.post(tip(f"C{i}", key=f"k{i}", title=f"Tip {i}"))
        assert len(poster._rendered) <= 2
    assert [slack.posts(TEAM, f"C{i}")[0]["text"] for i in range(4)] == [f"Tip {i}: Read the spec." for i in range(4)]


async def test_opened_group_dms_are_forgotten_past_the_bound_and_asked_again(
    slack: StricterSlack, poster: SlackTipPoster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(posting, "CONVERSATIONS_MAX", 1)
    first = await poster.conversation(tip(audience=("U1", "U2")))
    await poster.conversation(tip(audience=("U3", "U4")))  # the memory is full: forgotten, then this one kept
    assert list(poster.conversations) == [(TEAM, frozenset({"U3", "U4"}))]
    assert await poster.conversation(tip(audience=("U2", "U1"))) == first  # asked again: the same group DM
    assert [c.body["users"] for c in slack.of("conversations.open")] == ["U1,U2", "U3,U4", "U2,U1"]


# ---------------------------------------------------------------------------- conversations.open


async def test_people_slack_refuses_together_after_some_were_left_out_fail_for_good(
    slack: StricterSlack, poster: SlackTipPoster, caplog: pytest.LogCaptureFixture
) -> None:
    slack.user(TEAM, "U3", deleted=True)
    slack.refused_together.add(frozenset({"U1", "U2"}))  # each alone is fine; together Slack says no
    with pytest.raises(
        PostError, match=r"^conversations.open: invalid_user_combination \(after leaving 1 out\)$"
    ) as raised:
        await poster.post(tip(audience=("U1", "U2", "U3")))
    assert raised.value.permanent
    assert [c.body["users"] for c in slack.of("conversations.open")] == ["U1,U2,U3", "U1", "U2", "U3", "U1,U2"]
    assert slack.posts(TEAM) == [] and not poster.conversations
    assert "U3" not in raised.value.reason  # the stored reason names nobody


async def test_an_open_answered_without_a_conversation_is_retried_later(
    slack: StricterSlack, poster: SlackTipPoster
) -> None:
    slack.no_conversation = True
    with pytest.raises(PostError, match=r"^conversations.open: no conversation id in the answer$") as raised:
        await poster.post(tip(audience=("U1", "U2")))
    assert not raised.value.permanent
    assert slack.posts(TEAM) == [] and not poster.conversations


# ---------------------------------------------------------------------------- the crash look-up


async def test_the_crash_look_up_reads_later_pages_of_history(slack: StricterSlack, poster: SlackTipPoster) -> None:
    slack.history_pages = [keyed("other1"), keyed("other2"), keyed("k1"), keyed("other3")]
    assert await poster.find(tip(key="k1")) == "9.9"
    assert [c.body.get("cursor") for c in slack.of("conversations.history")] == [None, "page:1", "page:2"]


async def test_the_crash_look_up_stops_after_five_pages(slack: StricterSlack, poster: SlackTipPoster) -> None:
    slack.history_pages = [keyed(f"other{i}") for i in range(8)] + [keyed("k1")]
    assert await poster.find(tip(key="k1")) is None  # so far back it was never sent: send it
    assert len(slack.of("conversations.history")) == 5


# ---------------------------------------------------------------------------- the sender


@pytest.fixture
async def sender(slack: StricterSlack) -> AsyncIterator[Sender]:
    made = Sender(AsyncWebClient(token="xoxb-1111-2222-x", base_url=slack.api_url, retry_handlers=retry_handlers()))
    yield made
    await made.close()
    await made.close()  # closing twice is harmless


async def test_a_retry_after_longer_than_the_cap_is_not_waited_for(
    slack: StricterSlack, sender: Sender, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=31)
    with caplog.at_level(logging.WARNING, logger="careerbot.slack"):
        assert await sender.call("chat.postMessage", channel="C1", text="hi") is False
    assert len(slack.of("chat.postMessage")) == 1  # not retried: the answer would be stale by then
    assert "chat.postMessage failed: ratelimited" in caplog.text
    assert await sender.call("chat.postMessage", channel="C1", text="hi") is True  # the next one goes


async def test_a_web_api_call_the_network_drops_is_one_line_and_false(
    slack: StricterSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # no retries: what is left when they are spent (their waits are seconds)
    sender = Sender(AsyncWebClient(token="xoxb-1111-2222-x", base_url=slack.api_url, retry_handlers=[]))
    slack.fail("chat.postEphemeral", status=0)
    try:
        with caplog.at_level(logging.WARNING, logger="careerbot.slack"):
            assert await sender.call("chat.postEphemeral", channel="C1", user="U1", text="hi") is False
        assert await sender.call("chat.postEphemeral", channel="C1", user="U1", text="hi") is True
    finally:
        await sender.close()
    assert [r.getMessage() for r in caplog.records] == ["chat.postEphemeral failed: ServerDisconnectedError"]


async def test_a_response_url_that_keeps_hanging_up_is_one_line_and_false(
    slack: StricterSlack, sender: Sender, caplog: pytest.LogCaptureFixture
) -> None:
    sender.retry_handlers = []  # no retries: what is left when they are spent (their waits are seconds)
    slack.fail("response_url", status=0)
    with caplog.at_level(logging.WARNING, logger="careerbot.slack"):
        assert await sender.respond(slack.response_url("r1"), Message(text="hi")) is False
    assert [r.getMessage() for r in caplog.records] == ["response_url post failed: ServerDisconnectedError"]
    assert await sender.respond(slack.response_url("r2"), Message(text="hi")) is True
    assert re.fullmatch(r"/response/r2", slack.of("response_url")[-1].path)
