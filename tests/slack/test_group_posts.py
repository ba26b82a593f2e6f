"""The Slack poster's private posts (``Post.audience``: mentoring intros and check-ins) against the fake
Slack: the group DM from ``conversations.open``, never the channel; people Slack refuses are left out
when two or more remain; 429s are waited out; the key is found in the group DM after a crash."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

from adapters.slack_bot.posting import METADATA_TYPE, SlackTipPoster
from bot.errors import PostError
from bot.reply import FollowUp, Reply
from bot.schedule.posting import Post
from tests.fakes.slack import FakeSlack, Limits

TEAM = "T1"
INTRO = Reply(
    title="Meet your mentoring group",
    summary="You were matched in the mentoring program of #mentoring.",
    follow_ups=(FollowUp(label="Met", command="/mentoring checkin met group:7"),),
)


def private(*audience: str, key: str = "mikey1", channel: str = "C1") -> Post:
    return Post(tenant=TEAM, channel=channel, reply=INTRO, key=key, due_at=int(time.time()) - 5, audience=audience)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(limits=Limits()) as fake:
        yield fake


@pytest.fixture
async def poster(slack: FakeSlack) -> AsyncIterator[SlackTipPoster]:
    made = SlackTipPoster(lambda team: f"xoxb-{team}", base_url=slack.api_url)
    yield made
    await made.close()


def opened(slack: FakeSlack) -> list[tuple[str, bool]]:
    """``conversations.open`` calls: the users asked for, and whether Slack said yes."""
    return [(str(c.body.get("users")), c.error is None and c.status == 200) for c in slack.of("conversations.open")]


async def test_the_poster_says_it_reaches_people_privately(poster: SlackTipPoster) -> None:
    assert poster.private_groups is True  # what /mentoring program create asks for


async def test_a_group_post_goes_to_the_group_dm_with_its_key_never_the_channel(
    slack: FakeSlack, poster: SlackTipPoster
) -> None:
    ts = await poster.post(private("U1", "U2", "U3"))
    group = slack.dm("U1", "U2", "U3", team=TEAM)
    assert group is not None and group.startswith("G")
    assert opened(slack) == [("U1,U2,U3", True)]
    (message,) = slack.posts(TEAM, group)
    assert message["ts"] == ts and message["blocks"][0]["type"] == "header"
    assert message["metadata"] == {"event_type": METADATA_TYPE, "event_payload": {"key": "mikey1"}}
    assert slack.posts(TEAM, "C1") == []  # nothing in the program's channel
    (call,) = slack.of("chat.postMessage")
    assert call.body["channel"] == group

    # the same people (in any order) get the same conversation; a crash's retry finds the post there
    again = SlackTipPoster(lambda team: f"xoxb-{team}", base_url=slack.api_url)
    try:
        assert await again.find(private("U3", "U1", "U2")) == ts
        assert await again.find(private("U1", "U2", "U3", key="other")) is None
    finally:
        await again.close()
    assert [users for users, _ in opened(slack)] == ["U1,U2,U3", "U3,U1,U2"]  # then remembered, in any order
    assert [c.body["channel"] for c in slack.of("conversations.history")] == [group, group]
    await poster.post(private("U2", "U3", "U1", key="checkin"))
    assert len(opened(slack)) == 2 and len(slack.posts(TEAM, group)) == 2


async def test_a_note_to_one_person_goes_to_their_dm(slack: FakeSlack, poster: SlackTipPoster) -> None:
    ts = await poster.post(private("U9"))
    dm = slack.dm("U9", team=TEAM)
    assert dm is not None and dm.startswith("D")
    assert [m["ts"] for m in slack.posts(TEAM, dm)] == [ts]
    assert await poster.find(private("U9")) == ts


async def test_group_posts_are_paced_per_conversation(slack: FakeSlack, poster: SlackTipPoster) -> None:
    """An intro and its check-in in the same group DM: one per second, no 429 from Slack."""
    started = time.monotonic()
    await asyncio.gather(poster.post(private("U1", "U2", key="a")), poster.post(private("U2", "U1", key="b")))
    assert time.monotonic() - started >= 1.0
    assert slack.rate_limited == 0
    assert len(slack.posts(TEAM, slack.dm("U1", "U2", team=TEAM))) == 2


async def test_a_429_on_conversations_open_is_waited_out(slack: FakeSlack, poster: SlackTipPoster) -> None:
    slack.fail("conversations.open", status=429, retry_after=1)
    started = time.monotonic()
    await poster.post(private("U1", "U2"))
    assert time.monotonic() - started >= 1.0
    assert opened(slack) == [("U1,U2", False), ("U1,U2", True)]
    assert len(slack.posts(TEAM, slack.dm("U1", "U2", team=TEAM))) == 1


async def test_a_429_that_does_not_stop_is_retried_later_not_dropped(slack: FakeSlack) -> None:
    poster = SlackTipPoster(lambda team: f"xoxb-{team}", base_url=slack.api_url, rate_limit_retries=1)
    slack.fail("conversations.open", status=429, retry_after=0, times=2)
    try:
        with pytest.raises(PostError, match="conversations.open") as raised:
            await poster.post(private("U1", "U2"))
    finally:
        await poster.close()
    assert not raised.value.permanent and "conversations.open" in raised.value.reason
    assert poster.rate_limited == 1
    assert slack.of("chat.postMessage") == []


@pytest.mark.parametrize(
    ("profile", "error"),
    [
        ({"exists": False}, "user_not_found"),
        ({"deleted": True}, "user_disabled"),
        ({"is_bot": True}, "cannot_dm_bot"),
        ({"open_error": "invalid_user_combination"}, "invalid_user_combination"),
    ],
)
async def test_someone_slack_refuses_is_left_out_and_the_rest_are_introduced(
    slack: FakeSlack, poster: SlackTipPoster, caplog: pytest.LogCaptureFixture, profile: dict[str, object], error: str
) -> None:
    slack.user(TEAM, "U2", **profile)
    with caplog.at_level(logging.WARNING, logger="careerbot.slack"):
        ts = await poster.post(private("U1", "U2", "U3"))
    assert opened(slack) == [
        ("U1,U2,U3", False),  # Slack refuses the group without saying who
        ("U1", True),
        ("U2", False),
        ("U3", True),
        ("U1,U3", True),
    ]
    group = slack.dm("U1", "U3", team=TEAM)
    assert [m["ts"] for m in slack.posts(TEAM, group)] == [ts]
    assert slack.posts(TEAM, "C1") == []
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"slack: group message mikey1: left out U2 ({error}); sending it to the other 2"]
    assert await poster.find(private("U1", "U2", "U3")) == ts  # after a crash: the same group DM


async def test_a_pair_with_someone_unreachable_fails_for_good_without_naming_them(
    slack: FakeSlack, poster: SlackTipPoster, caplog: pytest.LogCaptureFixture
) -> None:
    slack.user(TEAM, "U2", exists=False)
    with (
        caplog.at_level(logging.WARNING, logger="careerbot.slack"),
        pytest.raises(PostError, match="1 of 2 people reachable") as raised,
    ):
        await poster.post(private("U1", "U2"))
    assert raised.value.permanent
    assert raised.value.reason == "conversations.open: user_not_found; 1 of 2 people reachable"
    assert "U1" not in raised.value.reason and "U2" not in raised.value.reason  # it is stored with the job
    assert [r.getMessage() for r in caplog.records] == [
        "slack: group message mikey1: cannot reach U2 (user_not_found); fewer than 2 people left, not sending"
    ]
    assert slack.of("chat.postMessage") == []
    assert slack.dm("U1", team=TEAM) is not None  # only the probe of U1 alone; nothing was posted there


async def test_a_note_to_someone_disabled_fails_for_good(slack: FakeSlack, poster: SlackTipPoster) -> None:
    slack.user(TEAM, "U5", deleted=True)
    with pytest.raises(PostError, match="user_disabled") as raised:
        await poster.post(private("U5"))
    assert raised.value.permanent and raised.value.reason == "conversations.open: user_disabled"
    assert opened(slack) == [("U5", False)]  # one person: nobody to try alone
    assert slack.of("chat.postMessage") == []


async def test_a_combination_nobody_is_refused_alone_fails_for_good(slack: FakeSlack, poster: SlackTipPoster) -> None:
    slack.fail("conversations.open", error="invalid_user_combination")
    with pytest.raises(PostError, match="invalid_user_combination") as raised:
        await poster.post(private("U1", "U2", "U3"))
    assert raised.value.permanent and raised.value.reason == "conversations.open: invalid_user_combination"
    assert [users for users, _ in opened(slack)] == ["U1,U2,U3", "U1", "U2", "U3"]
    assert slack.of("chat.postMessage") == []


async def test_other_conversations_open_failures(slack: FakeSlack, poster: SlackTipPoster) -> None:
    slack.fail("conversations.open", error="missing_scope")  # an app installed before mentoring
    with pytest.raises(PostError, match="missing_scope") as raised:
        await poster.post(private("U1", "U2"))
    assert raised.value.permanent and raised.value.reason == "conversations.open: missing_scope"

    slack.fail("conversations.open", status=0, times=10)  # the connection drops: try again later
    with pytest.raises(PostError, match="conversations.open") as raised:
        await poster.post(private("U1", "U2"))
    assert not raised.value.permanent

    with pytest.raises(PostError, match="1 to 8 people") as raised:
        await poster.post(private(*(f"U{i}" for i in range(9))))
    assert raised.value.permanent
    assert slack.of("chat.postMessage") == []


async def test_a_failed_post_asks_slack_for_the_conversation_again(slack: FakeSlack, poster: SlackTipPoster) -> None:
    slack.fail("chat.postMessage", error="internal_error")
    with pytest.raises(PostError, match="internal_error") as raised:
        await poster.post(private("U1", "U2"))
    assert not raised.value.permanent
    await poster.post(private("U1", "U2"))
    assert [users for users, _ in opened(slack)] == ["U1,U2", "U1,U2"]


async def test_the_channel_path_is_unchanged(slack: FakeSlack, poster: SlackTipPoster) -> None:
    tip = Post(tenant=TEAM, channel="C7", reply=INTRO, key="tipkey", due_at=int(time.time()) - 5)
    ts = await poster.post(tip)
    assert [m["ts"] for m in slack.posts(TEAM, "C7")] == [ts]
    assert slack.of("conversations.open") == []
    assert await poster.find(tip) == ts
