"""More of health and logs (adapters/ops.py, adapters/logs.py): readiness without a store, after a rejected
knowledge edit, and with a store that does not answer in time; the health server closed (twice is
harmless); a JSON log line carrying a traceback; ``CAREERBOT_LOG_LEVEL`` obeyed beside a test runner's
handlers."""

from __future__ import annotations

import json
import logging
import random
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from adapters import ops as ops_module
from adapters.logs import MESSAGE_MAX, JsonFormatter, configure
from adapters.ops import Ops, OpsServer
from bot.context import Services
from bot.core import Core
from bot.knowledge.loader import default_knowledge_dir
from tests.faults import Proxy


class Platform:
    def __init__(self, name: str, connected: bool) -> None:
        self.name = name
        self.connected = connected


async def test_without_a_store_ready_says_the_store_is_not_used(core: Core) -> None:
    found = await Ops(core, [Platform("discord", True)]).readiness()
    assert found.ready and found.reasons == []
    assert found.checks == {"knowledge": "ok", "store": "not used", "discord": "ok"}


async def test_a_rejected_knowledge_edit_is_shown_but_still_ready(tmp_path: Path) -> None:
    tree = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir(), tree)
    core = Core(tree, rng=random.Random(1))
    (tree / "roles.yaml").write_text("roles: [unclosed\n")
    assert not core.reload()
    found = await Ops(core, []).readiness()
    assert found.ready  # the last good tree still answers
    assert found.checks["knowledge"] == "rejected an edit; serving the last good version"


async def test_a_store_that_does_not_answer_in_time_is_not_ready(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL accepts the connection and then says nothing (a stalled network)."""
    monkeypatch.setattr(ops_module, "CHECK_TIMEOUT", 0.2)
    async with Proxy(int(postgres_url.rsplit(":", 1)[1].split("/")[0])) as proxy:
        await proxy.stall()
        core = Core(default_knowledge_dir(), services=Services(url=proxy.url(postgres_url), environ={}))
        try:
            found = await Ops(core, [Platform("slack", True)]).readiness()
        finally:
            await proxy.heal()
            await core.aclose()
    assert not found.ready
    assert found.reasons == ["store: no answer within 0.2 s"]
    assert found.checks["store"] == "no answer within 0.2 s" and found.checks["slack"] == "ok"


async def test_the_health_server_closed_refuses_and_closing_again_is_harmless(core: Core) -> None:
    server = OpsServer(Ops(core, []), host="127.0.0.1", port=0)
    await server.start()
    url = f"http://127.0.0.1:{server.port}/healthz"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as r:
            assert r.status == 200 and await r.json() == {"ok": True}
        await server.close()
        await server.close()
        with pytest.raises(aiohttp.ClientConnectorError, match="Cannot connect"):
            await session.get(url)


def test_a_json_log_line_carries_the_end_of_the_traceback() -> None:
    try:
        raise ValueError("the store answered " + "nonsense " * 400 + "and hung up")  # longer than a line holds
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("careerbot.ops", logging.ERROR, __file__, 1, "readiness failed", (), exc_info)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "readiness failed" and entry["level"] == "error"
    assert len(entry["error"]) == MESSAGE_MAX
    assert entry["error"].endswith("nonsense and hung up")  # the end, where the error is, is what is kept
    assert not entry["error"].startswith("Traceback")


@pytest.fixture
def root_level() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)


def test_a_log_level_asked_for_is_obeyed_beside_other_handlers(root_level: None) -> None:
    """pytest's handlers stay on the root logger (as would any host's); the level asked for is set."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    assert handlers  # pytest's own
    assert configure(environ={"CAREERBOT_LOG_LEVEL": " debug "}) is None
    assert root.level == logging.DEBUG
    assert root.handlers == handlers  # none replaced, none added
    assert configure(environ={"CAREERBOT_LOG_LEVEL": "ERROR"}, default_level=logging.INFO) is None
    assert root.level == logging.ERROR
