"""Starting the bot: settings, bad tokens, sharding, intents, mentions and rate limits."""

from __future__ import annotations

import asyncio

import discord
import pytest

from adapters import runner
from adapters.discord_bot.app import DiscordApp, build_platform
from bot.commands import Invocation
from bot.core import Core
from bot.errors import ConfigError
from bot.reply import Reply
from tests.discord.conftest import DiscordUser
from tests.discord.fake_discord import FakeDiscord
from tests.discord.limits import check_message
from tests.discord.payloads import BOT_USER, CHANNEL_ID, GUILD_ID, TOKEN, USER

PRIVILEGED = (1 << 1) | (1 << 8) | (1 << 15)  # members, presences, message content
CALLBACK = r"/interactions/\d+/[^/]+/callback"


def test_the_runner_builds_discord_when_the_token_is_set(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    assert "discord" in runner.enabled()
    (platform,) = runner.build(core, ["discord"], {"port": 3000})
    assert isinstance(platform, DiscordApp) and platform.name == "discord"
    assert type(platform.new_client()) is discord.Client


@pytest.mark.parametrize(
    ("token", "message"),
    [("", "DISCORD_TOKEN is not set"), ("Bot " + TOKEN, "DISCORD_TOKEN is malformed"), ("abc", "is malformed")],
)
def test_a_missing_or_malformed_token_is_one_clear_line_without_the_value(
    core: Core, monkeypatch: pytest.MonkeyPatch, token: str, message: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", token)
    with pytest.raises(ConfigError, match=message) as caught:
        build_platform(core, {})
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert token.removeprefix("Bot ") not in str(caught.value) or not token


@pytest.mark.parametrize(("value", "shards"), [("auto", "auto"), ("4", 4), ("", None)])
def test_shards_setting_chooses_the_client(
    core: Core, monkeypatch: pytest.MonkeyPatch, value: str, shards: object
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("CAREERBOT_DISCORD_SHARDS", value)
    platform = build_platform(core, {})
    assert platform.shards == shards
    client = platform.new_client()
    assert isinstance(client, discord.AutoShardedClient) == (shards is not None)
    if shards == 4:
        assert client.shard_count == 4


def test_a_bad_shards_setting_names_the_variable_not_the_value(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("CAREERBOT_DISCORD_SHARDS", "lots-of-them")
    with pytest.raises(ConfigError, match="CAREERBOT_DISCORD_SHARDS") as caught:
        build_platform(core, {})
    assert "lots-of-them" not in str(caught.value)


async def test_a_token_discord_rejects_is_one_clear_line(fake: FakeDiscord, core: Core) -> None:
    app = DiscordApp(core, token="MTIz.NDU2.wrong-token")
    with pytest.raises(ConfigError, match="^DISCORD_TOKEN was rejected by Discord") as caught:
        await asyncio.wait_for(app.run(), 10)
    assert str(caught.value).startswith("DISCORD_TOKEN was rejected by Discord") and "wrong" not in str(caught.value)
    assert not fake.sessions and app.client is not None and app.client.is_closed()


async def test_no_privileged_intent_is_requested(discord_user: DiscordUser) -> None:
    (session,) = discord_user.fake.live()
    assert session.identify["intents"] & PRIVILEGED == 0
    assert session.identify["intents"] & (1 << 9)  # guild messages: mentions of the bot


async def test_auto_sharding_connects_through_the_gateway_bot_endpoint(fake: FakeDiscord, core: Core) -> None:
    user = DiscordUser(fake, core)
    app = await user.start(shards="auto")
    try:
        assert isinstance(app.client, discord.AutoShardedClient)
        assert fake.find("GET", "/gateway/bot")
        assert fake.live()[0].identify["shard"] == [0, 1]
        reply = await user.run("/standard fhir")
        assert "FHIR" in reply.title
    finally:
        await user.stop()


async def test_a_mention_gets_the_best_answer_in_public_without_pinging(discord_user: DiscordUser, core: Core) -> None:
    fake = discord_user.fake
    mid = await fake.say(f"<@{BOT_USER['id']}> what does a telemedicine developer do?", mentions=[BOT_USER])
    await fake.wait_for(lambda: mid in fake.replies)
    (call,) = fake.find("POST", r"/channels/\d+/messages")
    check_message(call.body)
    expected = await core.ask("what does a telemedicine developer do?")
    assert call.body["embeds"][0]["title"] == expected.title and "Telemedicine" in expected.title
    assert call.body["allowed_mentions"] == {"parse": [], "replied_user": False}
    labels = [b["label"] for row in call.body["components"] for b in row["components"]]
    assert "Share in channel" not in labels and labels  # already public; follow-ups stay


async def test_messages_that_do_not_mention_the_bot_are_ignored(discord_user: DiscordUser) -> None:
    fake = discord_user.fake
    await fake.say("what does a telemedicine developer do?")
    await fake.say("@everyone hello", mentions=[])
    await fake.say(f"<@{BOT_USER['id']}> hi from another bot", mentions=[BOT_USER], author=USER | {"bot": True})
    await fake.say(f"<@{USER['id']}> hi alice", mentions=[USER])
    # then the first question again, mentioning the bot: handled after the others and the same way, so
    # once it is answered every message before it has had its chance to be answered too
    asked = await fake.say(f"<@{BOT_USER['id']}> what does a telemedicine developer do?", mentions=[BOT_USER])
    await fake.wait_for(lambda: asked in fake.replies)
    (call,) = fake.find("POST", r"/channels/\d+/messages", status=None)
    assert str(call.body["message_reference"]["message_id"]) == asked


async def test_a_429_on_the_callback_is_retried_and_the_reply_arrives(discord_user: DiscordUser) -> None:
    fake = discord_user.fake
    fake.rate_limit("POST", CALLBACK, times=2, retry_after=0.05)
    reply = await discord_user.run("/role ehr")
    assert "EHR" in reply.title
    assert len(fake.find("POST", CALLBACK, status=429)) == 2
    assert len(fake.find("POST", CALLBACK, status=200)) == 1


async def test_a_429_on_a_channel_message_is_retried_and_the_reply_arrives(discord_user: DiscordUser) -> None:
    fake = discord_user.fake
    fake.rate_limit("POST", r"/channels/\d+/messages", times=1, retry_after=0.05)
    mid = await fake.say(f"<@{BOT_USER['id']}> fhir", mentions=[BOT_USER])
    await fake.wait_for(lambda: mid in fake.replies)
    assert [c.status for c in fake.find("POST", r"/channels/\d+/messages", status=None)] == [429, 200]


async def test_429_waits_are_counted_for_metrics(discord_user: DiscordUser) -> None:
    from bot import metrics

    metrics.enable()
    before = metrics.value("careerbot_rate_limit_waits_total", platform="discord") or 0.0
    discord_user.fake.rate_limit("POST", CALLBACK, times=2, retry_after=0.05)
    assert "EHR" in (await discord_user.run("/role ehr")).title
    assert metrics.value("careerbot_rate_limit_waits_total", platform="discord") == before + 2
    assert (metrics.value("careerbot_rate_limit_wait_seconds_total", platform="discord") or 0.0) >= 0.1


async def test_a_dropped_connection_resumes_and_keeps_answering(discord_user: DiscordUser) -> None:
    fake = discord_user.fake
    (session,) = fake.live()
    await session.ws.close(code=4000)  # "unknown error": Discord asks the client to reconnect
    (resumed,) = await fake.wait_for(lambda: [s for s in fake.live() if s.resumed])
    assert resumed.session_id == session.session_id
    assert "FHIR" in (await discord_user.run("/standard fhir")).title


async def test_the_runner_restarts_a_connection_that_failed(fake: FakeDiscord, core: Core) -> None:
    platform = DiscordApp(core, token=TOKEN)
    task = asyncio.create_task(runner.serve(core, [platform], reload_interval=60))
    try:
        (session,) = await fake.connected()
        first = platform.client
        await session.ws.close(code=4010)  # a close discord.py will not resume: run() raises
        await fake.wait_for(lambda: len([s for s in fake.sessions if s.identify]) == 2 and fake.live(), 10)
        assert platform.client is not first and first is not None and first.is_closed()
        assert "FHIR" in (await DiscordUser(fake, core).run("/standard fhir")).title
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert platform.client is not None and platform.client.is_closed()


async def test_a_direct_message_is_answered_without_a_mention(discord_user: DiscordUser) -> None:
    fake = discord_user.fake
    mid = await fake.say("fhir", dm=True)
    await fake.wait_for(lambda: mid in fake.replies)
    (call,) = fake.find("POST", r"/channels/1/messages")
    check_message(call.body)
    assert "FHIR" in call.body["embeds"][0]["title"]


@pytest.fixture
def invocations(core: Core, monkeypatch: pytest.MonkeyPatch) -> list[Invocation]:
    """Every invocation the adapter hands the core during the test."""
    seen: list[Invocation] = []
    answer = core.answer

    async def recording(invocation: Invocation) -> Reply:
        seen.append(invocation)
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", recording)
    return seen


async def test_invocations_say_who_asked_where_and_whether_they_manage_the_server(
    discord_user: DiscordUser, invocations: list[Invocation]
) -> None:
    fake = discord_user.fake
    await discord_user.run("/role ehr")
    fake.member_permissions = str(1 << 11)  # send messages only: no Manage Server
    await discord_user.run("/role ehr")
    await discord_user.command("role", dm=True, query="ehr")
    admin, member, direct = invocations
    where = (admin.platform, admin.tenant, admin.user, admin.channel)
    assert where == ("discord", str(GUILD_ID), USER["id"], str(CHANNEL_ID))
    assert admin.command == "role" and dict(admin.options) == {"query": "ehr"}
    assert admin.admin and not member.admin and not direct.admin and direct.tenant == "dm"


def test_the_fake_points_discord_py_at_itself_and_restores_it() -> None:
    import discord.gateway
    import discord.http

    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    assert base == "https://discord.com/api/v10", "a previous test leaked its fake"
    fake = FakeDiscord()
    with fake.patched():
        assert discord.http.Route.BASE.startswith("http://127.0.0.1:")
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY).startswith("ws://127.0.0.1:")
    assert (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == (base, gateway)


@pytest.mark.parametrize(
    ("count", "ids", "expected"),
    [("4", "0,1", [0, 1]), ("4", "2-3", [2, 3]), ("8", "0, 4-5", [0, 4, 5]), ("2", "", None)],
)
def test_shard_ids_split_a_bot_across_processes(
    core: Core, monkeypatch: pytest.MonkeyPatch, count: str, ids: str, expected: list[int] | None
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("CAREERBOT_DISCORD_SHARD_COUNT", count)
    monkeypatch.setenv("CAREERBOT_DISCORD_SHARD_IDS", ids)
    platform = build_platform(core, {})
    client = platform.new_client()
    assert isinstance(client, discord.AutoShardedClient)
    assert client.shard_count == int(count) and client.shard_ids == expected


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CAREERBOT_DISCORD_SHARD_IDS": "0,1"}, "CAREERBOT_DISCORD_SHARD_COUNT"),
        ({"CAREERBOT_DISCORD_SHARD_COUNT": "2", "CAREERBOT_DISCORD_SHARD_IDS": "0,2"}, "below"),
        ({"CAREERBOT_DISCORD_SHARD_COUNT": "2", "CAREERBOT_DISCORD_SHARD_IDS": "one"}, "SHARD_IDS"),
        ({"CAREERBOT_DISCORD_SHARD_COUNT": "0"}, "SHARD_COUNT"),
        ({"CAREERBOT_DISCORD_SHARD_COUNT": "2", "CAREERBOT_DISCORD_SHARDS": "auto"}, "not both"),
        ({"CAREERBOT_DISCORD_SHARD_COUNT": "4", "CAREERBOT_DISCORD_SHARD_IDS": "3-1"}, "SHARD_IDS"),
    ],
)
def test_bad_shard_settings_are_one_line_naming_the_variables(
    core: Core, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named) as caught:
        build_platform(core, {})
    assert "\n" not in str(caught.value)


async def test_a_process_with_shard_ids_identifies_only_those_shards(fake: FakeDiscord, core: Core) -> None:
    user = DiscordUser(fake, core)
    app = await user.start(shards=2, shard_ids=[1])
    try:
        assert isinstance(app.client, discord.AutoShardedClient)
        assert [s.identify["shard"] for s in fake.live()] == [[1, 2]]
    finally:
        await user.stop()


@pytest.mark.parametrize(
    ("text", "kind"),
    [("difference between fhir and hl7v2", "comparison"), ("what's the weather in berlin today", "out-of-scope")],
)
async def test_comparisons_and_out_of_scope_answers_reach_discord_within_limits(
    discord_user: DiscordUser, core: Core, text: str, kind: str
) -> None:
    fake = discord_user.fake
    mid = await fake.say(f"<@{BOT_USER['id']}> {text}", mentions=[BOT_USER])
    await fake.wait_for(lambda: mid in fake.replies)
    (call,) = fake.find("POST", r"/channels/\d+/messages")
    check_message(call.body)
    expected = await core.ask(text)
    assert expected.confidence is not None
    assert (expected.confidence.how if kind == "comparison" else expected.confidence.answer) == kind
    assert call.body["embeds"][0]["title"] == expected.title
    assert call.body["allowed_mentions"] == {"parse": [], "replied_user": False}
    if kind == "comparison":
        assert "What it is" in str(call.body["embeds"])
