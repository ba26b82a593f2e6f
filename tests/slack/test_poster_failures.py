"""The Slack poster's failure paths, through slack_sdk against the fake Slack on 127.0.0.1: a workspace
without a token, channels Slack cannot find, a channel name past the first 1,000 of
``conversations.list``, ``users.info`` failing, 429s that outlast the retries, and a network that
hangs up. Each says what the scheduler or the admin gets (a permanent or a transient
:class:`PostError`, or the reason an admin reads), and that nothing was posted.

The private (group DM) paths are in ``tests/slack/test_group_posts.py``."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator

import pytest

from adapters.slack_bot.posting import SlackTipPoster
from bot.errors import CommandError, PostError
from bot.reply import Reply
from bot.schedule.posting import Post
from tests.fakes.slack import FakeSlack

TEAM = "T1"
TIP = Reply(title="Daily tip", summary="Read the FHIR spec's *Patient* page.")


def tip(channel: str = "C1", *, team: str = TEAM, key: str = "tipkey1", audience: tuple[str, ...] = ()) -> Post:
    return Post(tenant=team, channel=channel, reply=TIP, key=key, due_at=int(time.time()) - 5, audience=audience)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def poster(slack: FakeSlack) -> AsyncIterator[SlackTipPoster]:
    """Installed in ``T1`` only: any other workspace has no token."""
    made = SlackTipPoster(lambda team: f"xoxb-{team}" if team == TEAM else None, base_url=slack.api_url)
    yield made
    await made.close()


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """A failure the poster expected is reported by what it raises: no traceback in the log."""
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


# ---------------------------------------------------------------------------- no token


async def test_a_workspace_without_a_token_fails_for_good_without_calling_slack(
    slack: FakeSlack, poster: SlackTipPoster, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="careerbot"):
        with pytest.raises(PostError, match=r"^no Slack token for workspace T9$") as raised:
            await poster.post(tip(team="T9"))
        assert raised.value.permanent
        with pytest.raises(PostError, match="no Slack token for workspace T9") as private:
            await poster.post(tip(team="T9", audience=("U1", "U2")))
        assert private.value.permanent
        with pytest.raises(PostError, match="no Slack token for workspace T9") as looked_up:
            await poster.find(tip(team="T9"))
        assert looked_up.value.permanent
        assert await poster.default_timezone("T9", "U1") is None  # the operator's default applies
    assert slack.calls == []  # nothing went to Slack, so nothing was posted
    assert "T9" not in poster.clients
    no_traceback(caplog)
    assert await poster.post(tip()) in {m["ts"] for m in slack.posts(TEAM, "C1")}  # T1 is unaffected


# ---------------------------------------------------------------------------- channels


async def test_a_channel_name_nobody_can_see_asks_the_admin_to_invite_the_bot(
    slack: FakeSlack, poster: SlackTipPoster
) -> None:
    slack.channel(TEAM, "C2", name="general")
    with pytest.raises(CommandError, match=r"^I can't see a channel “#daily-tips”. Invite me to it first.$"):
        await poster.check_channel(TEAM, "#daily-tips")
    slack.channel(TEAM, "C3", name="daily-tips", exists=False)  # deleted: Slack lists it no more
    with pytest.raises(CommandError, match="I can't see a channel “#daily-tips”"):
        await poster.check_channel(TEAM, "#daily-tips")
    assert [c.error for c in slack.of("conversations.list")] == [None, None]


async def test_a_channel_slack_will_not_describe_gets_slacks_reason(slack: FakeSlack, poster: SlackTipPoster) -> None:
    slack.fail("conversations.info", "missing_scope")
    with pytest.raises(CommandError, match=r"^Slack would not tell me about “C2” \(missing_scope\).$"):
        await poster.check_channel(TEAM, "C2")
    slack.fail("conversations.list", "ratelimited")
    with pytest.raises(CommandError, match=r"^Slack would not tell me about “general” \(ratelimited\).$"):
        await poster.check_channel(TEAM, "#general")


async def test_a_post_to_a_channel_that_is_gone_fails_for_good(
    slack: FakeSlack, poster: SlackTipPoster, caplog: pytest.LogCaptureFixture
) -> None:
    slack.channel(TEAM, "C4", exists=False)
    slack.channel(TEAM, "C5", is_archived=True)
    with caplog.at_level(logging.DEBUG, logger="careerbot"):
        for channel, error in (("C4", "channel_not_found"), ("C5", "is_archived")):
            with pytest.raises(PostError, match=f"chat.postMessage: {error}") as raised:
                await poster.post(tip(channel))
            assert raised.value.permanent and raised.value.reason == f"chat.postMessage: {error}"
    assert slack.posts(TEAM) == []
    assert [c.error for c in slack.of("chat.postMessage")] == ["channel_not_found", "is_archived"]  # not retried
    no_traceback(caplog)


async def test_a_channel_name_past_the_first_thousand_is_found_on_a_later_page(
    slack: FakeSlack, poster: SlackTipPoster
) -> None:
    slack.list_limit = 1000  # Slack's most per page
    for i in range(1500):
        slack.channel(TEAM, f"C{i:05d}", name=f"team-{i:05d}")
    found = await poster.check_channel(TEAM, "#team-01234")
    assert (found.id, found.name) == ("C01234", "team-01234")
    pages = slack.of("conversations.list")
    assert [c.body.get("cursor") for c in pages] == [None, "page:1000"]
    assert all(int(c.body["limit"]) == 1000 for c in pages)
    with pytest.raises(CommandError, match="I can't see a channel “#team-99999”"):
        await poster.check_channel(TEAM, "#team-99999")  # every page read, then the admin is told
    assert len(slack.of("conversations.list")) == 4


async def test_the_name_search_stops_after_twenty_pages(slack: FakeSlack, poster: SlackTipPoster) -> None:
    """A workspace with more channels than 20 pages hold (20,000 at 1,000 a page): the search ends
    rather than page on while the admin waits."""
    slack.list_limit = 1  # one channel a page: the 21st channel is past the 20th page
    for i in range(25):
        slack.channel(TEAM, f"C{i:02d}", name=f"team-{i:02d}")
    assert (await poster.check_channel(TEAM, "#team-19")).id == "C19"
    with pytest.raises(CommandError, match="I can't see a channel “#team-20”"):
        await poster.check_channel(TEAM, "#team-20")
    assert len(slack.of("conversations.list")) == 40


# ---------------------------------------------------------------------------- users.info


@pytest.mark.parametrize(
    ("fault", "args"),
    [
        ("missing_scope", {}),  # an app installed without users:read
        ("user_not_found", {}),
        (None, {"status": 500, "times": 1}),
        (None, {"status": 0, "times": 100}),  # hangs up, every time: the retries run out
    ],
    ids=["missing-scope", "user-not-found", "http-500", "hang-up"],
)
async def test_users_info_failing_leaves_the_operators_time_zone(
    slack: FakeSlack, poster: SlackTipPoster, caplog: pytest.LogCaptureFixture, fault: str | None, args: dict[str, int]
) -> None:
    slack.timezones[(TEAM, "U1")] = "Europe/Berlin"
    slack.fail("users.info", fault, **args)
    with caplog.at_level(logging.DEBUG, logger="careerbot"):
        assert await poster.default_timezone(TEAM, "U1") is None
    assert slack.of("users.info") and not [c for c in slack.of("users.info") if c.ok]
    no_traceback(caplog)
    slack.faults.clear()
    assert await poster.default_timezone(TEAM, "U1") == "Europe/Berlin"  # the failure passed: Slack answers


# ---------------------------------------------------------------------------- 429s and the network


async def test_a_429_that_outlasts_the_retries_is_retried_later_not_dropped(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    poster = SlackTipPoster(lambda team: f"xoxb-{team}", base_url=slack.api_url, rate_limit_retries=2)
    slack.fail("chat.postMessage", status=429, retry_after=0, times=3)  # the first try and both retries
    try:
        with (
            caplog.at_level(logging.DEBUG, logger="careerbot"),
            pytest.raises(PostError, match="chat.postMessage: ratelimited") as raised,
        ):
            await poster.post(tip())
        assert not raised.value.permanent and raised.value.reason == "chat.postMessage: ratelimited"
        assert poster.rate_limited == 1
        assert [c.status for c in slack.of("chat.postMessage")] == [429, 429, 429]
        assert slack.posts(TEAM) == []
        no_traceback(caplog)
        ts = await poster.post(tip())  # Slack takes it again: the scheduler's retry posts it once
        assert [m["ts"] for m in slack.posts(TEAM, "C1")] == [ts]
    finally:
        await poster.close()


async def test_a_429_within_the_retries_is_waited_out(slack: FakeSlack) -> None:
    poster = SlackTipPoster(lambda team: f"xoxb-{team}", base_url=slack.api_url, rate_limit_retries=2)
    slack.fail("chat.postMessage", status=429, retry_after=0, times=2)
    try:
        ts = await poster.post(tip())
    finally:
        await poster.close()
    assert [c.status for c in slack.of("chat.postMessage")] == [429, 429, 200]
    assert [m["ts"] for m in slack.posts(TEAM, "C1")] == [ts] and poster.rate_limited == 0


async def test_a_network_that_hangs_up_is_retried_later(
    slack: FakeSlack, poster: SlackTipPoster, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail("chat.postMessage", status=0, times=3)  # the first try and both connection retries
    with (
        caplog.at_level(logging.DEBUG, logger="careerbot"),
        pytest.raises(PostError, match="ServerDisconnectedError") as raised,
    ):
        await poster.post(tip())
    assert not raised.value.permanent
    assert raised.value.reason == "chat.postMessage: ServerDisconnectedError"
    assert len(slack.of("chat.postMessage")) == 3 and slack.posts(TEAM) == []
    no_traceback(caplog)
    assert await poster.post(tip()) == slack.posts(TEAM, "C1")[0]["ts"]  # the session recovers


async def test_one_dropped_connection_is_retried_at_once(slack: FakeSlack, poster: SlackTipPoster) -> None:
    slack.fail("chat.postMessage", status=0, times=1)
    ts = await poster.post(tip())
    assert [c.status for c in slack.of("chat.postMessage")] == [500, 200]  # 500: how the fake records a hang-up
    assert [m["ts"] for m in slack.posts(TEAM, "C1")] == [ts]


@pytest.mark.parametrize(
    ("args", "permanent", "reason"),
    [
        ({"error": "channel_not_found"}, True, "conversations.history: channel_not_found"),
        ({"error": "internal_error"}, False, "conversations.history: internal_error"),
        ({"status": 0, "times": 100}, False, "conversations.history: ServerDisconnectedError"),
    ],
    ids=["gone", "slack-error", "hang-up"],
)
async def test_the_crash_look_up_failing_says_whether_to_retry(
    slack: FakeSlack, poster: SlackTipPoster, args: dict[str, object], permanent: bool, reason: str
) -> None:
    error = args.pop("error", None)
    slack.fail("conversations.history", error, **args)  # type: ignore[arg-type]
    with pytest.raises(PostError, match=re.escape(reason)) as raised:
        await poster.find(tip())
    assert raised.value.permanent is permanent and raised.value.reason == reason
    assert slack.posts(TEAM) == []


async def test_a_group_dm_slack_would_not_open_for_another_reason(slack: FakeSlack, poster: SlackTipPoster) -> None:
    """``conversations.open`` failing with an error that is not about one of the people: nobody is
    tried alone, nothing is posted, and retrying depends on the error."""
    slack.fail("conversations.open", "internal_error")
    with pytest.raises(PostError, match=r"^conversations.open: internal_error$") as raised:
        await poster.post(tip(audience=("U1", "U2")))
    assert not raised.value.permanent
    slack.fail("conversations.open", "token_revoked")
    with pytest.raises(PostError, match=r"^conversations.open: token_revoked$") as revoked:
        await poster.post(tip(audience=("U1", "U2")))
    assert revoked.value.permanent
    assert [c.body["users"] for c in slack.of("conversations.open")] == ["U1,U2", "U1,U2"]
    assert slack.of("chat.postMessage") == [] and poster.conversations == {}
