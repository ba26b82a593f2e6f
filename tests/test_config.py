"""Issue 14, path 10: deployment settings that are wrong are refused at once, in one line naming the
variable and what to write (never a traceback, never the value for the URL: it may hold a password).

``CAREERBOT_TIMEZONE`` and ``CAREERBOT_TIPS_GRACE`` (:meth:`bot.context.ServiceSettings.from_env`),
``CAREERBOT_DATABASE_URL`` (:func:`bot.store.engine.database_url`), and a PostgreSQL URL without
asyncpg installed (simulated: the import fails as if the extra were not installed).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.context import GRACE_MAX, Services, ServiceSettings
from bot.errors import ConfigError
from bot.store.engine import SQLITE_FILE, Store, database_url
from tests.tips.test_cli import one_line_error, run

ROOT = Path(__file__).resolve().parents[1]
ZONE_FIX = "CAREERBOT_TIMEZONE must be an IANA time zone such as Europe/Berlin"
GRACE_FORMAT = "CAREERBOT_TIPS_GRACE must be a duration such as 6h or 90m"
GRACE_RANGE = "CAREERBOT_TIPS_GRACE must be between 0 and 23h"
NEEDS_ASYNCPG = "CAREERBOT_DATABASE_URL is PostgreSQL, which needs: pip install 'careerbot[postgres]'"


# ------------------------------------------------------------------ CAREERBOT_TIMEZONE


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Berln", "../../etc/passwd", "x" * 65, "UTC+2"])
def test_a_bad_timezone_is_refused_naming_the_variable(zone: str) -> None:
    with pytest.raises(ConfigError, match=f"^{ZONE_FIX}$"):
        ServiceSettings.from_env({"CAREERBOT_TIMEZONE": zone})


@pytest.mark.parametrize(("given", "kept"), [("", "UTC"), ("   ", "UTC"), ("europe/berlin", "Europe/Berlin")])
def test_a_blank_or_any_case_timezone_is_accepted(given: str, kept: str) -> None:
    assert ServiceSettings.from_env({"CAREERBOT_TIMEZONE": given}).default_timezone == kept


# ------------------------------------------------------------------ CAREERBOT_TIPS_GRACE


@pytest.mark.parametrize("grace", ["forever", "", "-1h", "6d", "1h30m", "6 hours", "0x10"])
def test_a_grace_that_is_not_a_duration_is_refused(grace: str) -> None:
    with pytest.raises(ConfigError, match=f"^{GRACE_FORMAT}$"):
        ServiceSettings.from_env({"CAREERBOT_TIPS_GRACE": grace})


@pytest.mark.parametrize("grace", ["24h", "23.5", "1381m", "82801s"])
def test_a_grace_past_23_hours_is_refused(grace: str) -> None:
    with pytest.raises(ConfigError, match=f"^{GRACE_RANGE}$"):
        ServiceSettings.from_env({"CAREERBOT_TIPS_GRACE": grace})


@pytest.mark.parametrize(
    ("grace", "kept"),
    [("0", timedelta(0)), ("90m", timedelta(minutes=90)), ("2.5", timedelta(hours=2.5)), ("23h", GRACE_MAX)],
)
def test_a_grace_within_range_is_kept(grace: str, kept: timedelta) -> None:
    assert ServiceSettings.from_env({"CAREERBOT_TIPS_GRACE": grace}).grace == kept


def test_services_refuse_a_bad_setting_when_it_is_read() -> None:
    services = Services(environ={"CAREERBOT_TIPS_GRACE": "48h"})
    with pytest.raises(ConfigError, match=f"^{GRACE_RANGE}$"):
        services.settings  # noqa: B018 - the property reads the environment


# ------------------------------------------------------------------ CAREERBOT_DATABASE_URL


@pytest.mark.parametrize("url", ["not a url", "postgresql//host/db", "://nohost", "sqlite+aiosqlite:"])
def test_a_database_url_that_is_not_a_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigError, match="^CAREERBOT_DATABASE_URL is not a database URL$"):
        database_url({"CAREERBOT_DATABASE_URL": url})


@pytest.mark.parametrize("url", ["mysql://u:secret@db/careerbot", "oracle://db", "sqlite+pysqlite2://"])
def test_a_database_that_is_not_supported_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="^CAREERBOT_DATABASE_URL must be a postgresql:// or sqlite:// URL$"):
        database_url({"CAREERBOT_DATABASE_URL": url})


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite"),
    ],
)
def test_supported_urls_get_the_async_driver(url: str, driver: str) -> None:
    assert database_url({"CAREERBOT_DATABASE_URL": f"  {url} "}).drivername == driver


def test_no_database_url_is_the_sqlite_file_in_the_data_directory(tmp_path: Path) -> None:
    url = database_url({"CAREERBOT_DATABASE_URL": " ", "CAREERBOT_DATA_DIR": str(tmp_path)})
    assert url.drivername == "sqlite+aiosqlite" and url.database == str(tmp_path / SQLITE_FILE)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+asyncpg"])
async def test_postgresql_without_asyncpg_says_which_extra_to_install(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # `import asyncpg` now fails, as if not installed
    environ = {"CAREERBOT_DATABASE_URL": f"{scheme}://postgres@127.0.0.1:5432/test"}
    with pytest.raises(ConfigError, match=f"^{re.escape(NEEDS_ASYNCPG)}$"):
        database_url(environ)
    with pytest.raises(ConfigError, match="pip install 'careerbot"):  # opening the store is refused the same way
        await Store.open(environ=environ)
    sqlite = database_url({"CAREERBOT_DATABASE_URL": "sqlite:////tmp/x.db"})
    assert sqlite.drivername == "sqlite+aiosqlite"  # SQLite never needed it


# ------------------------------------------------------------------ through the command line


def test_tips_run_with_a_bad_grace_or_timezone_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for env, says in (
        ({"CAREERBOT_TIPS_GRACE": "forever"}, GRACE_FORMAT),
        ({"CAREERBOT_TIPS_GRACE": "30h"}, GRACE_RANGE),
        ({"CAREERBOT_TIMEZONE": "Mars/Olympus_Mons"}, ZONE_FIX),
    ):
        line = one_line_error(run("tips", "run", "--once", data=tmp_path, **env), 2)
        assert line == f"careerbot: {says}", line


def test_db_upgrade_with_a_url_that_is_not_a_url_is_one_line_without_the_password(tmp_path: Path) -> None:
    out = run("db", "upgrade", data=tmp_path, CAREERBOT_DATABASE_URL="postgresql//admin:hunter2@db")
    line = one_line_error(out, 2)
    assert line == "careerbot: CAREERBOT_DATABASE_URL is not a database URL" and "hunter2" not in out.stderr


def test_db_upgrade_without_asyncpg_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    """The real command line in a process where ``import asyncpg`` fails."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CAREERBOT_", "SLACK_", "DISCORD_"))}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['asyncpg'] = None\nfrom adapters.cli import main\nmain(prog_name='careerbot')",
            "db",
            "upgrade",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean
        | {
            "NO_COLOR": "1",
            "CAREERBOT_DATA_DIR": str(tmp_path),
            "CAREERBOT_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
        },
        timeout=60,
    )
    assert one_line_error(out, 2) == f"careerbot: {NEEDS_ASYNCPG}"
    assert list(tmp_path.iterdir()) == []  # nothing was created in SQLite's place


def test_careerbot_run_with_a_bad_setting_stops_at_start_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not later, as an internal error on every /tips subscribe."""
    from click.testing import CliRunner

    from adapters.cli import main

    monkeypatch.setenv("DISCORD_TOKEN", "MTIz.NDU2.Nzg5")  # a platform, so not the console
    for name, value, message in (
        ("CAREERBOT_TIMEZONE", "Mars/Olympus", "CAREERBOT_TIMEZONE must be an IANA time zone"),
        ("CAREERBOT_TIPS_GRACE", "forever", "CAREERBOT_TIPS_GRACE"),
    ):
        with monkeypatch.context() as env:
            env.setenv(name, value)
            result = CliRunner().invoke(main, ["run"])
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
