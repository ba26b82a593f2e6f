"""The Slack HTTP endpoint against hostile and broken clients: the real server on a 127.0.0.1 port.

Unverified requests get 401 (413 when too large to verify) and cost at most one short log line, never
their content; signed bodies that are not JSON or form data get 400; signed payloads of shapes Slack
never sends are ignored with a 200 and one log line; idle, half-sent and slow connections are closed
and never lock out ``/healthz``; under load commands are acked at once and answered later.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from adapters import buttons
from adapters.slack_bot import listeners as slack_listeners
from adapters.slack_bot.app import SlackPlatform
from adapters.slack_bot.http import HttpLimits
from adapters.slack_bot.listeners import BUSY_TEXT
from adapters.slack_bot.logs import LOG_LINE_MAX, Throttle, one_line
from adapters.slack_bot.render import parse_more
from bot.commands import Invocation
from bot.core import Core
from bot.reply import Reply
from tests.fakes.slack import TEAM_ID, FakeSlack
from tests.slack.conftest import SECRET, SlackHarness, sign, start_platform, stop_platform

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
#: Every logger a request could reach: the root, careerbot's, Bolt's, aiohttp's, asyncio's.
LOGGERS: tuple[str | None, ...] = (None, "careerbot", "careerbot.slack", "careerbot.slack.http", "careerbot.slack.bolt")
LOGGERS += ("slack_bolt", "slack_sdk", "aiohttp", "aiohttp.server", "aiohttp.access", "asyncio")


@contextlib.contextmanager
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture every level of every logger involved (some keep a level of their own)."""
    with contextlib.ExitStack() as stack:
        for name in LOGGERS:
            stack.enter_context(caplog.at_level(logging.DEBUG, logger=name))
        yield


def assert_hygienic(caplog: pytest.LogCaptureFixture, *never: str) -> None:
    """No traceback, no multi-line record, no long one (but slack_sdk's DEBUG lines about careerbot's
    own Web API calls), none of ``never`` anywhere in the log."""
    assert "Traceback" not in caplog.text
    for record in caplog.records:
        message = record.getMessage()
        assert record.exc_info is None, message
        assert "\n" not in message and "\r" not in message, message
        if not record.name.startswith("slack_sdk."):
            assert len(message) <= LOG_LINE_MAX + 60, message  # + the throttle's "(and N more ...)"
    for text in never:
        assert text not in caplog.text


def sign_bytes(body: bytes, *, timestamp: str | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time())) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


async def post(slack: SlackHarness, body: bytes, content_type: str, headers: dict[str, str]) -> tuple[int, str]:
    async with slack.http.post(slack.url, data=body, headers={**headers, "Content-Type": content_type}) as resp:
        return resp.status, await resp.text()


async def quiet(slack: SlackHarness) -> None:
    """Wait (up to 10 s) until the adapter has no answer pending and nothing being delivered."""
    adapter = slack.platform.adapter

    async def idle() -> None:
        while not adapter.answers.idle() or adapter.tasks:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(idle(), 10)


def assert_nothing_sent(slack: SlackHarness) -> None:
    """Nothing went to Slack but ``auth.test`` (at start-up, and Bolt's on its first request)."""
    assert {c.method for c in slack.fake.calls} == {"auth.test"}


def ignored_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]


def event_body(event: Any) -> bytes:
    return json.dumps(
        {"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A1", "type": "event_callback", "event": event}
    ).encode()


# ---------------------------------------------------------------------------- unverified: 401


def _ts() -> str:
    return str(int(time.time()))


UNVERIFIED: dict[str, tuple[bytes, str, dict[str, str]]] = {
    "payload-not-json": (b"payload=not json", FORM, {}),
    "json-list": (b"[1, 2, 3]", JSON, {}),
    "json-string": (b'"just a string"', JSON, {}),
    "invalid-utf-8": (b"command=%2Frole&text=\xff\xfe\xfd", FORM, {}),
    "timestamp-abc": (b"command=%2Frole", FORM, sign_bytes(b"command=%2Frole", timestamp="abc")),
    "timestamp-empty": (b"command=%2Frole", FORM, sign_bytes(b"command=%2Frole", timestamp="")),
    "timestamp-1e9": (b"command=%2Frole", FORM, sign_bytes(b"command=%2Frole", timestamp="1e9")),
    "timestamp-5000-digits": (b"command=%2Frole", FORM, sign_bytes(b"command=%2Frole", timestamp="9" * 5000)),
    "timestamp-negative": (b"command=%2Frole", FORM, sign_bytes(b"command=%2Frole", timestamp="-1")),
    "signature-not-hex": (b"command=%2Frole", FORM, {"X-Slack-Request-Timestamp": _ts(), "X-Slack-Signature": "v0=zz"}),
    "signature-invalid-utf-8-body": (b"\xff" * 10, FORM, sign_bytes(b"\xff" * 10, secret="wrong")),
}


