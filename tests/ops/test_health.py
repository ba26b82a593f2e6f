"""Health, readiness and Prometheus metrics (adapters/ops.py, bot/metrics.py) and JSON logs."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters import ops as ops_module
from adapters.logs import JsonFormatter, configure
from adapters.ops import Ops, OpsServer
from bot import metrics
from bot.context import Services
from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from bot.registry import REGISTRY


class Platform:
    def __init__(self, name: str, connected: bool) -> None:
        self.name = name
        self.connected = connected


async def core_on(url: str) -> Core:
    return Core(default_knowledge_dir(), services=Services(url=url, environ={}), rng=random.Random(1))


@pytest.fixture(autouse=True)
def patient_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read what readiness says, not how fast: a first store open (SQLAlchemy, migrations)
    on a loaded machine under coverage can take longer than the 2 s a check gets in production.
    tests/ops/test_ops_more.py tests the timeout itself."""
    monkeypatch.setattr(ops_module, "CHECK_TIMEOUT", 60.0)


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    made = await core_on(f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}")
    yield made
    await made.aclose()


@pytest.fixture
async def server(core: Core) -> AsyncIterator[OpsServer]:
    running = OpsServer(Ops(core, [Platform("slack", True)]), host="127.0.0.1", port=0)
    await running.start()
    yield running
    await running.close()


async def get(server: OpsServer, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}{path}") as r:
        return r.status, await r.text()


