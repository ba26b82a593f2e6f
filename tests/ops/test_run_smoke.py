"""``careerbot run`` started as the compose ``bot`` service starts it (its command and environment), on
PostgreSQL at 127.0.0.1 and the fake Slack: ready, counting a signed slash command, and stopping
cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.context import Services, ServiceSettings
from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from bot.schedule.clock import FakeClock
from bot.schedule.tables import tenant_leases
from bot.store.engine import Store
from bot.tips.tables import posts
from tests.fakes.slack import TEAM_ID, FakeSlack
from tests.slack.conftest import BOT_TOKEN, SECRET, sign
from tests.tips.conftest import MemoryPoster, new_schema

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def compose_bot() -> dict[str, Any]:
    service: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["bot"]
    return service


def careerbot() -> list[str]:
    script = Path(sys.executable).with_name("careerbot")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from adapters.cli import main; main()"]


async def wait_ready(url: str, proc: asyncio.subprocess.Process, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert proc.returncode is None, "careerbot run exited before it was ready"
            try:
                async with session.get(url) as r:
                    if r.status == 200:
                        answer: dict[str, Any] = await r.json()
                        return answer
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not turn 200 within {timeout} s")


def run_env(fake: FakeSlack, postgres_url: str, schema: str, port: int, data: Path) -> dict[str, str]:
    """The compose ``bot`` service's environment, pointed at this machine (PostgreSQL on 127.0.0.1, a
    free port, the fake Slack)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "CAREERBOT_"))}
    env |= {k: str(v) for k, v in compose_bot()["environment"].items()}
    return env | {
        "CAREERBOT_DATABASE_URL": postgres_url,
        "CAREERBOT_DATABASE_SCHEMA": schema,
        "CAREERBOT_HTTP_PORT": str(port),
        "CAREERBOT_LOG_FORMAT": "json",
        "CAREERBOT_DATA_DIR": str(data),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "PYTHONPATH": str(ROOT),  # this checkout's code, whatever the venv was installed from
    }


