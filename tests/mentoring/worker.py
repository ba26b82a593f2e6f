"""A scheduler process for the mentoring crash test.

    python -m tests.mentoring.worker --posts FILE --now ISO [--hang in-round|before-send|after-send]

The database comes from ``CAREERBOT_DATABASE_URL`` / ``CAREERBOT_DATABASE_SCHEMA``. Posts go to a
"platform" that is an append-only file of JSON lines (flushed and fsynced before the send returns),
which can also answer :meth:`find` after a crash, as Slack's message metadata does. ``--hang``
stops forever at one point and prints a line there, so the test can SIGKILL the process exactly
then: ``ROUND`` inside the transaction that makes a round (before it commits), ``CLAIMED`` just before
the first send, ``SENT`` just after it. At the end one JSON line reports what this process did.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import bot.mentoring.jobs
from bot.errors import PostError
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.loader import default_knowledge_dir, load
from bot.mentoring.rounds import make_round
from bot.registry import job_kinds
from bot.schedule.clock import FakeClock
from bot.schedule.posting import Channel, Post, parse_channel
from bot.schedule.scheduler import Scheduler
from bot.store.engine import Store


class FilePoster:
    private_groups = True

    def __init__(self, path: Path, hang: str | None) -> None:
        self.path = path
        self.hang = hang

    async def check_channel(self, tenant: str, channel: str) -> Channel:
        return parse_channel(channel)

    async def default_timezone(self, tenant: str, user: str) -> str | None:
        return None

    async def find(self, post: Post) -> str | None:
        if not self.path.exists():
            return None
        for line in self.path.read_text().splitlines():
            if json.loads(line)["key"] == post.key:
                return f"file-{post.key}"
        return None

    async def post(self, post: Post) -> str:
        if not post.audience:
            raise PostError("this test platform only takes private posts", permanent=True)
        if self.hang == "before-send":
            print(f"CLAIMED {post.key}", flush=True)
            await asyncio.Event().wait()
        with self.path.open("a") as out:
            out.write(json.dumps({"key": post.key, "audience": list(post.audience), "title": post.reply.title}) + "\n")
            out.flush()
            os.fsync(out.fileno())
        if self.hang == "after-send":
            print(f"SENT {post.key}", flush=True)
            await asyncio.Event().wait()
        return f"file-{post.key}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=Path, required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--hang", choices=["in-round", "before-send", "after-send"])
    args = parser.parse_args()
    if args.hang == "in-round":
        real = make_round

        async def hang_in_round(*a: Any, **kw: Any) -> Any:
            await real(*a, **kw)
            print("ROUND", flush=True)
            await asyncio.Event().wait()

        setattr(bot.mentoring.jobs, "make_round", hang_in_round)  # noqa: B010  (the name IntroJobs calls)
    kb = KnowledgeBase(load(default_knowledge_dir()))
    store = await Store.open(os.environ["CAREERBOT_DATABASE_URL"], schema=os.environ.get("CAREERBOT_DATABASE_SCHEMA"))
    try:
        clock = FakeClock(datetime.fromisoformat(args.now))
        poster = FilePoster(args.posts, None if args.hang == "in-round" else args.hang)
        report = await Scheduler(store, {"slack": poster}, job_kinds(lambda: kb), clock=clock).run_once()
    finally:
        await store.close()
    print(json.dumps({"sent": report.sent, "found": report.found, "failed": report.failed, "errors": report.errors}))


if __name__ == "__main__":
    asyncio.run(main())
