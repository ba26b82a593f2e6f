"""Mentoring pools on Discord, the source alone (:class:`~adapters.discord_bot.pool.DiscordPoolSource`)
through discord.py against the fake Discord on 127.0.0.1: *Unknown User* is a deactivated account,
*Unknown Member* someone who left, ids that are not Discord's are skipped and each member is looked up
once; *View Channel* is computed from the member's roles and the channel's overwrites (a role's deny, a
member's own allow, ``@everyone`` denied but a role allowed); any other answer, a tenant that is not a
server, or no connection raise, and a client not connected yet is waited for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from adapters.discord_bot.pool import DiscordPoolError, DiscordPoolSource
from bot.mentoring.pool import BOT, DEACTIVATED, LEFT, Presence
from tests.discord.fake_discord import FakeDiscord
from tests.discord.payloads import CHANNEL_ID, GUILD_ID, deny, guild_channel
from tests.discord.test_mentoring import VIEW, Mentoring, land, launch

SERVER = str(GUILD_ID)
GENERAL = str(CHANNEL_ID)
STAFF_CHANNEL = 1300000000000000005
HIDDEN_ROLE = "1600000000000000001"  # denied View Channel in #general
STAFF_ROLE = "1600000000000000002"  # the only one allowed in #staff
P = [str(1400000000000000200 + i) for i in range(8)]
MEMBERS = rf"/guilds/{GUILD_ID}/members/\d+"


def role(role_id: str, name: str) -> dict[str, object]:
    return {"id": role_id, "name": name, "permissions": "0", "position": 1, "color": 0, "hoist": False} | {
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def allow(target: int | str, permissions: int, *, member: bool = True) -> dict[str, str | int]:
    return {"id": str(target), "type": 1 if member else 0, "allow": str(permissions), "deny": "0"}


@pytest.fixture
async def server(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Mentoring]:
    """#general hides itself from HIDDEN_ROLE, except for P[2] (a member overwrite allows them);
    #staff hides itself from @everyone and shows itself to STAFF_ROLE."""
    fake.guild["roles"] += [role(HIDDEN_ROLE, "hidden"), role(STAFF_ROLE, "staff")]
    fake.guild["channels"][0]["permission_overwrites"] = [deny(int(HIDDEN_ROLE), VIEW, member=False), allow(P[2], VIEW)]
    fake.guild["channels"].append(
        guild_channel(STAFF_CHANNEL, "staff", deny(GUILD_ID, VIEW, member=False), allow(STAFF_ROLE, VIEW, member=False))
    )
    started = await launch(fake, tmp_path)
    yield started
    await land(started)


def looked_up(fake: FakeDiscord) -> list[str]:
    return [c.path.rpartition("/")[2] for c in fake.find("GET", MEMBERS, status=None)]


async def test_unknown_user_is_deactivated_unknown_member_left_and_other_ids_are_skipped(server: Mentoring) -> None:
    m, fake = server, server.fake
    fake.add_member(P[0])
    fake.add_member(P[5], bot=True)
    # P[3]'s account was deleted: Discord answers Unknown User; P[4] left the server (never added)
    fake.fail("GET", rf"/guilds/{GUILD_ID}/members/{P[3]}", 404, 10013, "Unknown User")
    users = [P[0], P[3], "U123", P[4], "not an id", "１２３", P[5], P[0], ""]
    found = await m.app.pool.presence(SERVER, GENERAL, users)
    assert found == {
        P[0]: Presence.here(),  # no time zone: Discord tells bots none
        P[3]: Presence.gone(DEACTIVATED),
        P[4]: Presence.gone(LEFT),
        P[5]: Presence.gone(BOT),
    }  # "U123", "not an id", full-width digits and "" are not Discord ids: nothing said about them
    assert looked_up(fake) == [P[0], P[3], P[4], P[5]]  # each once, in order


async def test_view_channel_follows_roles_and_the_channels_overwrites(server: Mentoring) -> None:
    m, fake = server, server.fake
    fake.add_member(P[0])
    fake.add_member(P[1], roles=[HIDDEN_ROLE])
    fake.add_member(P[2], roles=[HIDDEN_ROLE])  # but allowed in #general by a member overwrite
    fake.add_member(P[6], roles=[STAFF_ROLE])
    everyone = [P[0], P[1], P[2], P[6]]
    assert await m.app.pool.presence(SERVER, GENERAL, everyone) == {
        P[0]: Presence.here(),
        P[1]: Presence.gone(LEFT),
        P[2]: Presence.here(),
        P[6]: Presence.here(),
    }
    assert await m.app.pool.presence(SERVER, str(STAFF_CHANNEL), everyone) == {
        P[0]: Presence.gone(LEFT),
        P[1]: Presence.gone(LEFT),
        P[2]: Presence.gone(LEFT),
        P[6]: Presence.here(),
    }
    # a channel that is not in the server's cache (or not an id): only membership of the server counts
    for channel in ("1300000000000000999", "general"):
        assert await m.app.pool.presence(SERVER, channel, [P[1], P[7]]) == {
            P[1]: Presence.here(),
            P[7]: Presence.gone(LEFT),
        }


async def test_another_not_found_raises(server: Mentoring) -> None:
    m, fake = server, server.fake
    fake.add_member(P[0])
    fake.fail("GET", MEMBERS, 404, 10004, "Unknown Guild")
    with pytest.raises(discord.NotFound, match=r"error code: 10004"):
        await m.app.pool.presence(SERVER, GENERAL, [P[0], P[1]])
    assert looked_up(fake) == [P[0]]  # the pass stopped at the first failure
    assert await m.app.pool.presence(SERVER, GENERAL, [P[0]]) == {P[0]: Presence.here()}  # and later works


async def test_a_tenant_that_is_not_a_server_raises_without_asking_discord(server: Mentoring) -> None:
    m, fake = server, server.fake
    for tenant in ("T0TEST", "", "12a"):
        with pytest.raises(DiscordPoolError, match=r"^not a Discord server: "):
            await m.app.pool.presence(tenant, GENERAL, [P[0]])
    assert looked_up(fake) == []


async def test_no_connection_or_an_unknown_server_raises_once_the_wait_is_over(server: Mentoring) -> None:
    m, fake = server, server.fake
    fake.add_member(P[0])
    unconnected = DiscordPoolSource(lambda: None, connect_timeout=0.0)
    with pytest.raises(DiscordPoolError, match=r"^not connected to Discord, or the server is not available$"):
        await unconnected.presence(SERVER, GENERAL, [P[0]])
    elsewhere = DiscordPoolSource(lambda: m.app.client, connect_timeout=0.0)
    with pytest.raises(DiscordPoolError, match=r"^not connected to Discord, or the server is not available$"):
        await elsewhere.presence("1200000000000000777", GENERAL, [P[0]])  # a server the bot is not in
    assert looked_up(fake) == []


async def test_a_client_not_connected_yet_is_waited_for(server: Mentoring) -> None:
    m, fake = server, server.fake
    fake.add_member(P[0])
    asked = 0

    def client() -> discord.Client | None:
        nonlocal asked
        asked += 1
        return None if asked <= 2 else m.app.client  # the platform is still (re)connecting at first

    source = DiscordPoolSource(client)
    assert await source.presence(SERVER, GENERAL, [P[0]]) == {P[0]: Presence.here()}
    assert asked == 3
