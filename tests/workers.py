"""Scheduler processes for the crash tests: run one to the end, or SIGKILL it at a printed point.

A worker module (``tests.tips.worker``, ``tests.mentoring.worker``) takes ``--now ISO`` and its own
arguments, prints a line such as ``CLAIMED``/``SENT``/``ROUND`` where ``--hang`` stops it, and ends
with one JSON line reporting what it did.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.tips.conftest import Database

ROOT = Path(__file__).resolve().parents[1]


async def spawn(module: str, database: Database, now: datetime, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, **database.env(), "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        "--now",
        now.isoformat(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )


async def run(module: str, database: Database, now: datetime, *args: str, timeout: float = 60) -> dict[str, Any]:
    """Run the worker to its end; its last line, as JSON."""
    proc = await spawn(module, database, now, *args)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()[-2000:]
    return dict(json.loads(out.decode().splitlines()[-1]))


async def kill_at(
    module: str, database: Database, now: datetime, hang: str, line: str, *args: str, timeout: float = 60
) -> None:
    """Start the worker with ``--hang HANG``, wait for the line it prints there, and SIGKILL it."""
    proc = await spawn(module, database, now, *args, "--hang", hang)
    assert proc.stdout is not None
    seen = await asyncio.wait_for(proc.stdout.readline(), timeout)
    if not seen.decode().startswith(line):
        proc.kill()
        _, err = await proc.communicate()
        raise AssertionError(f"expected {line}, got {seen!r}: {err.decode()[-2000:]}")
    proc.send_signal(signal.SIGKILL)  # no cleanup, no finally: as if the machine lost power
    assert await proc.wait() == -signal.SIGKILL
