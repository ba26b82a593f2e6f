"""The Slack HTTP endpoint's remaining paths, on the real server and the real Bolt app: payloads it
ignores or answers without a listener, a chunked body over the cap, Bolt failing, a port already
taken, closing while serving, the app mounted without the connection guard, the header deadline of
a connection that already sent a request, and a client that stops reading its responses."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adapters.slack_bot.app import SlackPlatform, load_settings
from adapters.slack_bot.http import HttpLimits
from adapters.slack_bot.listeners import FORM_GONE
from adapters.slack_bot.logs import http_log
from bot.core import Core
from tests.fakes.slack import TEAM_ID, FakeSlack
from tests.slack.conftest import BOT_TOKEN, SECRET, SlackHarness, start_platform, stop_platform, texts
from tests.slack.test_hostile_http import (
    JSON,
    all_logs,
    assert_hygienic,
    assert_nothing_sent,
    ignored_lines,
    quiet,
    running,
    sign_bytes,
    until,
)

LONG_ID = "a" * 256


def submission(values: Any, callback: str = "cb_form:mentoring-profile") -> dict[str, Any]:
    view = {"id": "V1", "type": "modal", "callback_id": callback, "private_metadata": "", "state": {"values": values}}
    return {"type": "view_submission", "view": view}


# ---------------------------------------------------------------------------- ignored or answered at once


async def test_an_ssl_check_is_answered_200_and_reaches_no_listener(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    with all_logs(caplog):
        status, text, _ = await slack.post("ssl_check=1&token=legacy")
        await quiet(slack)
    assert (status, text) == (200, "")
    assert ignored_lines(caplog) == []  # answered, not refused nor ignored
    assert_nothing_sent(slack)


IGNORED: dict[str, tuple[str, str]] = {
    "a-command-without-its-slash": ("command", "command is not a slash command"),
    "a-command-name-over-100": ("command-long", "command is not a slash command"),
    "a-suggestion-without-action-id": ("suggestion", "block_suggestion has no action_id"),
    "an-event-careerbot-does-not-listen-to": ("reaction", "an event careerbot does not listen to"),
    "a-submission-block-that-is-a-list": (
        "block-list",
        "view.state.values has a block that is not an object of inputs",
    ),
    "a-submission-action-id-over-255": ("long-action", "view.state.values has an action_id that is too long"),
}


def ignored_body(slack: SlackHarness, kind: str) -> tuple[str, str]:
    if kind == "command":
        return slack.command_body("role", "ehr"), "application/x-www-form-urlencoded"
    if kind == "command-long":
        return slack.command_body("/" + "r" * 100, "ehr"), "application/x-www-form-urlencoded"
    if kind == "suggestion":
        return slack.interaction({"type": "block_suggestion", "value": "ehr"}), "application/x-www-form-urlencoded"
    if kind == "reaction":
        event = {"type": "reaction_added", "user": "U1", "reaction": "tada"}
        body = {"type": "event_callback", "team_id": TEAM_ID, "event_id": "Ev1", "event": event}
        return json.dumps(body), JSON
    if kind == "block-list":
        return slack.interaction(submission({"bio": ["x"]})), "application/x-www-form-urlencoded"
    assert kind == "long-action"
    values = {"bio": {LONG_ID: {"type": "plain_text_input", "value": "hi"}}}
    return slack.interaction(submission(values)), "application/x-www-form-urlencoded"


@pytest.mark.parametrize("case", IGNORED)
async def test_signed_payloads_careerbot_does_not_handle_are_ignored_with_one_line_naming_why(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    kind, reason = IGNORED[case]
    body, content_type = ignored_body(slack, kind)
    with all_logs(caplog):
        status, text, _ = await slack.post(body, content_type=content_type)
        await quiet(slack)
    assert (status, text) == (200, "")
    assert ignored_lines(caplog) == [f"slack: ignored a signed request: {reason}"]
    assert_hygienic(caplog, "legacy", "tada", LONG_ID)
    assert_nothing_sent(slack)


async def test_a_submission_without_state_of_an_unknown_form_is_told_the_form_is_gone(slack: SlackHarness) -> None:
    payload = submission(None, callback="cb_form:no-such-form")
    del payload["view"]["state"]
    status, text, _ = await slack.post(slack.interaction(payload))
    assert status == 200
    answer = json.loads(text)
    assert answer["response_action"] == "update"
    assert FORM_GONE in texts(answer["view"])
    await quiet(slack)
    assert_nothing_sent(slack)


# ---------------------------------------------------------------------------- bodies and failures


async def test_a_chunked_body_over_the_cap_gets_413_once_read_past_it(
    core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap is found while reading
        for _ in range(8):
            yield b"text=" + b"y" * 1000 + b"&"

    headers = {**sign_bytes(b"unused"), "Content-Type": "application/x-www-form-urlencoded"}
    async with running(core, fake, HttpLimits(body_max=2048)) as slack:
        with all_logs(caplog):
            async with slack.http.post(slack.url, data=chunks(), headers=headers) as resp:
                status, answer = resp.status, await resp.json()
        assert (await slack.command("/role", "ehr"))["blocks"]  # still serving
    assert (status, answer) == (413, {"error": "request too large"})
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused == ["slack: refused a request (HTTP 413): a body over 2048 bytes"]
    assert_hygienic(caplog, "yyyyyyyy")


async def test_bolt_failing_to_dispatch_is_a_500_and_one_line_then_serving_goes_on(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatch = slack.platform.app.async_dispatch
    failing = {"on": True}

    async def broken(request: Any) -> Any:
        if failing["on"]:
            raise RuntimeError("a bug in Bolt quoting the request: /role secret-text")
        return await dispatch(request)

    monkeypatch.setattr(slack.platform.app, "async_dispatch", broken)
    with all_logs(caplog):
        status, text, _ = await slack.post(slack.command_body("/role", "secret-text"))
    assert (status, json.loads(text)) == (500, {"error": "internal error"})
    lines = [r.getMessage() for r in caplog.records if "dispatching" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("slack: dispatching a request failed (RuntimeError at ")
    assert_hygienic(caplog, "secret-text")
    failing["on"] = False
    assert (await slack.command("/role", "ehr"))["blocks"]


# ---------------------------------------------------------------------------- start-up and shutdown


def platform_on(core: Core, fake: FakeSlack, port: int) -> SlackPlatform:
    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, slack_api_url=fake.api_url)
    return SlackPlatform(core, settings, port=port, host="127.0.0.1")


async def test_a_port_already_taken_fails_run_and_leaves_nothing_behind(
    core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    filters = list(http_log.filters)
    platform = platform_on(core, fake, taken.getsockname()[1])
    try:
        with pytest.raises(OSError, match="address already in use"):
            await platform.run()
        assert not platform.connected
        assert http_log.filters == filters  # the server's own throttle went with it
    finally:
        taken.close()
        await platform.close()


async def test_closing_while_serving_stops_listening_and_closing_twice_is_harmless(
    core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch
) -> None:
    platform, task = await start_platform(core, fake)
    url = f"http://127.0.0.1:{platform.port}/healthz"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 200
        await platform.close()  # before the task is stopped, as a runner closing platforms first would
        with pytest.raises(aiohttp.ClientConnectionError, match="Cannot connect"):
            async with aiohttp.ClientSession() as fresh, fresh.get(url):
                pass
    await stop_platform(platform, task)  # the task's own cleanup finds the server already gone
    assert task.cancelled() and not platform.connected


async def test_the_app_mounted_without_the_connection_guard_serves_slack_and_healthz(
    core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch
) -> None:
    platform = platform_on(core, fake, 0)
    server = TestServer(platform.web_app(), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        assert platform.guard is None and platform.serves_http  # HTTP mode: it can host more routes
        async with aiohttp.ClientSession() as http:
            harness = SlackHarness(platform, fake, http)
            platform.port = server.port or 0
            async with http.get(server.make_url("/healthz")) as resp:
                assert (resp.status, await resp.json()) == (200, {"ok": True, "platform": "slack", "mode": "http"})
            message = await harness.command("/role", "ehr")
            assert "(EHR) Developer" in message["blocks"][0]["text"]["text"]
            status, text, _ = await harness.post("ssl_check=1")
            assert (status, text) == (200, "")
    finally:
        await server.close()
        await platform.close()


# ---------------------------------------------------------------------------- connections


async def test_the_header_deadline_leaves_a_connection_that_already_sent_a_request_open(
    core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch
) -> None:
    async with running(core, fake, HttpLimits(header_timeout=0.05)) as slack:
        guard = slack.platform.guard
        assert guard is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", slack.platform.port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200")
            (conn,) = guard.open.values()
            assert conn.deadline is not None
            loop = asyncio.get_running_loop()
            # sleep past the deadline: its callback is due first, so it has run when this returns
            await asyncio.sleep(conn.deadline.when() - loop.time() + 0.001)
            assert list(guard.open.values()) == [conn]  # the deadline came and kept it
            await reader.readuntil(b"}")  # the first answer's body
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # the same connection, later
            again = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert again.startswith(b"HTTP/1.1 200") and guard.accepted == 1
        finally:
            writer.close()
            await writer.wait_closed()


async def test_a_client_that_stops_reading_pauses_the_writes_and_gets_every_answer(
    core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch
) -> None:
    count = 300
    async with running(core, fake, HttpLimits()) as slack:
        guard = slack.platform.guard
        assert guard is not None
        loop = asyncio.get_running_loop()
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # a client reading slowly
        client.setblocking(False)
        try:
            await loop.sock_connect(client, ("127.0.0.1", slack.platform.port))
            await until(lambda: len(guard.open) == 1)
            (conn,) = guard.open.values()
            assert conn.transport is not None
            # a small path to it: the kernel's send buffer and the transport's high-water mark
            conn.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            conn.transport.set_write_buffer_limits(high=4096)  # type: ignore[attr-defined]
            protocol: Any = conn.inner  # aiohttp's, behind the guard's shim
            await loop.sock_sendall(client, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * count)
            await until(lambda: protocol.writing_paused)  # the answers piled up unread: writing paused
            got = b""
            while got.count(b"HTTP/1.1 200 OK") < count:
                got += await asyncio.wait_for(loop.sock_recv(client, 65536), 10)
            assert not protocol.writing_paused  # resumed once read
        finally:
            client.close()
    assert got.count(b'"ok": true') == count
