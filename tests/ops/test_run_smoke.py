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
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.slack import TEAM_ID, FakeSlack
from tests.slack.conftest import BOT_TOKEN, SECRET, sign
from tests.tips.conftest import new_schema

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


async def test_careerbot_run_as_the_compose_service_is_ready_counts_and_stops(
    postgres_url: str, tmp_path: Path
) -> None:
    service = compose_bot()
    port = free_port()
    async with FakeSlack() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "CAREERBOT_"))}
        env |= {k: str(v) for k, v in service["environment"].items()}
        env |= {
            # the compose file's values, pointed at this machine: PostgreSQL on 127.0.0.1, a free port
            "CAREERBOT_DATABASE_URL": postgres_url,
            "CAREERBOT_DATABASE_SCHEMA": new_schema(),
            "CAREERBOT_HTTP_PORT": str(port),
            "CAREERBOT_LOG_FORMAT": "json",
            "CAREERBOT_DATA_DIR": str(tmp_path),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "PYTHONPATH": str(ROOT),  # this checkout's code, whatever the venv was installed from
        }
        assert service["command"] == ["careerbot", "run"]
        proc = await asyncio.create_subprocess_exec(
            *careerbot(),
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
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
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 10)
            took = time.monotonic() - started
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert took < 10
    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    assert any(e["logger"] == "careerbot.requests" and e.get("command") == "role" for e in lines)
    assert any(e["message"] == "stopped" for e in lines)
    assert not any("Traceback" in e.get("error", "") for e in lines)
    assert BOT_TOKEN not in err.decode() and SECRET not in err.decode()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