def samples(text: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        found.setdefault(family.name, []).extend(family.samples)
    return found


async def test_ready_when_knowledge_store_and_platforms_are(server: OpsServer) -> None:
    status, body = await get(server, "/readyz")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["ready"] is True and answer["checks"] == {"knowledge": "ok", "store": "ok", "slack": "ok"}
    assert (await get(server, "/healthz"))[0] == 200


async def test_not_ready_says_why(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    ops = Ops(core, [Platform("slack", True), Platform("discord", False)])
    found = await ops.readiness()
    assert not found.ready and found.reasons == ["discord: not connected"]
    monkeypatch.setattr("bot.store.migrations.HEAD", "9999")
    later = Ops(core, [Platform("slack", True)])
    behind = await later.readiness()
    assert not behind.ready
    assert behind.reasons == ["store: at migration 0003, expected 9999 (run `careerbot db upgrade`)"] or (
        behind.reasons[0].startswith("store: at migration") and "expected 9999" in behind.reasons[0]
    )


async def test_an_unreachable_store_is_not_ready_and_the_url_is_not_shown() -> None:
    made = await core_on("postgresql+asyncpg://careerbot:s3cret-pass@127.0.0.1:1/nowhere")
    try:
        found = await Ops(made, []).readiness()
    finally:
        await made.aclose()
    assert not found.ready and found.reasons[0].startswith("store: ")
    assert "s3cret-pass" not in json.dumps(found.__dict__)


async def test_readiness_is_cached_briefly(core: Core) -> None:
    now = [0.0]
    platform = Platform("slack", True)
    ops = Ops(core, [platform], clock=lambda: now[0])
    assert (await ops.readiness()).ready
    platform.connected = False
    assert (await ops.readiness()).ready  # within the second: the cached answer
    now[0] = 5.0
    assert not (await ops.readiness()).ready


async def test_metrics_count_commands_with_bounded_labels(core: Core, server: OpsServer) -> None:
    before = metrics.value("careerbot_commands_total", command="role", platform="slack", outcome="ok") or 0.0
    await core.ask("/role ehr", platform="slack", tenant="T1", user="U1", channel="C1")
    await core.ask("/role", platform="slack", tenant="T1", user="U1", channel="C1")
    hostile = ["/<@U999> ping", "/" + "x" * 5000, "/rôle ehr", "what is fhir <!channel>", "/role " + "\u202e" * 50]
    for text in hostile:
        await core.ask(text, platform="slack", tenant="T1", user="U1", channel="C1")
    await core.ask("/role ehr", platform="a-platform-nobody-declared")
    status, text = await get(server, "/metrics")
    assert status == 200
    found = samples(text)
    counted = {s.labels["command"] for s in found["careerbot_commands"] if s.name == "careerbot_commands_total"}
    assert counted <= set(REGISTRY.names()) | {"question", "unknown"}
    platforms = {s.labels["platform"] for s in found["careerbot_commands"]}
    assert platforms <= {"slack", "discord", "console", "other"}
    after = metrics.value("careerbot_commands_total", command="role", platform="slack", outcome="ok")
    assert after == before + 3  # /role ehr, /role, and /role with only control characters (lists roles)
    assert "unknown" in counted and "question" in counted  # /<@U999>, /xxx..., /rôle; the free-text question
    histogram = [s for s in found["careerbot_answer_seconds"] if s.name == "careerbot_answer_seconds_count"]
    assert histogram and all(s.value >= 1 for s in histogram)
    for name in ("careerbot_scheduled_posts", "careerbot_queue_lag_seconds", "careerbot_knowledge_reloads"):
        assert name in found  # declared, so dashboards find them before the first post


async def test_a_knowledge_reload_is_counted(tmp_path: Path) -> None:
    import shutil

    tree = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir(), tree)
    core = Core(tree)
    metrics.enable()
    accepted = metrics.value("careerbot_knowledge_reloads_total", outcome="accepted") or 0.0
    rejected = metrics.value("careerbot_knowledge_reloads_total", outcome="rejected") or 0.0
    (tree / "tips.yaml").write_text((tree / "tips.yaml").read_text() + "\n# an edit\n")
    assert core.reload()
    (tree / "roles.yaml").write_text("roles: [unclosed\n")
    assert not core.reload()
    assert metrics.value("careerbot_knowledge_reloads_total", outcome="accepted") == accepted + 1
    assert metrics.value("careerbot_knowledge_reloads_total", outcome="rejected") == rejected + 1


def test_json_logs_are_one_object_a_line_with_the_request_fields() -> None:
    record = logging.LogRecord("careerbot.requests", logging.INFO, __file__, 1, "answered %s", ("role",), None)
    record.__dict__.update(tenant="T1", platform="slack", command="role", latency_ms=0.4, outcome="ok")
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "answered role" and entry["level"] == "info"
    assert {k: entry[k] for k in ("tenant", "platform", "command", "latency_ms", "outcome")} == {
        "tenant": "T1",
        "platform": "slack",
        "command": "role",
        "latency_ms": 0.4,
        "outcome": "ok",
    }


async def test_each_request_is_one_log_line_without_the_text(core: Core, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="careerbot.requests")
    await core.ask("/role my secret question about ehr", platform="discord", tenant="G1", user="U1")
    lines = [r for r in caplog.records if r.name == "careerbot.requests"]
    assert len(lines) == 1
    assert "secret" not in lines[0].getMessage() and lines[0].__dict__["command"] == "role"


def test_bad_log_settings_are_named_and_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = configure(environ={"CAREERBOT_LOG_LEVEL": "LOUD", "CAREERBOT_LOG_FORMAT": "xml"})
    assert problem is not None and "CAREERBOT_LOG_FORMAT" in problem
    assert configure(environ={"CAREERBOT_LOG_LEVEL": "loud"}) == (
        "CAREERBOT_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; using WARNING"
    )
    assert configure(environ={}) is None


async def test_log_volume_is_one_line_a_request_under_hostile_input(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    hostile = ["/" + "a" * 10_000, "/role \x00\x1b[31m", "<!everyone> " * 500]
    hostile.append("/mentoring program create " + "x" * 5000)
    texts = [hostile[i % len(hostile)] + str(i) for i in range(200)]
    for text in texts:
        await core.ask(text, platform="slack", tenant="T1", user="U1", channel="C1")
    requests = [r for r in caplog.records if r.name == "careerbot.requests"]
    others = [r for r in caplog.records if r.name != "careerbot.requests" and r.levelno >= logging.INFO]
    assert len(requests) == 200 and len(others) <= 2, [r.getMessage()[:100] for r in others]
    assert not any(r.exc_info for r in caplog.records)
    assert all(len(r.getMessage()) < 200 for r in requests)


async def test_refused_and_unreachable_platform_calls_are_counted() -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    from adapters.slack_bot.send import Sender
    from tests.fakes.slack import FakeSlack
    from tests.slack.conftest import BOT_TOKEN

    metrics.enable()
    refused = metrics.value("careerbot_platform_api_errors_total", platform="slack", kind="refused") or 0.0
    down = metrics.value("careerbot_platform_api_errors_total", platform="slack", kind="unavailable") or 0.0
    async with FakeSlack() as fake:
        sender = Sender(AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url))
        await sender.open()
        try:
            fake.fail("chat.postMessage", "channel_not_found")
            assert not await sender.call("chat.postMessage", channel="C404", text="hi")
            fake.fail("chat.postMessage", status=0)  # hangs up: the network, not Slack, failed
            sender.client.retry_handlers = []
            assert not await sender.call("chat.postMessage", channel="C1", text="hi")
        finally:
            await sender.close()
    assert metrics.value("careerbot_platform_api_errors_total", platform="slack", kind="refused") == refused + 1
    assert metrics.value("careerbot_platform_api_errors_total", platform="slack", kind="unavailable") == down + 1
