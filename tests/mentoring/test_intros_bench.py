"""``bench.mentoring_intros`` at a small size: a round's intros reach every group exactly once through
the real Slack and Discord posting paths while the fakes enforce rate limits, and the 429s the
clients meet are waited out by the clients themselves (no intro is given back to the scheduler).
No timing is asserted: the benchmark prints that."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.mentoring_intros import DiscordSetup, Limit, Result, SlackSetup, database, run_discord, run_slack
from bot.store.engine import Store

GROUPS = 20


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with database(False, tmp_path) as opened:
        yield opened


def delivered_once(result: Result) -> None:
    assert not result.timed_out
    assert result.groups == GROUPS  # 40 peers: 20 pairs, nobody left out
    assert (result.duplicates, result.missing, result.misplaced) == (0, 0, 0)
    report = result.report
    assert (report.sent, report.retried, report.failed, report.errors) == (GROUPS, 0, 0, [])


def test_the_floor_is_what_the_limits_allow() -> None:
    tier3 = Limit("conversations.open", 50, 60.0)
    assert tier3.floor(500, 30) == 18.0  # 10 windows of 2 s: the last 50 start at 18 s
    assert tier3.floor(50, 30) == 0.0 and tier3.floor(51, 30) == 2.0
    assert Limit("threads", 5, 5.0).floor(500, 25) == 19.8


async def test_slack_intros_with_conversations_open_over_its_tier(store: Store) -> None:
    # The poster believes in a generous tier, the fake allows 10 opens a second: the rest meet a
    # 429 with Retry-After, which slack_sdk's handler waits out before asking again.
    setup = SlackSetup(
        scale=60.0, open_tier=Limit("conversations.open", 10, 60.0), poster={"opens_per_workspace": 1000}
    )
    result = await run_slack(GROUPS, setup, store, timeout=60)
    delivered_once(result)
    assert result.limited["conversations.open"] > 0
    assert result.calls["conversations.open"] == GROUPS + result.limited["conversations.open"]
    assert result.calls["chat.postMessage"] == GROUPS and not result.limited["chat.postMessage"]


async def test_slack_intros_paced_to_the_tier_meet_no_429(store: Store) -> None:
    setup = SlackSetup(scale=60.0, open_tier=Limit("conversations.open", 10, 60.0))
    result = await run_slack(GROUPS, setup, store, timeout=60)
    delivered_once(result)
    assert result.calls == {"conversations.open": GROUPS, "chat.postMessage": GROUPS}
    assert not result.limited


async def test_discord_intros_with_limits_the_client_cannot_see_coming(store: Store) -> None:
    # No X-RateLimit-* headers: discord.py meets each bucket's limit as a 429 and sleeps its retry_after.
    setup = DiscordSetup(scale=50.0, announce=False)
    result = await run_discord(GROUPS, setup, store, timeout=60)
    delivered_once(result)
    threads = "POST /channels/{id}/threads"
    assert result.limited[threads] > 0
    assert result.calls[threads] == GROUPS + result.limited[threads]  # each 429'd request was made again


async def test_discord_intros_under_announced_buckets(store: Store) -> None:
    result = await run_discord(GROUPS, DiscordSetup(scale=50.0), store, timeout=60)
    delivered_once(result)
    assert result.calls["PUT /channels/{id}/thread-members/{id}"] == 2 * GROUPS
    assert result.calls["POST /channels/{id}/messages"] == GROUPS
