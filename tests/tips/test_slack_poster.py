"""The Slack poster against a fake Slack Web API on 127.0.0.1 that enforces rate limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from adapters.slack_bot.posting import SlackTipPoster
from bot.errors import CommandError, PostError
from bot.reply import Reply
from bot.schedule.posting import Post
from tests.fakes.slack import FakeSlack, Limits

TIP = Reply(title="Daily tip", summary="Read the FHIR spec's *Patient* page.")


def post(channel: str = "C1", key: str = "tipkey1", team: str = "T1") -> Post:
    return Post(tenant=team, channel=channel, reply=TIP, key=key, due_at=int(time.time()) - 5)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(limits=Limits()) as fake:
        yield fake


@pytest.fixture
async def poster(slack: FakeSlack) -> AsyncIterator[SlackTipPoster]:
    made = SlackTipPoster(lambda team: f"xoxb-{team}", base_url=slack.api_url)
    yield made
    await made.close()


async def test_a_post_carries_its_key_and_can_be_found_after_a_crash(slack: FakeSlack, poster: SlackTipPoster) -> None:
    ts = await poster.post(post())
    (message,) = slack.posts("T1", "C1")
    assert message["ts"] == ts and message["blocks"][0]["type"] == "header"
    assert message["metadata"] == {"event_type": "careerbot_tip", "event_payload": {"key": "tipkey1"}}
    assert await poster.find(post()) == ts
    assert await poster.find(post(key="another")) is None


async def test_posting_is_paced_under_the_workspace_limit(slack: FakeSlack, poster: SlackTipPoster) -> None:
    started = time.monotonic()
    await asyncio.gather(*(poster.post(post(channel=f"C{i}", key=f"k{i}")) for i in range(30)))
    assert len(slack.posts("T1")) == 30
    assert slack.rate_limited == 0  # paced: Slack never had to say 429
    assert time.monotonic() - started >= 1.0  # 20 in the first second, the rest after


async def test_a_429_is_retried_after_retry_after(slack: FakeSlack) -> None:
    """Two processes posting to one channel: the second gets a 429 and waits it out."""
    first = SlackTipPoster(lambda team: f"xoxb-{team}", base_url=slack.api_url)
    second = SlackTipPoster(lambda team: f"xoxb-{team}", base_url=slack.api_url)
    try:
        await first.post(post(key="a"))
        started = time.monotonic()
        await second.post(post(key="b"))
        assert slack.rate_limited == 1 and time.monotonic() - started >= 1.0
        assert len(slack.posts("T1", "C1")) == 2
    finally:
        await first.close()
        await second.close()


async def test_channel_checks_give_reasons_an_admin_can_act_on(slack: FakeSlack, poster: SlackTipPoster) -> None:
    slack.channel("T1", "C2", name="random", is_member=False)
    slack.channel("T1", "C3", name="old", is_archived=True)
    slack.channel("T1", "C4", exists=False)
    slack.channel("T1", "C5", name="general")
    with pytest.raises(CommandError, match=r"I'm not in #random.*/invite @careerbot"):
        await poster.check_channel("T1", "<#C2|random>")
    with pytest.raises(CommandError, match="#old is archived"):
        await poster.check_channel("T1", "C3")
    with pytest.raises(CommandError, match="can't see a channel"):
        await poster.check_channel("T1", "C4")
    found = await poster.check_channel("T1", "#general")
    assert (found.id, found.name) == ("C5", "general")


async def test_permanent_and_transient_failures(slack: FakeSlack, poster: SlackTipPoster) -> None:
    slack.channel("T1", "C2", is_member=False)
    with pytest.raises(PostError, match="not_in_channel") as gone:
        await poster.post(post(channel="C2"))
    assert gone.value.permanent and "not_in_channel" in gone.value.reason
    slack.fail("chat.postMessage", "internal_error")
    with pytest.raises(PostError, match="internal_error") as flaky:
        await poster.post(post())
    assert not flaky.value.permanent


async def test_the_workspace_time_zone_is_the_admins(slack: FakeSlack, poster: SlackTipPoster) -> None:
    slack.timezones[("T1", "U1")] = "Europe/Berlin"
    assert await poster.default_timezone("T1", "U1") == "Europe/Berlin"
