"""The HTTP endpoint's own checks, before Bolt sees a request: signature headers, body size and time,
the signature, the payload's shape (copied field by field into the shapes Slack sends), and a guard
that bounds open connections."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from adapters.slack_bot import home
from adapters.slack_bot.logs import http_log

#: The base logger handed to Bolt (its middleware loggers copy its filters).

# ---------------------------------------------------------------------------- the HTTP endpoint


@dataclass(frozen=True, kw_only=True, slots=True)
class HttpLimits:
    """What one HTTP client may cost (see docs/slack.md, "Limits of the HTTP endpoint")."""

    #: Largest request body read. Slack's largest payloads (a button press carrying the message it
    #: was on, at most about 40 KB of blocks) stay far below it; larger bodies get 413 unread.
    body_max: int = 256 * 1024
    #: Seconds a connection has to send its first request's headers, from when it is accepted.
    header_timeout: float = 10.0
    #: Seconds a request's body has to arrive once its headers are in: Slack gives up after 3 s.
    body_timeout: float = 3.0
    #: Seconds an idle keep-alive connection stays open: longer than the 60 s idle timeout of common
    #: reverse proxies and load balancers, so they close first (no request lost to a race).
    keepalive_timeout: float = 75.0
    #: Open connections at most (further capped at half the process's file descriptor limit). A new
    #: connection beyond it closes the longest-idle one (idle, or still sending its request); if
    #: every connection has a request in progress, the new one is closed at once.
    max_connections: int = 1000
    #: Connections the kernel queues before they are accepted.
    backlog: int = 128

    def connection_limit(self) -> int:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return self.max_connections if soft == resource.RLIM_INFINITY else max(1, min(self.max_connections, soft // 2))


#: Slack signs ``v0:{timestamp}:{body}``; a timestamp further than this from now is refused.
SIGNATURE_MAX_AGE = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
#: More form fields than this is not a Slack request (a slash command has about 15).
FORM_FIELDS_MAX = 100
#: Longest list (of actions, of authorizations) in a payload.
LIST_MAX = 25
#: Slack's limits on a message: its blocks, and a button's value.
MESSAGE_BLOCKS_MAX = 50
BUTTON_VALUE_MAX = 2000
#: Slack's limit for ``action_id`` and ``block_id``.
ID_MAX = 255


class Refused(Exception):
    """A request answered before Bolt sees it, with ``status``. ``reason`` is made of careerbot's own
    words and field names, never of anything the request carried, so it is safe to log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_headers(headers: Any, now: float) -> tuple[str, str]:
    """The timestamp and signature headers, if well-formed and fresh; else :class:`Refused` (401)."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        raise Refused(401, "no valid signature headers")
    if abs(now - int(timestamp)) > SIGNATURE_MAX_AGE:
        raise Refused(401, "timestamp more than 5 minutes away")
    return timestamp, signature


def signed(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is Slack's for ``body`` (HMAC-SHA256 of ``v0:{timestamp}:{body}``)."""
    expected = hmac.new(secret, b"v0:" + timestamp.encode("ascii") + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={expected}", signature)


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """A signed body as Bolt would read it (JSON, form fields, or form with a JSON ``payload``);
    :class:`Refused` (400) when it is none of these or not an object."""
    try:
        text = body.decode("utf-8")
        if content_type == "application/json" or text.startswith("{"):
            data = json.loads(text)
        else:
            form = dict(parse_qsl(text, keep_blank_values=True, max_num_fields=FORM_FIELDS_MAX))
            data = json.loads(form["payload"]) if "payload" in form else form
    except (ValueError, RecursionError):  # not UTF-8, not JSON, too many fields, nested too deep
        raise Refused(400, "the body is not JSON or form data") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body is not an object")
    return data


# The fields careerbot (and Bolt) read, by payload type. A field given as a type must have that
# type; a dict is an object with those fields; a one-item list is a list of such items; a tuple is
# (str, longest). Absent and null fields are left out; fields not named here are dropped.
Spec = Any
_ID: Spec = (str, ID_MAX)
_COMMAND: Spec = {
    name: str
    for name in (
        "team_id", "team_domain", "enterprise_id", "enterprise_name", "channel_id", "channel_name", "user_id",
        "user_name", "command", "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id",
    )
}  # fmt: skip
_INTERACTION: Spec = {
    "type": str,
    "team": {"id": str, "domain": str, "enterprise_id": str, "enterprise_name": str},
    "user": {"id": str, "username": str, "name": str, "team_id": str},
    "enterprise": {"id": str, "name": str},
    "is_enterprise_install": bool,
    "api_app_id": str,
    "channel": {"id": str, "name": str},
    "container": {"type": str, "message_ts": str, "channel_id": str, "is_ephemeral": bool},
    "trigger_id": str,
    "response_url": str,
}
_BLOCK_ACTIONS: Spec = _INTERACTION | {
    "actions": [
        {
            "type": str,
            "action_id": _ID,
            "block_id": _ID,
            "value": str,
            "action_ts": str,
            "selected_option": {"value": str},
        }
    ],
}
_BLOCK_SUGGESTION: Spec = _INTERACTION | {"action_id": _ID, "block_id": _ID, "value": str}
_VIEW_SUBMISSION: Spec = _INTERACTION | {
    "view": {
        "id": _ID,
        "team_id": str,
        "type": str,
        "callback_id": _ID,
        "private_metadata": (str, 3000),
        "external_id": _ID,  # a modal the Home tab opened (adapters.slack_bot.home)
        "hash": str,
        "app_id": str,
        "bot_id": str,
        # which inputs opened filled in (an emptied one then clears its field)
        "blocks": [
            {
                "type": str,
                "block_id": _ID,
                "element": {
                    "type": str,
                    "initial_value": str,
                    "initial_option": {"value": str},
                    "initial_options": [{"value": str}],
                },
            }
        ],
    },
}
#: A view's ``state.values``: blocks by id, each with its input's state by action id.
_INPUT: Spec = {
    "type": str,
    "value": str,
    "selected_option": {"value": str},
    "selected_options": [{"value": str}],
}
_EVENT_CALLBACK: Spec = {
    "type": str,
    "team_id": str,
    "enterprise_id": str,
    "context_team_id": str,
    "context_enterprise_id": str,
    "api_app_id": str,
    "event_id": str,
    "event_time": int,
    "is_ext_shared_channel": bool,
    "authorizations": [
        {"enterprise_id": str, "team_id": str, "user_id": str, "is_bot": bool, "is_enterprise_install": bool}
    ],
    "event": {
        name: str
        for name in (
            "type", "subtype", "user", "text", "ts", "thread_ts", "event_ts", "channel", "channel_type",
            "bot_id", "team", "tab",
        )
    } | {"tokens": {"bot": [_ID]}},  # tokens_revoked: the bot users whose tokens went (user tokens are not read)
}  # fmt: skip
#: Event types careerbot listens to; other events are acknowledged and ignored.
EVENT_TYPES = ("app_mention", "message", "app_uninstalled", "tokens_revoked", *home.EVENTS)


def _pick(value: Any, spec: Spec, path: str) -> Any:
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise Refused(200, f"{path} is not an object")
        return {
            key: _pick(value[key], inner, f"{path}.{key}" if path else key)
            for key, inner in spec.items()
            if value.get(key) is not None
        }
    if isinstance(spec, list):
        if not isinstance(value, list) or len(value) > LIST_MAX:
            raise Refused(200, f"{path} is not a list of at most {LIST_MAX} objects")
        return [_pick(item, spec[0], f"{path}[{i}]") for i, item in enumerate(value)]
    kind, longest = spec if isinstance(spec, tuple) else (spec, None)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Refused(200, f"{path} is not of type {kind.__name__}")
    if longest is not None and len(value) > longest:
        raise Refused(200, f"{path} is longer than {longest}")
    return value


def clean_payload(data: dict[str, Any]) -> dict[str, Any] | None:
    """The payload reduced to the fields careerbot reads, each of the type Slack sends; None for an
    ``ssl_check`` (answered 200, nothing to do). :class:`Refused` (200: ignored) for anything else:
    a payload of another kind, or one of a shape Slack never sends."""
    kind = data.get("type")
    if kind is None and "ssl_check" in data and "command" not in data:
        return None
    if kind is None and "command" in data:
        command = _pick(data, _COMMAND, "")
        if not command.get("command", "").startswith("/") or len(command["command"]) > 100:
            raise Refused(200, "command is not a slash command")
        return dict(command)
    if kind == "url_verification":
        return {"type": kind, "challenge": _pick(data.get("challenge"), (str, 1000), "challenge")}
    if kind == "block_actions":
        payload = _pick(data, _BLOCK_ACTIONS, "")
        actions = payload.get("actions") or []
        if not actions or not all("action_id" in action for action in actions):
            raise Refused(200, "actions has no action with an action_id")
        if "message" in data:
            payload["message"] = _buttons_of(data["message"])
        return dict(payload)
    if kind == "block_suggestion":
        payload = _pick(data, _BLOCK_SUGGESTION, "")
        if "action_id" not in payload:
            raise Refused(200, "block_suggestion has no action_id")
        return dict(payload)
    if kind == "view_submission":
        payload = _pick(data, _VIEW_SUBMISSION, "")
        view = payload.get("view", {})
        if view.get("type") != "modal" or "callback_id" not in view or "id" not in payload.get("user", {}):
            raise Refused(200, "view_submission is not of a modal with a callback_id, from a user")
        payload["view"]["state"] = {"values": _state(data["view"].get("state"))}
        return dict(payload)
    if kind == "event_callback":
        payload = _pick(data, _EVENT_CALLBACK, "")
        event_type = (payload.get("event") or {}).get("type")
        if event_type is None:
            raise Refused(200, "event_callback has no event type")
        if event_type not in EVENT_TYPES:
            raise Refused(200, "an event careerbot does not listen to")
        return dict(payload)
    raise Refused(200, "a payload type careerbot does not handle")


def _buttons_of(message: Any) -> dict[str, Any]:
    """The message holding a pressed button, reduced to its buttons' values in one ``actions``
    block (a check-in is edited in place only when the button pressed is on it). Whatever its shape,
    never a refusal: a press must work on any message; an odd one just holds no buttons."""
    values: list[dict[str, str]] = []
    blocks = message.get("blocks") if isinstance(message, dict) else None
    for block in blocks[:MESSAGE_BLOCKS_MAX] if isinstance(blocks, list) else ():
        elements = block.get("elements") if isinstance(block, dict) and block.get("type") == "actions" else None
        for element in elements[:LIST_MAX] if isinstance(elements, list) else ():
            value = element.get("value") if isinstance(element, dict) else None
            if isinstance(value, str) and len(value) <= BUTTON_VALUE_MAX:
                values.append({"type": "button", "value": value})
    return {"blocks": [{"type": "actions", "elements": values}]}


def _state(state: Any) -> dict[str, dict[str, Any]]:
    """A view's ``state.values``, with only the inputs' fields careerbot reads."""
    found = state.get("values") if isinstance(state, dict) else None
    if found is None:
        return {}
    if not isinstance(found, dict) or len(found) > LIST_MAX:
        raise Refused(200, f"view.state.values is not an object of at most {LIST_MAX} blocks")
    out: dict[str, dict[str, Any]] = {}
    for block_id, actions in found.items():
        if not isinstance(actions, dict) or len(block_id) > ID_MAX or len(actions) > LIST_MAX:
            raise Refused(200, "view.state.values has a block that is not an object of inputs")
        out[block_id] = {}
        for action_id, value in actions.items():
            if len(action_id) > ID_MAX:
                raise Refused(200, "view.state.values has an action_id that is too long")
            out[block_id][action_id] = _pick(value, _INPUT, "view.state.values")
    return out


class _Connection(asyncio.Protocol):
    """One accepted connection: aiohttp's protocol for it, behind a shim that tells the guard when
    the connection opens, has a request in progress, and closes. A connection the guard refuses has
    its transport closed in :meth:`connection_made`, before asyncio starts reading it, so all it
    gets after that is :meth:`connection_lost`: the other callbacks only ever see admitted ones."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.BaseTransport | None = None
        self.admitted = False
        self.requests = 0  # requests seen
        self.busy = 0  # requests being handled right now
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        if not self.guard.admit(self):
            transport.close()
            return
        self.admitted = True
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        if self.admitted:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def close(self) -> None:
        """Close an admitted connection (the guard closes only those: evicted, or no request in time)."""
        self.guard.forget(self)
        assert self.transport is not None
        self.transport.close()


class ConnectionGuard:
    """The protocol factory in front of aiohttp's: at most ``limit`` open connections, and each must
    send its first request's headers within ``header_timeout`` seconds (aiohttp closes idle
    keep-alive connections itself, after its ``keepalive_timeout``). A new connection beyond the
    limit closes the longest-idle one (no request in progress: idle, or still sending headers or a
    body), so a pile of idle or half-sent connections can never lock out Slack or ``/healthz``;
    when every open connection has a request in progress, the new connection is closed at once."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], *, limit: int, header_timeout: float) -> None:
        self.factory = factory
        self.limit = limit
        self.header_timeout = header_timeout
        self.open: dict[asyncio.Protocol, _Connection] = {}  # by aiohttp's protocol, oldest first
        self.accepted = 0  # connections accepted, ever
        self.evicted = 0  # idle ones closed to make room
        self.refused = 0  # new ones closed at once: every open one was busy

    def __call__(self) -> _Connection:
        return _Connection(self, self.factory())

    def admit(self, conn: _Connection) -> bool:
        self.accepted += 1
        if len(self.open) >= self.limit:
            idle = next((c for c in self.open.values() if not c.busy), None)
            if idle is None:
                self.refused += 1
                http_log.warning("slack: all %d connections have a request in progress; refused a new one", self.limit)
                return False
            self.evicted += 1
            http_log.warning("slack: %d connections open (the limit); closed the longest idle one", self.limit)
            idle.close()
        self.open[conn.inner] = conn
        conn.deadline = asyncio.get_running_loop().call_later(self.header_timeout, self._first_request_due, conn)
        return True

    def _first_request_due(self, conn: _Connection) -> None:
        if not conn.requests and not conn.busy:
            conn.close()

    def forget(self, conn: _Connection) -> None:
        self.open.pop(conn.inner, None)
        if conn.deadline is not None:
            conn.deadline.cancel()
            conn.deadline = None

    def track(self, request: web.BaseRequest) -> _Connection | None:
        """The connection ``request`` came on (None if it is not one of ours)."""
        return self.open.get(request.protocol)
