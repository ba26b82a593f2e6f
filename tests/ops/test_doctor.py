"""``careerbot doctor`` against the fake Slack and fake Discord: each failure it reports, with its fix,
and never a secret."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import discord
import pytest
from click.testing import CliRunner

from adapters.cli import main
from adapters.doctor import Check, required_discord_permissions, run_checks
from adapters.slack_bot.manifest import build_manifest
from bot.knowledge.loader import default_knowledge_dir
from bot.registry import REGISTRY
from bot.store import migrations
from bot.store.engine import Store
from tests.discord.fake_discord import FakeDiscord
from tests.discord.payloads import TOKEN as DISCORD_TOKEN
from tests.fakes.slack import FakeSlack
from tests.slack.conftest import BOT_TOKEN, SECRET

SCOPES = build_manifest(REGISTRY, prefix="")["oauth_config"]["scopes"]["bot"]


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.scopes = list(SCOPES)
        yield fake


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    with fake.patched():
        yield fake
    await fake.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CAREERBOT_DATA_DIR": str(tmp_path)}


async def migrated(env: dict[str, str]) -> None:
    store = await Store.open(None, environ=env)
    await store.close()


async def test_a_healthy_slack_deployment_passes(slack: FakeSlack, env: dict[str, str]) -> None:
    await migrated(env)
    env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url}
    checks = await run_checks(env)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = by_name(checks)
    assert {"knowledge", "store", "slack mode", "slack token", "slack scopes", "clock vs slack"} <= set(names)


async def test_each_slack_failure_is_named_with_its_fix(slack: FakeSlack, env: dict[str, str]) -> None:
    await migrated(env)
    env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": slack.api_url}  # HTTP mode, no signing secret
    slack.scopes = [s for s in SCOPES if s not in ("im:write", "users:read")]
    slack.clock_offset = 600.0
    found = by_name(await run_checks(env))
    assert not found["slack mode"].ok and "SLACK_SIGNING_SECRET" in found["slack mode"].fix
    assert not found["slack scopes"].ok and "im:write" in found["slack scopes"].detail
    assert "reinstall" in found["slack scopes"].fix
    clock = found["clock vs slack"]  # the Date header has whole seconds
    assert not clock.ok and re.search(r"\b(599|600|601) s behind slack", clock.detail), clock.detail
    slack.fail("auth.test", "invalid_auth")
    refused = by_name(await run_checks(env))
    assert not refused["slack token"].ok and "invalid_auth" in refused["slack token"].detail


async def test_a_malformed_token_names_the_variable_not_the_value(env: dict[str, str]) -> None:
    env |= {"SLACK_BOT_TOKEN": "xoxp-user-token-not-a-bot-one"}
    found = by_name(await run_checks(env))
    assert not found["slack settings"].ok and "SLACK_BOT_TOKEN" in found["slack settings"].detail
    assert "xoxp-user-token" not in json.dumps([c.__dict__ for c in found.values()])


async def test_the_store_behind_or_unreachable(env: dict[str, str]) -> None:
    store = await Store.open(None, environ=env, migrate=False)
    await migrations.upgrade(store, "0002")
    await store.close()
    behind = by_name(await run_checks(env))["store"]
    assert not behind.ok and "at migration 0002" in behind.detail and "careerbot db upgrade" in behind.fix
    gone = {"CAREERBOT_DATABASE_URL": "postgresql+asyncpg://cb:hunter2@127.0.0.1:1/none"}
    unreachable = by_name(await run_checks(gone))["store"]
    assert not unreachable.ok and "hunter2" not in unreachable.detail


async def test_broken_knowledge_points_at_validate(tmp_path: Path, env: dict[str, str]) -> None:
    await migrated(env)
    tree = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir(), tree)
    (tree / "roles.yaml").write_text("roles:\n  - id: [broken\n")
    found = by_name(await run_checks(env, knowledge=tree))["knowledge"]
    assert not found.ok and "careerbot validate" in found.fix and "roles.yaml" in found.detail


async def test_discord_token_and_missing_permissions(discord_fake: FakeDiscord, env: dict[str, str]) -> None:
    await migrated(env)
    env |= {"DISCORD_TOKEN": DISCORD_TOKEN}
    healthy = by_name(await run_checks(env))
    assert healthy["discord token"].ok and healthy["discord server careerbot test"].ok
    wanted = required_discord_permissions()
    lacking = discord.Permissions(wanted.value)
    lacking.create_private_threads = False
    discord_fake.bot_permissions = lacking.value
    found = by_name(await run_checks(env))["discord server careerbot test"]
    assert not found.ok and "create private threads" in found.detail and "docs/discord.md" in found.fix
    env["DISCORD_TOKEN"] = DISCORD_TOKEN[:-3] + "xyz"
    rejected = by_name(await run_checks(env))["discord token"]
    assert not rejected.ok and "rejected" in rejected.detail


def test_the_required_permissions_are_the_invite_links() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "discord.md").read_text()
    assert f"permissions={required_discord_permissions().value}" in text


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CAREERBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("CAREERBOT_DATA_DIR", str(tmp_path))
    yield


def test_the_command_exits_non_zero_on_failure_and_prints_json(cli_env: None, tmp_path: Path) -> None:
    runner = CliRunner()
    fresh = runner.invoke(main, ["doctor", "--json"])  # a new SQLite file: not migrated yet
    assert fresh.exit_code == 1
    report = json.loads(fresh.output)
    assert report["ok"] is False and any(c["name"] == "store" and not c["ok"] for c in report["checks"])
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    healthy = runner.invoke(main, ["doctor"])
    assert healthy.exit_code == 0, healthy.output
    assert "0 failed" in healthy.output


async def test_a_socket_mode_token_of_the_wrong_shape_is_named(slack: FakeSlack, env: dict[str, str]) -> None:
    env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xoxb-not-an-app-token", "SLACK_API_URL": slack.api_url}
    found = by_name(await run_checks(env))["slack settings"]
    assert not found.ok and "SLACK_APP_TOKEN" in found.detail and "xapp-" in found.detail
    assert "not-an-app-token" not in found.detail
