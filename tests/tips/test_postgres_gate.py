"""Without PostgreSQL the PostgreSQL tests skip with the reason; CI's CAREERBOT_REQUIRE_POSTGRES=1
turns that skip into a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "postgresql+asyncpg://postgres@127.0.0.1:9/test"  # the discard port: nothing listens


def pytest_run(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CAREERBOT_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/test_tips_replicas.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=base | {"CAREERBOT_TEST_DATABASE_URL": NOWHERE} | env,
        timeout=120,
    )


def test_unreachable_postgres_skips_with_a_reason() -> None:
    out = pytest_run()
    assert out.returncode == 0, out.stdout
    assert "1 skipped" in out.stdout and "PostgreSQL at 127.0.0.1:9/test is not reachable" in out.stdout


def test_required_postgres_fails_instead() -> None:
    out = pytest_run(CAREERBOT_REQUIRE_POSTGRES="1")
    assert out.returncode != 0
    assert "CAREERBOT_REQUIRE_POSTGRES=1 but PostgreSQL at 127.0.0.1:9/test is not reachable" in out.stdout
