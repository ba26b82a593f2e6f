"""Mentoring pools on Slack, the source alone (:class:`~adapters.slack_bot.pool.SlackPoolSource`) through
slack_sdk against the fake Slack on 127.0.0.1: members read page by page (and no further than
``PAGES_MAX`` pages), ``users.info`` answers reused within their TTL and per workspace, the cache
emptied when full, ``user_not_found`` read as deactivated, and any other error raised, after every
look-up of the pass has settled."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack_bot import pool as slack_pool
from adapters.slack_bot.pool import SlackPoolError, SlackPoolSource
from bot.mentoring.pool import DEACTIVATED, GUEST, LEFT, Presence
from tests.fakes.slack import BOT_USER_ID, TEAM_ID, FakeSlack


def clients(fake: FakeSlack) -> Callable[[str], AsyncWebClient]:
    """The Web API client of each workspace: its own token (``xoxb-<team>``), as the tips poster keeps them."""
    made: dict[str, AsyncWebClient] = {}

    def client(team: str) -> AsyncWebClient:
        if team not in made:
            made[team] = AsyncWebClient(token=f"xoxb-{team}", base_url=fake.api_url)
        return made[team]

    return client


def asked(fake: FakeSlack) -> list[str]:
    """Whom ``users.info`` was asked about, in order."""
    return [str(c.body["user"]) for c in fake.of("users.info")]


async def test_every_page_is_read_and_only_members_in_the_channel_are_looked_up(fake: FakeSlack) -> None:
    fake.channel("C1", members=("UA", "UB", "UC", "UD", "UE"))
    fake.user("UB", tz="Asia/Tokyo")
    source = SlackPoolSource(clients(fake), page=2)
    found = await source.presence(TEAM_ID, "C1", ["UA", "UB", "UE", "UGONE", "UA"])
    assert found == {
        "UA": Presence.here("UTC"),
        "UB": Presence.here("Asia/Tokyo"),
        "UE": Presence.here("UTC"),  # on the third page
        "UGONE": Presence.gone(LEFT),
    }
    pages = [(c.body.get("cursor"), int(c.body["limit"])) for c in fake.of("conversations.members")]
    assert pages == [(None, 2), ("page:2", 2), ("page:4", 2)]  # 5 members and the bot: three pages
    assert sorted(asked(fake)) == ["UA", "UB", "UE"]  # each once, never UGONE nor the others in the channel
    assert BOT_USER_ID not in asked(fake)


async def test_a_channel_longer_than_pages_max_is_not_read_to_its_end(
    fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack_pool, "PAGES_MAX", 2)
    fake.channel("C1", members=("UA", "UB", "UC", "UD", "UE", "UF"))
    source = SlackPoolSource(clients(fake), page=2)
    found = await source.presence(TEAM_ID, "C1", ["UA", "UD", "UE"])
    assert len(fake.of("conversations.members")) == 2  # the third page is never asked for
    assert found == {"UA": Presence.here("UTC"), "UD": Presence.here("UTC"), "UE": Presence.gone(LEFT)}
    assert sorted(asked(fake)) == ["UA", "UD"]


async def test_users_info_answers_are_reused_within_the_ttl_and_per_workspace(fake: FakeSlack) -> None:
    for team in (TEAM_ID, "T2"):
        fake.channel(team, "C1", members=("UA", "UB"))
    fake.user("UB", is_restricted=True)
    fake.user("T2", "UB", tz="Europe/Paris")  # the same id in another workspace: another person
    source = SlackPoolSource(clients(fake))
    first = await source.presence(TEAM_ID, "C1", ["UA", "UB"])
    assert first == {"UA": Presence.here("UTC"), "UB": Presence.gone(GUEST)}
    fake.user("UA", deleted=True)  # deactivated since: not seen again until the answer expires
    assert await source.presence(TEAM_ID, "C1", ["UA", "UB"]) == first
    assert sorted(asked(fake)) == ["UA", "UB"]  # asked once each
    assert len(fake.of("conversations.members")) == 2  # the channel is read every time

    other = await source.presence("T2", "C1", ["UB"])
    assert other == {"UB": Presence.here("Europe/Paris")}  # not T0TEST's guest UB
    assert [c.body["user"] for c in fake.of("users.info")][2:] == ["UB"]


async def test_an_expired_answer_is_asked_again(fake: FakeSlack) -> None:
    fake.channel("C1", members=("UA",))
    source = SlackPoolSource(clients(fake), ttl=0.0)
    assert await source.presence(TEAM_ID, "C1", ["UA"]) == {"UA": Presence.here("UTC")}
    fake.user("UA", deleted=True)
    assert await source.presence(TEAM_ID, "C1", ["UA"]) == {"UA": Presence.gone(DEACTIVATED)}
    assert asked(fake) == ["UA", "UA"]


async def test_the_cache_is_emptied_when_full(fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slack_pool, "USERS_MAX", 2)
    fake.channel("C1", members=("UA", "UB", "UC"))
    source = SlackPoolSource(clients(fake))
    await source.presence(TEAM_ID, "C1", ["UA", "UB"])
    assert set(source.users) == {(TEAM_ID, "UA"), (TEAM_ID, "UB")}
    await source.presence(TEAM_ID, "C1", ["UC"])
    assert set(source.users) == {(TEAM_ID, "UC")}  # all forgotten, then the new answer kept
    await source.presence(TEAM_ID, "C1", ["UA"])
    assert sorted(asked(fake)[:2]) == ["UA", "UB"]
    assert asked(fake)[2:] == ["UC", "UA"]  # UA asked again: its answer was forgotten


async def test_user_not_found_reads_as_deactivated(fake: FakeSlack) -> None:
    fake.channel("C1", members=("UA", "UB"))
    fake.user("UB", exists=False)
    source = SlackPoolSource(clients(fake))
    found = await source.presence(TEAM_ID, "C1", ["UA", "UB"])
    assert found == {"UA": Presence.here("UTC"), "UB": Presence.gone(DEACTIVATED)}
    assert source.users[(TEAM_ID, "UB")][1] == Presence.gone(DEACTIVATED)  # kept like any other answer


async def test_another_users_info_error_raises_after_every_look_up_settled(fake: FakeSlack) -> None:
    fake.channel("C1", members=("UA", "UB", "UC"))
    fake.fail("users.info", "missing_scope")  # the first look-up: the token lacks users:read
    source = SlackPoolSource(clients(fake))
    with pytest.raises(SlackPoolError, match=r"^missing_scope$"):
        await source.presence(TEAM_ID, "C1", ["UA", "UB", "UC"])
    assert sorted(asked(fake)) == ["UA", "UB", "UC"]  # the others were still asked, and finished
    failed = [c for c in fake.of("users.info") if not c.ok]
    assert [c.error for c in failed] == ["missing_scope"]
    failed_user = str(failed[0].body["user"])
    assert (TEAM_ID, failed_user) not in source.users  # a failure is never kept
    assert {u for _, u in source.users} == {"UA", "UB", "UC"} - {failed_user}

    # the next pass asks only about the one that failed
    again = await source.presence(TEAM_ID, "C1", ["UA", "UB", "UC"])
    assert again == {u: Presence.here("UTC") for u in ("UA", "UB", "UC")}
    assert asked(fake)[3:] == [failed_user]


async def test_a_channel_error_raises_with_slacks_code_and_no_one_is_looked_up(fake: FakeSlack) -> None:
    fake.channel("C1", members=("UA",))
    fake.fail("conversations.members", "not_in_channel")
    source = SlackPoolSource(clients(fake))
    with pytest.raises(SlackPoolError, match=r"^not_in_channel$"):
        await source.presence(TEAM_ID, "C1", ["UA"])
    fake.channel("CGONE", exists=False)
    with pytest.raises(SlackPoolError, match=r"^channel_not_found$"):
        await source.presence(TEAM_ID, "CGONE", ["UA"])
    assert asked(fake) == []
    assert source.users == {}
