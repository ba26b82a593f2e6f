"""More of the command line, in process (click's runner): the help lists the platform groups, a missing
platform extra is one line with the fix, the plain command list, a directory the OS refuses, a database
migrated by a newer careerbot, and Ctrl-C (while the platforms load; during ``careerbot tips run``)
ending quietly with status 0."""

from __future__ import annotations

import gc
import logging
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adapters import console, runner
from adapters.cli import main
from bot.knowledge import loader
from bot.registry import REGISTRY


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No platform tokens, the store in ``tmp_path``; the root logger's level and the GC as they were
    (``careerbot run`` sets both for the process)."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN", "CAREERBOT_KNOWLEDGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CAREERBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("CAREERBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NO_COLOR", "1")
    level = logging.getLogger().level
    yield tmp_path
    logging.getLogger().setLevel(level)
    gc.unfreeze()


def test_the_help_lists_the_platform_groups_with_the_others(cli_env: Path) -> None:
    out = CliRunner().invoke(main, ["--help"])
    assert out.exit_code == 0, out.output
    listed = [line.split()[0] for line in out.output.split("Commands:\n")[1].splitlines() if line.strip()]
    assert listed == sorted(listed)
    assert {"ask", "chat", "commands", "db", "discord", "doctor", "run", "slack", "tips", "validate"} <= set(listed)


def test_a_platform_group_without_its_extra_says_what_to_install(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """careerbot installed without ``[discord]``: discord.py cannot be imported."""
    monkeypatch.delitem(sys.modules, "adapters.discord_bot.app", raising=False)
    monkeypatch.setitem(sys.modules, "discord", None)
    out = CliRunner().invoke(main, ["discord", "sync"])
    assert out.exit_code == 1
    assert out.stderr.startswith(
        "Error: 'discord' needs the discord extra: pip install 'careerbot[discord]' (import of discord halted"
    )
    assert "Traceback" not in out.output


def test_commands_lists_each_usage_and_description(cli_env: Path) -> None:
    out = CliRunner().invoke(main, ["commands"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert len(lines) == len(list(REGISTRY))
    role = REGISTRY.get("role")
    assert role is not None
    assert f"{role.usage:<28} {role.description}" in lines


def test_validate_survives_a_loader_bug_in_one_line(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load() turns whatever a directory holds into problems; no input found reaches past it (click
    refuses a name with a NUL byte first), so a bug in it is injected: still one line, no traceback."""

    def broken(directory: Path) -> Any:
        raise RecursionError("maximum recursion depth exceeded\nwhile checking the aliases")

    monkeypatch.setattr(loader, "load", broken)
    out = CliRunner().invoke(main, ["validate", str(cli_env)])
    assert out.exit_code == 1
    assert out.stdout == (  # the message's newline shown escaped: one line
        f"{cli_env}:0: cannot validate "
        "(RecursionError: 'maximum recursion depth exceeded\\nwhile checking the aliases')\n"
    )


def test_db_upgrade_on_a_database_from_a_newer_careerbot_is_one_line(cli_env: Path) -> None:
    """Rolled back after a newer release migrated the database: its revision is unknown here."""
    cli = CliRunner()
    assert cli.invoke(main, ["db", "upgrade"]).exit_code == 0
    with sqlite3.connect(cli_env / "careerbot.db") as db:
        db.execute("UPDATE careerbot_schema_version SET version_num = '0099'")
    out = cli.invoke(main, ["db", "upgrade"])
    assert out.exit_code == 1
    assert out.stderr == (
        "careerbot: cannot upgrade the database (CommandError: Can't locate revision identified by '0099')\n"
    )
    with sqlite3.connect(cli_env / "careerbot.db") as db:
        assert db.execute("SELECT version_num FROM careerbot_schema_version").fetchall() == [("0099",)]


def interrupted(*args: Any, **kwargs: Any) -> Any:
    raise KeyboardInterrupt


def test_ctrl_c_while_the_platforms_load_ends_quietly(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C before careerbot's own signal handlers are set (importing an SDK takes a while)."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-abc")
    monkeypatch.setattr(runner, "build", interrupted)
    out = CliRunner().invoke(main, ["run", "--port", "0"])
    assert out.exit_code == 0, out.output
    assert out.output == ""
    assert logging.getLogger().level == logging.INFO  # `careerbot run` logs at INFO


@pytest.fixture
def ctrl_c_handler() -> Iterator[None]:
    """Python's own Ctrl-C handler, so that asyncio.run turns SIGINT into cancelling (as in a shell)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_stops_tips_run_quietly_after_posting(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, ctrl_c_handler: None
) -> None:
    cli = CliRunner()
    subscribed = cli.invoke(main, ["ask", "--now", "2025-03-30T12:00", "/tips subscribe time:09:00 timezone:UTC"])
    assert subscribed.exit_code == 0 and "Daily tips on for #local" in subscribed.stdout, subscribed.output
    posted = threading.Event()
    real_post = console.ConsolePoster.post

    async def post_and_tell(self: console.ConsolePoster, post: Any) -> str:
        found = await real_post(self, post)
        posted.set()
        return found

    monkeypatch.setattr(console.ConsolePoster, "post", post_and_tell)
    main_thread = threading.main_thread().ident
    assert main_thread is not None

    def press_ctrl_c() -> None:
        posted.wait(30)  # a bound against hanging: Ctrl-C comes either way
        signal.pthread_kill(main_thread, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    out = cli.invoke(main, ["tips", "run", "--now", "2025-03-31T09:00+00:00"])  # no --once: runs until stopped
    presser.join(30)
    assert posted.is_set()
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("── #local (due 2025-03-31T09:00:00+00:00) ──\nDaily tip\n")
    assert "Traceback" not in out.output and out.stderr == ""
