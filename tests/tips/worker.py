"""A scheduler process for the crash and replica tests and the benchmark.

    python -m tests.tips.worker --slack-api URL --now ISO [--run once|until-idle] [--hang before-send|after-send]
                                [--wait-go] [--lease SECONDS]

The database comes from ``CAREERBOT_DATABASE_URL`` / ``CAREERBOT_DATABASE_SCHEMA``; posts go to the
fake Slack API through the real :class:`~adapters.slack_bot.posting.SlackTipPoster` (token ``xoxb-<team>``).

``--run once``: a fixed clock at ``--now``, one pass. ``--run until-idle``: the clock starts at
``--now`` and runs in real time (leases expire for real), until no due work is left for anyone.
``--hang``: stop forever just before or just after the first send, printing ``CLAIMED`` / ``SENT``,
so a test can SIGKILL the process at exactly that point. ``--wait-go``: print ``READY`` once set up
and start on a line from stdin. At the end one JSON line reports what this process did.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.slack_bot.posting import SlackTipPoster
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import default_knowledge_dir, load
from bot.registry import job_kinds
from bot.schedule.clock import Clock, FakeClock, ShiftedClock
from bot.schedule.posting import Channel, Post
from bot.schedule.scheduler import Scheduler, Settings
from bot.store.engine import Store


class Hang:
    """A poster that stops for good around its first send, for a SIGKILL at that point."""

    def __init__(self, inner: SlackTipPoster, when: str) -> None:
        self.inner = inner
        self.when = when

    async def check_channel(self, tenant: str, channel: str) -> Channel:
        return await self.inner.check_channel(tenant, channel)

    async def default_timezone(self, tenant: str, user: str) -> str | None:
        return await self.inner.default_timezone(tenant, user)

    async def find(self, post: Post) -> str | None:
        return await self.inner.find(post)

    async def post(self, post: Post) -> str:
        if self.when == "before-send":
            print(f"CLAIMED {post.key}", flush=True)
            await asyncio.Event().wait()
        message_id = await self.inner.post(post)
        print(f"SENT {post.key} {message_id}", flush=True)
        await asyncio.Event().wait()
        return message_id


async def main(args: argparse.Namespace) -> dict[str, Any]:
    store = await Store.open()
    kb = KnowledgeBase(load(default_knowledge_dir()))
    slack = SlackTipPoster(lambda team: f"xoxb-{team}", base_url=args.slack_api)
    poster: Any = Hang(slack, args.hang) if args.hang else slack
    settings = Settings(lease=timedelta(seconds=args.lease), poll=0.02, scan=0.5)
    start = datetime.fromisoformat(args.now)
    try:
        clock: Clock = FakeClock(start) if args.run == "once" else ShiftedClock(start)
        scheduler = Scheduler(store, {"slack": poster}, job_kinds(lambda: kb), clock=clock, settings=settings)
        if args.wait_go:
            await scheduler.register()  # so replicas starting together know of each other
            print("READY", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            if isinstance(clock, ShiftedClock):
                clock.origin = time.monotonic()  # the simulated time starts now
        began, queries, cpu = time.monotonic(), store.queries, time.process_time()
        if args.run == "once":
            await scheduler.run_once()
        else:
            await scheduler.run(until_idle=True)
        report = scheduler.report
        return {
            "sent": report.sent,
            "found": report.found,
            "missed": report.missed,
            "failed": report.failed,
            "retried": report.retried,
            "errors": report.errors,
            "queries": store.queries - queries,
            "rate_limited": slack.rate_limited,
            "seconds": time.monotonic() - began,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "cpu_seconds": time.process_time() - cpu,
            "pid": os.getpid(),
        }
    finally:
        await slack.close()
        await store.close()


async def start_replicas(
    count: int, *, slack_api: str, now: datetime, env: dict[str, str], cwd: Path, ready_timeout: float = 60
) -> list[asyncio.subprocess.Process]:
    """Start ``count`` workers that run until idle, each held at ``READY`` until :func:`release`."""
    args = ["-m", "tests.tips.worker", "--slack-api", slack_api, "--now", now.isoformat(), "--run", "until-idle"]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            "--wait-go",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        for _ in range(count)
    ]
    for proc in procs:
        assert proc.stdout is not None
        ready = await asyncio.wait_for(proc.stdout.readline(), ready_timeout)
        assert ready.strip() == b"READY", ready
    return procs


async def release(procs: list[asyncio.subprocess.Process]) -> None:
    """Let every held worker start at once."""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slack-api", required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--run", choices=("once", "until-idle"), default="once")
    parser.add_argument("--hang", choices=("before-send", "after-send"))
    parser.add_argument("--wait-go", action="store_true")
    parser.add_argument("--lease", type=float, default=60.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(json.dumps(asyncio.run(main(args))), flush=True)


if __name__ == "__main__":
    cli()
