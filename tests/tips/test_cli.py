"""The command line for daily tips, through real subprocesses: `careerbot db upgrade`, subscribing
from the console and `careerbot tips run --now ... --once` printing the post."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CAREERBOT = Path(sys.executable).with_name("careerbot")


def run(*args: str, data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CAREERBOT_", "SLACK_", "DISCORD_"))}
    return subprocess.run(
        [str(CAREERBOT), *args],
        capture_output=True,
        text=True,
        cwd=data,
        env=clean | {"NO_COLOR": "1", "CAREERBOT_DATA_DIR": str(data)} | env,
        timeout=60,
    )


def test_db_upgrade_creates_then_keeps_the_schema(tmp_path: Path) -> None:
    first = run("db", "upgrade", data=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"sqlite+aiosqlite:///{tmp_path}/careerbot.db: empty -> 0002"
    again = run("db", "upgrade", data=tmp_path)
    assert again.stdout.strip().endswith("already at 0002")


def test_a_bad_database_url_names_the_variable(tmp_path: Path) -> None:
    out = run("db", "upgrade", data=tmp_path, CAREERBOT_DATABASE_URL="mysql://nope")
    assert out.returncode == 2 and "CAREERBOT_DATABASE_URL must be" in out.stderr and "Traceback" not in out.stderr


def test_subscribe_on_the_console_then_the_scheduler_prints_the_post(tmp_path: Path) -> None:
    sub = run("ask", "/tips subscribe time:09:00 timezone:Europe/Berlin days:daily", data=tmp_path)
    assert sub.returncode == 0 and "Daily tips on for #local" in sub.stdout, sub.stderr
    early = run("tips", "run", "--now", "2031-03-31T08:59+02:00", "--once", data=tmp_path)
    assert early.stdout == "" and "0 posted" in early.stderr
    due = run("tips", "run", "--now", "2031-03-31T09:00+02:00", "--once", data=tmp_path)
    assert due.returncode == 0, due.stderr
    assert "── #local (due 2031-03-31T07:00:00+00:00) ──" in due.stdout and "Daily tip" in due.stdout
    assert "1 posted" in due.stderr
    again = run("tips", "run", "--now", "2031-03-31T10:00+02:00", "--once", data=tmp_path)
    assert again.stdout == "" and "0 posted" in again.stderr  # never twice a day
    listed = run("ask", "/tips list", data=tmp_path)
    assert "#local: daily at 09:00 Europe/Berlin" in listed.stdout