@pytest.mark.parametrize("case", UNVERIFIED)
async def test_unverified_requests_get_401_whatever_their_body_or_headers(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, content_type, headers = UNVERIFIED[case]
    with all_logs(caplog):
        status, text = await post(slack, body, content_type, headers)
        await quiet(slack)
    assert (status, json.loads(text)) == (401, {"error": "invalid request"})
    assert_hygienic(caplog)
    assert_nothing_sent(slack)  # nothing reached a handler
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1


# ---------------------------------------------------------------------------- signed but undecodable: 400


SIGNED_MALFORMED: dict[str, tuple[bytes, str]] = {
    "invalid-utf-8": (b"command=%2Frole&text=\xff\xfe\xfd", FORM),
    "payload-not-json": (b"payload=not json", FORM),
    "json-list": (b"[1, 2, 3]", JSON),
    "json-string": (b'"just a string"', JSON),
    "json-null": (b"null", JSON),
    "json-nested-too-deep": (b"[" * 100_000, JSON),
    "json-number-of-5000-digits": (b'{"event_time": ' + b"9" * 5000 + b"}", JSON),
    "payload-a-json-list": (urlencode({"payload": "[1]"}).encode(), FORM),
    "too-many-form-fields": ("&".join(f"f{i}=x" for i in range(1000)).encode(), FORM),
}


@pytest.mark.parametrize("case", SIGNED_MALFORMED)
async def test_signed_bodies_that_are_not_json_or_form_data_get_400(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, content_type = SIGNED_MALFORMED[case]
    with all_logs(caplog):
        status, text = await post(slack, body, content_type, sign_bytes(body))
        await quiet(slack)
    assert (status, json.loads(text)) == (400, {"error": "malformed request"})
    assert_hygienic(caplog)
    assert_nothing_sent(slack)


# ---------------------------------------------------------------------------- signed, wrong shape: ignored


def _actions(actions: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "block_actions", "actions": actions, **extra}


RUN_EHR = buttons.encode("run", "/role ehr")
IGNORED_INTERACTIONS: dict[str, dict[str, Any]] = {
    "actions-empty": _actions([]),
    "actions-a-string": _actions("x"),
    "actions-of-a-number": _actions([1]),
    "actions-of-null": _actions([None]),
    "action-id-a-number": _actions([{"action_id": 7, "value": RUN_EHR}]),
    "action-id-5000-digits": _actions([{"action_id": "cb_more_" + "9" * 5000, "value": RUN_EHR}]),
    "selected-option-a-string": _actions([{"action_id": "cb_pick:role:query", "selected_option": "ehr"}]),
    "user-a-string": _actions([{"action_id": "cb_run_0", "value": RUN_EHR}], user="U1"),
    "team-a-list": _actions([{"action_id": "cb_run_0", "value": RUN_EHR}], team=["T1"]),
    "suggestion-value-a-number": {"type": "block_suggestion", "action_id": "cb_pick:role:query", "value": 5},
    "another-payload-type": {"type": "view_closed", "view": {"type": "modal", "callback_id": "cb_form:x"}},
    "submission-not-of-a-modal": {"type": "view_submission", "view": {"callback_id": "cb_form:x"}},
    "submission-values-a-list": {
        "type": "view_submission",
        "view": {"type": "modal", "callback_id": "cb_form:mentoring-profile", "state": {"values": ["x"]}},
    },
    "submission-value-a-number": {
        "type": "view_submission",
        "view": {
            "type": "modal",
            "callback_id": "cb_form:mentoring-profile",
            "state": {"values": {"bio": {"cb_form:mentoring-profile:bio": {"type": "plain_text_input", "value": 5}}}},
        },
    },
}


@pytest.mark.parametrize("case", IGNORED_INTERACTIONS)
async def test_signed_interactions_of_shapes_slack_never_sends_are_ignored(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    with all_logs(caplog):
        status, _, _ = await slack.post(slack.interaction(IGNORED_INTERACTIONS[case]))
        await quiet(slack)
    assert status == 200
    assert_hygienic(caplog, "response_url", "legacy")
    assert len(ignored_lines(caplog)) == 1
    assert_nothing_sent(slack)


@pytest.mark.parametrize("action_id", ["cb_more_²", "cb_more_" + "9" * 200, "cb_more_0", "cb_more_-1"])
async def test_a_more_button_without_a_valid_page_is_ignored(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, action_id: str
) -> None:
    with all_logs(caplog):
        status, _, _ = await slack.post(slack.interaction(_actions([{"action_id": action_id, "value": RUN_EHR}])))
        await quiet(slack)
    assert status == 200
    assert_hygienic(caplog)
    assert len(ignored_lines(caplog)) == 1
    assert_nothing_sent(slack)


IGNORED_EVENTS: dict[str, Any] = {
    "event-a-string": "app_mention",
    "event-a-list": [{"type": "app_mention"}],
    "event-without-type": {"text": "hi", "channel": "C1"},
    "event-user-an-object": {"type": "app_mention", "user": {"id": "U1"}, "text": "fhir", "channel": "C1"},
    "event-text-a-number": {"type": "app_mention", "user": "U1", "text": 5, "channel": "C1"},
}


@pytest.mark.parametrize("case", IGNORED_EVENTS)
async def test_signed_events_of_shapes_slack_never_sends_are_ignored(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body = event_body(IGNORED_EVENTS[case])
    with all_logs(caplog):
        status, _ = await post(slack, body, JSON, sign_bytes(body))
        await quiet(slack)
    assert status == 200
    assert_hygienic(caplog)
    assert len(ignored_lines(caplog)) == 1
    assert_nothing_sent(slack)


async def test_after_malformed_payloads_well_formed_ones_are_still_answered(slack: SlackHarness) -> None:
    for payload in IGNORED_INTERACTIONS.values():
        await slack.post(slack.interaction(payload))
    message = await slack.command("/role", "ehr")
    assert await slack.click(message, "Learning path") == 200
    assert (await slack.next_response())["blocks"]


# ---------------------------------------------------------------------------- floods and big bodies


async def test_a_flood_of_unverified_megabyte_requests_costs_a_few_short_log_lines(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "2026-01-01 00:00:00 CRITICAL careerbot: forged line"
    fields = {
        "token": "verification-token-123",
        "response_url": "https://hooks.slack.com/commands/T1/secret-hook",
        "command": "/role",
        "text": f"ehr\n{forged}\r\n{forged}",
    }
    body = urlencode(fields) + "&pad=" + "x" * 1_000_000 + "\n" + forged
    stale = int(time.time()) - 3600
    headers = [{}, sign(body, timestamp=stale), {"X-Slack-Request-Timestamp": "1e9", "X-Slack-Signature": "v0=1"}]
    limit = asyncio.Semaphore(10)

    async def one(n: int) -> int:
        async with limit:
            status, _, _ = await slack.post(body, headers=headers[n % len(headers)])
            return status

    with all_logs(caplog):
        statuses = await asyncio.gather(*(one(n) for n in range(100)))
        await quiet(slack)
    assert statuses == [401] * 100
    assert_hygienic(caplog, "forged", "secret-hook", "verification-token-123", "xxxxxxxx")
    assert len(caplog.text.encode()) <= 100 * 200  # a few short lines, however big the bodies
    assert_nothing_sent(slack)


async def test_a_body_over_the_cap_gets_413_and_is_not_logged(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    body = "command=%2Frole&text=" + "y" * (HttpLimits().body_max + 1)
    with all_logs(caplog):
        status, text, _ = await slack.post(body)  # correctly signed, but too big to read
        wrong, _, _ = await slack.post(body, headers=sign(body, secret="wrong"))
    assert (status, json.loads(text)) == (413, {"error": "request too large"})
    assert wrong == 413
    assert_hygienic(caplog, "yyyyyyyy")


async def test_malformed_http_is_logged_as_one_short_line(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    requests = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forged: a\rCRITICAL forged line\r\n\r\n",
        b"GET /\nCRITICAL forged line HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not HTTP at all\r\n\r\n",
    ]
    with all_logs(caplog):
        for raw in requests:
            reader, writer = await asyncio.open_connection("127.0.0.1", slack.platform.port)
            writer.write(raw)
            answer = await asyncio.wait_for(reader.read(), 10)  # the server answers and closes
            writer.close()
            await writer.wait_closed()
            assert answer[:12] in (b"HTTP/1.0 400", b"HTTP/1.1 400"), answer[:80]
    assert_hygienic(caplog, "forged", "aaaaaaaa")


# ---------------------------------------------------------------------------- connections


@contextlib.asynccontextmanager
async def running(core: Core, fake: FakeSlack, limits: HttpLimits) -> AsyncIterator[SlackHarness]:
    platform, task = await start_platform(core, fake, limits)
    try:
        async with aiohttp.ClientSession() as http:
            yield SlackHarness(platform, fake, http)
    finally:
        await stop_platform(platform, task)


class Sockets:
    """Raw client connections, all closed on exit."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.open: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def connect(self, first: bytes = b"") -> asyncio.StreamReader:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        if first:
            writer.write(first)
        self.open.append((reader, writer))
        return reader

    async def close(self) -> None:
        for _, writer in self.open:
            writer.close()
        for _, writer in self.open:
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def sockets(platform: SlackPlatform) -> AsyncIterator[Sockets]:
    opened = Sockets(platform.port)
    try:
        yield opened
    finally:
        await opened.close()


async def until(condition: Any, timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


def half_sent_body() -> bytes:
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: 1000\r\nX-Slack-Request-Timestamp: {_ts()}\r\nX-Slack-Signature: v0={'0' * 64}\r\n\r\n"
    )
    return head.encode() + b"command=%2Frole&text="


async def test_healthz_and_slack_are_answered_while_hundreds_of_idle_and_half_sent_connections_are_open(
    core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(core, fake, HttpLimits(max_connections=40)) as slack:
        guard = slack.platform.guard
        assert guard is not None and guard.limit == 40
        with all_logs(caplog):
            async with sockets(slack.platform) as flood:
                for n in range(300):  # idle, half-sent headers, half-sent bodies
                    await flood.connect(
                        [b"", b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Le", half_sent_body()][n % 3]
                    )
                await until(lambda: guard.accepted >= 300)
                assert len(guard.open) <= 40 and guard.evicted >= 300 - 40
                async with (
                    aiohttp.ClientSession() as fresh,
                    fresh.get(f"http://127.0.0.1:{slack.platform.port}/healthz") as resp,
                ):
                    assert resp.status == 200
                    assert (await resp.json())["ok"] is True
                assert (await slack.command("/role", "ehr"))["blocks"]
                assert len(guard.open) <= 40
        assert_hygienic(caplog)
        assert len([r for r in caplog.records if r.name == "careerbot.slack.http"]) <= 3  # throttled


async def test_a_connection_that_does_not_send_its_headers_in_time_is_closed(
    core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch
) -> None:
    async with running(core, fake, HttpLimits(header_timeout=0.2)) as slack, sockets(slack.platform) as conns:
        silent = await conns.connect()
        half = await conns.connect(b"GET /healthz HTTP/1.1\r\nHo")
        assert await asyncio.wait_for(silent.read(), 10) == b""  # closed by the server
        assert await asyncio.wait_for(half.read(), 10) == b""
        guard = slack.platform.guard
        assert guard is not None
        await until(lambda: not guard.open)


async def test_an_idle_keep_alive_connection_is_closed(
    core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch
) -> None:
    async with running(core, fake, HttpLimits(keepalive_timeout=0.2)) as slack, sockets(slack.platform) as conns:
        reader = await conns.connect(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200") and b"close" not in head.lower()  # kept alive ...
        length = int(
            next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        await reader.readexactly(length)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # ... then closed once idle


async def test_a_body_that_stops_arriving_gets_408(core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch) -> None:
    async with running(core, fake, HttpLimits(body_timeout=0.2)) as slack, sockets(slack.platform) as conns:
        reader = await conns.connect(half_sent_body())
        answer = await asyncio.wait_for(reader.read(), 10)
        assert answer.startswith(b"HTTP/1.1 408")
        assert await slack.command("/why")  # still serving


async def test_when_every_connection_has_a_request_in_progress_a_new_one_is_closed_at_once(
    core: Core, fake: FakeSlack, clean_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    answer = core.answer

    async def stuck(invocation: Invocation) -> Reply:
        await release.wait()
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", stuck)
    monkeypatch.setattr(slack_listeners, "ACK_BUDGET", 30.0)
    async with running(core, fake, HttpLimits(max_connections=3)) as slack:
        guard = slack.platform.guard
        assert guard is not None
        posts = [asyncio.create_task(slack.post(slack.command_body("/role", r))) for r in ("ehr", "pacs", "lis")]
        await until(lambda: sum(c.busy for c in guard.open.values()) == 3)
        async with sockets(slack.platform) as conns:
            late = await conns.connect(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert await asyncio.wait_for(late.read(), 10) == b""  # closed unanswered
        assert guard.refused >= 1
        release.set()
        for done in await asyncio.gather(*posts):
            assert done[0] == 200 and json.loads(done[1])["blocks"]


# ---------------------------------------------------------------------------- load


async def test_under_load_commands_are_acked_at_once_and_answered_through_the_response_url(
    slack: SlackHarness, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = core.answer

    async def slow(invocation: Invocation) -> Reply:
        time.sleep(0.4)  # a core that holds the event loop, as a heavy search would
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", slow)
    first = await slack.command("/why")  # answered inline: it spends more than the inline budget holds
    assert first["blocks"] and slack.platform.adapter.budget.tokens < 0
    results = await asyncio.gather(*(slack.post(slack.command_body("/search", f"topic {n}")) for n in range(5)))
    assert [status for status, _, _ in results] == [200] * 5
    later = [body for _, body, _ in results if not body]
    assert later  # some acks went out empty, without waiting for their answer ...
    for _ in later:  # ... and those answers follow through the response_url
        assert (await slack.next_response())["blocks"]
    assert all(json.loads(body)["blocks"] for _, body, _ in results if body)


async def test_when_too_many_answers_are_pending_a_command_is_told_to_try_again(
    slack: SlackHarness, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    answer = core.answer

    async def stuck(invocation: Invocation) -> Reply:
        await release.wait()
        return await answer(invocation)

    monkeypatch.setattr(core, "answer", stuck)
    adapter = slack.platform.adapter
    adapter.answers.size = 3
    monkeypatch.setattr(adapter.budget, "share", 0.0)  # as if the loop were saturated: never answer inline
    adapter.budget.tokens = 0.0
    for query in ("ehr", "pacs", "lis"):
        status, body, _ = await slack.post(slack.command_body("/role", query))
        assert (status, body) == (200, "")  # acked empty: answered later
    status, body, _ = await slack.post(slack.command_body("/role", "ris"))
    assert status == 200 and json.loads(body) == {"text": BUSY_TEXT, "response_type": "ephemeral"}
    release.set()
    for _ in range(3):
        assert (await slack.next_response())["blocks"]


# ---------------------------------------------------------------------------- the pieces


def test_one_line_escapes_line_breaks_and_cuts() -> None:
    assert one_line("a\nb\r\nc\x1b[31m\u2028d") == "a\\nb\\r\\nc\\x1b[31m\\u2028d"
    assert len(one_line("x" * 10_000)) == LOG_LINE_MAX


def test_throttle_passes_one_record_per_interval_and_counts_the_rest() -> None:
    throttle = Throttle(interval=3600)
    records = [logging.LogRecord("t", logging.WARNING, __file__, 1, "refused %d", (n,), None) for n in range(5)]
    assert [throttle.filter(r) for r in records] == [True, False, False, False, False]
    throttle.next_at = 0.0
    last = logging.LogRecord("t", logging.WARNING, __file__, 1, "refused", None, None)
    assert throttle.filter(last) and last.getMessage() == "refused (and 4 more since the last such line)"


def test_parse_more_takes_only_small_ascii_page_numbers() -> None:
    assert parse_more("cb_more_2") == 2 and parse_more("cb_more_9999") == 9999
    for bad in (
        "cb_more_²",
        "cb_more_٣",
        "cb_more_0",
        "cb_more_10000",
        "cb_more_" + "9" * 5000,
        "cb_more_",
        "cb_run_1",
    ):
        assert parse_more(bad) is None, bad
