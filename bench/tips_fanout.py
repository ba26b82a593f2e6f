"""Benchmark: 10,000 daily tips due in the same minute, across 100 fake Slack workspaces.

    python -m bench.tips_fanout [--subscriptions 10000] [--workspaces 100] [--only sqlite|postgresql]

The fake Slack Web API runs in its own process and enforces 1 post/s per channel and 20 posts/s per
workspace (HTTP 429 with Retry-After beyond). Scheduler replicas run as separate processes (the
same worker the replica test uses) on SQLite (one file) or PostgreSQL (a fresh schema), one and two
of them, and start together at the due minute. Measured: time from start until the last post
arrived, posts/s, 429s the fake answered, DB statements per post, peak RSS per replica, and
duplicate or missing posts; also when the first post arrived, the replicas' CPU seconds and the
fake's. The floor the limits set: 100 posts per workspace at 20/s = 5 s (a sliding one-second window
lets the first 20 go at once, so about 4 s is possible). Target: drained within 10% of 5 s (5.5 s)
with none duplicated or missing. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from tests.tips.worker import release, start_replicas

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("CAREERBOT_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PER_CHANNEL, PER_WORKSPACE = 1, int(os.environ.get("BENCH_PER_WORKSPACE", "20"))
DUE = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@dataclass
class Result:
    database: str
    replicas: int
    drained: float
    first: float
    cpu: float
    fake_cpu: float
    posts: int
    duplicates: int
    rate_limited: int
    queries_per_post: float
    peak_rss_mb: float
    split: list[int]


async def start_fake() -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.slack",
        "--per-channel",
        str(PER_CHANNEL),
        "--per-workspace",
        str(PER_WORKSPACE),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    port = (await proc.stdout.readline()).decode().split()[1]
    return proc, f"http://127.0.0.1:{port}"


async def stats(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.get(f"{base}/stats") as resp:
        return dict(await resp.json())


async def prepare(kind: str, subscriptions: int, workspaces: int, scratch: Path) -> tuple[dict[str, str], Any]:
    from bot.store.engine import Store
    from tests.tips.seeding import bulk_subscribe

    if kind == "sqlite":
        path = scratch / f"bench-{random.getrandbits(32):08x}.db"
        env, schema, url = {"CAREERBOT_DATABASE_URL": f"sqlite:///{path}"}, None, f"sqlite+aiosqlite:///{path}"
    else:
        schema = f"cb_bench_{os.getpid()}_{random.getrandbits(24):06x}"
        env, url = {"CAREERBOT_DATABASE_URL": PG_URL, "CAREERBOT_DATABASE_SCHEMA": schema}, PG_URL
    store = await Store.open(url, schema=schema, environ={})
    per = subscriptions // workspaces
    places = [(f"T{w:04d}", f"C{w:04d}{c:05d}") for c in range(per) for w in range(workspaces)]
    await bulk_subscribe(store, places, DUE)
    await store.close()

    async def cleanup() -> None:
        if schema is None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return
        store = await Store.open(PG_URL, migrate=False, environ={})
        async with store.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await store.close()

    return env, cleanup


async def one(kind: str, replicas: int, subscriptions: int, workspaces: int, scratch: Path) -> Result:
    env, cleanup = await prepare(kind, subscriptions, workspaces, scratch)
    fake, base = await start_fake()
    try:
        env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        procs = await start_replicas(replicas, slack_api=f"{base}/api/", now=DUE, env=env, cwd=ROOT)
        started = time.monotonic()
        await release(procs)
        outputs = await asyncio.gather(*(p.communicate() for p in procs))
        reports = []
        for proc, (out, err) in zip(procs, outputs, strict=True):
            if proc.returncode != 0:
                raise RuntimeError(f"replica failed:\n{err.decode()[-3000:]}")
            reports.append(json.loads(out.decode().splitlines()[-1]))
        async with aiohttp.ClientSession() as http:
            seen = await stats(http, base)
    finally:
        assert fake.stdin is not None
        fake.stdin.close()
        await fake.wait()
        await cleanup()
    posts = int(seen["posts"])
    return Result(
        database=kind,
        replicas=replicas,
        drained=(seen["last_post"] or started) - started,
        first=(seen["first_post"] or started) - started,
        cpu=sum(r["cpu_seconds"] for r in reports),
        fake_cpu=float(seen["cpu_seconds"]),
        posts=posts,
        duplicates=int(seen["duplicate_keys"]) + int(seen["duplicate_channels"]),
        rate_limited=int(seen["rate_limited"]),
        queries_per_post=sum(r["queries"] for r in reports) / max(posts, 1),
        peak_rss_mb=max(r["peak_rss_mb"] for r in reports),
        split=[r["sent"] + r["found"] for r in reports],
    )


async def main(args: argparse.Namespace) -> None:
    floor = args.subscriptions / args.workspaces / PER_WORKSPACE
    print(
        f"{args.subscriptions} subscriptions across {args.workspaces} workspaces, all due {DUE:%H:%M}; "
        f"fake Slack: {PER_CHANNEL}/s per channel, {PER_WORKSPACE}/s per workspace; "
        f"floor {floor:.1f} s, target <= {floor * 1.1:.2f} s"
    )
    print(
        f"{'database':<11}{'replicas':>9}{'drained s':>11}{'posts/s':>9}{'vs floor':>9}{'posts':>7}{'missing':>8}"
        f"{'dupes':>6}{'429s':>6}{'q/post':>8}{'RSS MB':>8}{'1st s':>7}{'CPU s':>7}{'fake':>6}  split"
    )
    kinds = [args.only] if args.only else ["sqlite", "postgresql"]
    with tempfile.TemporaryDirectory() as scratch:
        for kind in kinds:
            for replicas in (1, 2):
                r = await one(kind, replicas, args.subscriptions, args.workspaces, Path(scratch))
                print(
                    f"{r.database:<11}{r.replicas:>9}{r.drained:>11.2f}{r.posts / r.drained:>9.0f}"
                    f"{r.drained / floor:>8.2f}x{r.posts:>7}{args.subscriptions - r.posts:>8}{r.duplicates:>6}"
                    f"{r.rate_limited:>6}{r.queries_per_post:>8.3f}{r.peak_rss_mb:>8.0f}{r.first:>7.2f}{r.cpu:>7.1f}"
                    f"{r.fake_cpu:>6.1f}  {r.split}",
                    flush=True,
                )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