async def start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *careerbot(), "run", env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def stop(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    """SIGTERM, then the exit code and stderr (killed after 10 s: the test then fails on the code)."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
    _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_a_retried_event_is_answered_once_across_two_replicas(postgres_url: str, tmp_path: Path) -> None:
    schema = new_schema()
    ports = [free_port(), free_port()]
    async with FakeSlack() as fake:
        procs = []
        try:
            for i, port in enumerate(ports):
                (tmp_path / str(i)).mkdir()
                procs.append(
                    await start(run_env(fake, postgres_url, schema, port, tmp_path / str(i)), tmp_path / str(i))
                )
            for proc, port in zip(procs, ports, strict=True):
                await wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
            event = {"type": "app_mention", "user": "U1", "text": "<@UBOT> what is fhir", "ts": "7.0", "channel": "C1"}
            body = json.dumps(
                {
                    "team_id": TEAM_ID,
                    "api_app_id": "A1",
                    "event": event,
                    "type": "event_callback",
                    "event_id": "EvRETRIED1",
                    "event_time": int(time.time()),
                    "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
                }
            )
            later = json.loads(body) | {"event_id": "EvLATER1", "event": event | {"ts": "8.0"}}
            async with aiohttp.ClientSession() as session:
                for retry, port in enumerate(ports):  # the first delivery, then Slack's retry to the other
                    headers = {**sign(body), "Content-Type": "application/json", "X-Slack-Retry-Num": str(retry)}
                    async with session.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as r:
                        assert r.status == 200
                # then a new mention to the replica that got the retry: handled after the retry and the
                # same way, so once it is answered the retry has had its chance to be answered too
                text = json.dumps(later)
                headers = {**sign(text), "Content-Type": "application/json"}
                async with session.post(f"http://127.0.0.1:{ports[-1]}/slack/events", data=text, headers=headers) as r:
                    assert r.status == 200

            def answers(ts: str) -> list[Any]:
                return [c for c in fake.of("chat.postMessage") if c.body.get("thread_ts") == ts]

            deadline = time.monotonic() + 30
            while not (answers("7.0") and answers("8.0")):
                assert time.monotonic() < deadline, "a mention was never answered"
                await asyncio.sleep(0.05)
            assert len(answers("7.0")) == 1
        finally:
            results = [await stop(proc) for proc in procs]
    assert [code for code, _ in results] == [0, 0], results[0][1][-1500:] + results[1][1][-1500:]


async def test_careerbot_run_as_the_compose_service_is_ready_counts_and_stops(
    postgres_url: str, tmp_path: Path
) -> None:
    assert compose_bot()["command"] == ["careerbot", "run"]
    port = free_port()
    async with FakeSlack() as fake:
        proc = await start(run_env(fake, postgres_url, new_schema(), port, tmp_path), tmp_path)
        try:
            ready = await wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
            assert ready["checks"] == {"knowledge": "ok", "store": "ok", "slack": "ok"}
            body = urlencode(
                {
                    "team_id": TEAM_ID,
                    "channel_id": "C1",
                    "user_id": "U1",
                    "command": "/role",
                    "text": "ehr",
                    "response_url": fake.response_url("smoke"),
                    "trigger_id": "1.2.3",
                }
            )
            headers = {**sign(body), "Content-Type": "application/x-www-form-urlencoded"}
            async with aiohttp.ClientSession() as session:
                async with session.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as r:
                    assert r.status == 200
                async with session.get(f"http://127.0.0.1:{port}/metrics") as r:
                    text = await r.text()
            counted = {
                (s.labels["command"], s.labels["platform"], s.labels["outcome"]): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
                if s.name == "careerbot_commands_total"
            }
            assert counted == {("role", "slack", "ok"): 1.0}
        finally:
            started = time.monotonic()
            code, err = await stop(proc)
            took = time.monotonic() - started
    assert code == 0, err[-2000:]
    assert took < 10
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any(e["logger"] == "careerbot.requests" and e.get("command") == "role" for e in lines)
    assert any(e["message"] == "stopped" for e in lines)
    assert not any("Traceback" in e.get("error", "") for e in lines)
    assert BOT_TOKEN not in err and SECRET not in err


async def due_tip(postgres_url: str, schema: str) -> None:
    """A daily tip for the fake workspace's #general, due a minute ago (subscribed yesterday)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    due = now - timedelta(minutes=1)
    services = Services(
        url=postgres_url,
        schema=schema,
        environ={},
        posters={"slack": MemoryPoster()},
        clock=FakeClock(due - timedelta(hours=12)),
        settings=ServiceSettings(admins=frozenset({"slack:UADMIN"})),
    )
    core = Core(default_knowledge_dir(), services=services)
    try:
        reply = await core.ask(
            f"/tips subscribe time:{due:%H:%M} timezone:UTC days:daily",
            platform="slack",
            tenant=TEAM_ID,
            channel="C1",
            user="UADMIN",
            admin=True,
        )
        assert reply.tone == "answer", reply.summary
    finally:
        await core.aclose()


async def leases(postgres_url: str, schema: str) -> tuple[list[str], list[tuple[str, str | None]]]:
    store = await Store.open(postgres_url, schema=schema, environ={})
    try:
        async with store.connect() as conn:
            held = list((await conn.execute(select(tenant_leases.c.owner))).scalars())
            jobs = [(r.state, r.owner) for r in await conn.execute(select(posts.c.state, posts.c.owner))]
    finally:
        await store.close()
    return held, jobs


async def test_sigterm_hands_a_held_tenant_to_the_next_process_at_once(postgres_url: str, tmp_path: Path) -> None:
    """The first process is waiting out a 429 (holding the tenant and the tip's claim) when SIGTERM
    arrives: it exits 0 within 10 s, the lease and the claim are given back, and a second process
    posts the tip at once rather than after the 60 s lease."""
    schema = new_schema()
    await due_tip(postgres_url, schema)
    async with FakeSlack() as fake:
        fake.channel("C1", name="general")
        fake.fail("chat.postMessage", status=429, retry_after=30, times=1)
        first_data, second_data = tmp_path / "a", tmp_path / "b"
        first_data.mkdir()
        second_data.mkdir()
        first = await start(run_env(fake, postgres_url, schema, free_port(), first_data), first_data)
        try:
            began = time.monotonic()  # the 429: then it sleeps 30 s, holding the lease and the claim
            while not any(c.status == 429 for c in fake.of("chat.postMessage")) and time.monotonic() - began < 60:
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            held, jobs = await leases(postgres_url, schema)
            assert len(held) == 1 and [state for state, _ in jobs] == ["claimed"]
        finally:
            started = time.monotonic()
            code, err = await stop(first)
            took = time.monotonic() - started
        assert code == 0 and took < 10, err[-2000:]
        assert await leases(postgres_url, schema) == ([], [("pending", None)])
        second = await start(run_env(fake, postgres_url, schema, free_port(), second_data), second_data)
        try:
            began = time.monotonic()
            while not fake.posts(channel="C1") and time.monotonic() - began < 30:
                await asyncio.sleep(0.2)
            assert len(fake.posts(channel="C1")) == 1  # posted once, within seconds, not after 60
        finally:
            code, err = await stop(second)
        assert code == 0, err[-2000:]
    assert (await leases(postgres_url, schema))[1] == [("sent", None)]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
