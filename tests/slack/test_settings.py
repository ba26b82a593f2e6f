"""Start-up: settings errors are one line naming the variable (never its value); the mode follows the
tokens; Socket Mode works against the fake's websocket."""

from __future__ import annotations

import asyncio
import re

import pytest
from click.testing import CliRunner

from adapters import runner
from adapters.cli import main
from adapters.slack_bot.app import SlackPlatform, build_platform, load_settings
from bot.core import Core
from bot.errors import ConfigError
from tests.fakes.slack import FakeSlack
from tests.slack.conftest import BOT_TOKEN, SECRET

GOOD = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET}


def env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"SLACK_SIGNING_SECRET": SECRET}, "SLACK_BOT_TOKEN is not set"),
        (
            {**GOOD, "SLACK_BOT_TOKEN": "xoxp-user-token-value"},
            "SLACK_BOT_TOKEN must be a bot token starting with xoxb-",
        ),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN}, "SLACK_SIGNING_SECRET is not set"),
        ({**GOOD, "SLACK_SIGNING_SECRET": "has a space"}, "SLACK_SIGNING_SECRET must be the app's signing secret"),
        (
            {**GOOD, "SLACK_APP_TOKEN": "xoxb-wrong-kind"},
            "SLACK_APP_TOKEN must be an app-level token starting with xapp-",
        ),
        ({**GOOD, "SLACK_API_URL": "ftp:/nowhere"}, "SLACK_API_URL must be an http(s) URL"),
        ({**GOOD, "CAREERBOT_COMMAND_PREFIX": "CB!"}, "CAREERBOT_COMMAND_PREFIX may only contain"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable_not_its_value(
    clean_env: pytest.MonkeyPatch, values: dict[str, str], message: str
) -> None:
    env(clean_env, **values)
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}") as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text
    for value in values.values():
        assert value not in text


def test_http_mode_by_default_and_socket_mode_with_an_app_token(clean_env: pytest.MonkeyPatch, core: Core) -> None:
    env(clean_env, **GOOD)
    http = build_platform(core, {"port": 4321})
    assert (http.settings.socket_mode, http.port, http.settings.slack_api_url) == (
        False,
        4321,
        "https://slack.com/api/",
    )
    clean_env.delenv("SLACK_SIGNING_SECRET")
    env(clean_env, SLACK_APP_TOKEN="xapp-1-A1-123-abc", SLACK_API_URL="http://127.0.0.1:9/api")
    socket = build_platform(core, {"port": 3000})
    assert socket.settings.socket_mode  # no signing secret needed: Socket Mode has no HTTP requests
    assert socket.client.base_url == "http://127.0.0.1:9/api/"


def test_settings_never_show_secrets_in_their_repr(clean_env: pytest.MonkeyPatch) -> None:
    env(clean_env, **GOOD)
    settings = load_settings()
    assert BOT_TOKEN not in repr(settings) and SECRET not in repr(settings) and SECRET not in str(settings)


def test_careerbot_run_stops_with_one_line_for_a_bad_setting(clean_env: pytest.MonkeyPatch) -> None:
    env(clean_env, SLACK_BOT_TOKEN="not-a-token")
    clean_env.delenv("DISCORD_TOKEN", raising=False)
    assert runner.enabled() == ["slack"]
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 2
    assert result.output.strip() == "careerbot: SLACK_BOT_TOKEN must be a bot token starting with xoxb-"


async def test_socket_mode_answers_a_slash_command_over_the_websocket(
    clean_env: pytest.MonkeyPatch, core: Core, fake: FakeSlack
) -> None:
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_app_token="xapp-1-A1-test", slack_api_url=fake.api_url)
    platform = SlackPlatform(core, settings, port=0)
    task = asyncio.create_task(platform.run())
    try:
        await asyncio.wait_for(platform.started.wait(), 10)
        opened = fake.of("apps.connections.open")[0]
        assert opened.headers["Authorization"] == "Bearer xapp-1-A1-test"
        payload = {
            "team_id": "T0TEST",
            "channel_id": "C1",
            "user_id": "U1",
            "command": "/role",
            "text": "ehr",
            "api_app_id": "A1",
            "response_url": fake.response_url("socket"),
            "trigger_id": "1.2.3",
        }
        envelope = await fake.send_envelope("slash_commands", payload)
        ack = await fake.wait_for("socket_ack")
        assert ack.body["envelope_id"] == envelope
        answer = ack.body["payload"]  # the answer rides on the ack envelope
        assert answer["blocks"][0]["text"]["text"] == (await core.ask("/role ehr")).title
        assert answer["response_type"] == "ephemeral"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await platform.close()


async def test_a_refused_token_fails_start_up_with_slacks_reason_for_the_runner_to_retry(
    clean_env: pytest.MonkeyPatch, core: Core, fake: FakeSlack
) -> None:
    fake.fail("auth.test", error="invalid_auth")
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, slack_api_url=fake.api_url)
    platform = SlackPlatform(core, settings, port=0, host="127.0.0.1")
    refused = "Slack refused the bot token (auth.test: invalid_auth)"
    with pytest.raises(ConnectionError, match=f"^{re.escape(refused)}$"):
        await platform.run()
    assert not platform.started.is_set()
    await platform.close()
