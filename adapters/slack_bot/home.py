"""The App Home tab and onboarding on Slack.

- ``app_home_opened`` (the Home tab): the core's :func:`bot.mentoring.home.home` reply, rendered as a
  ``home`` view (:func:`home_view`) and published for that person (``views.publish``).
- A button in the Home tab (``cb_home:<n>``) has no channel and no ``response_url``: its value names
  the program channel it runs in and the command, with a MAC binding both to the workspace and the
  person (keyed like forms, by the signing secret), so a forged, altered or someone else's value runs
  nothing. The command runs as if typed in that channel; the answer is the Home tab published again
  with a one-line status on top ("Mentoring snoozed until ..."), an error there when refused.
  "Edit profile" opens the profile form as a modal (``views.open`` with the press's ``trigger_id``);
  the modal carries an ``external_id`` starting ``cb_home:`` so saving it publishes the Home tab again
  (with what was saved on top) instead of answering in the channel.
- ``member_joined_channel`` in a channel with an active program: one ephemeral invitation to the
  person who joined (``chat.postEphemeral``), with "Join and fill in your profile" (``cb_join``: joins,
  then opens the profile form) and "About this program". Nothing is written until they press Join;
  the bot itself joining, someone already in the program, or a redelivered event get nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from adapters import buttons
from adapters.slack_bot import forms
from adapters.slack_bot.flow import _where
from adapters.slack_bot.logs import log
from adapters.slack_bot.render import (
    BUTTON_VALUE_MAX,
    ID_MAX,
    Block,
    Message,
    body_blocks,
    button,
    clip_text,
    escape,
    header,
    mrkdwn,
    plain,
    render,
    section,
)
from adapters.slack_bot.render import context as context_block
from bot.commands import Invocation
from bot.forms import Form
from bot.mentoring import home as core_home
from bot.registry import FORMS
from bot.reply import Reply

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from adapters.slack_bot.send import Sender
    from bot.core import Core

#: Events this module listens to (the manifest subscribes to them, the HTTP endpoint lets them in).
EVENTS = ("app_home_opened", "member_joined_channel")
#: Slack's limit on the blocks of a home view.
HOME_BLOCKS_MAX = 100
HOME_ID = "cb_home"
JOIN_ID = "cb_join"
#: ``views.open``'s ``external_id`` of a modal opened from the Home tab starts with this.
FROM_HOME = "cb_home:"
STATUS_MAX = 300
FORGED = "That button is no longer valid. Here is your mentoring as it is now."
_MAC_LENGTH = 32
_CHANNEL = re.compile(r"[CG][A-Z0-9]{1,20}")


class Host(Protocol):
    """What the Home tab uses of :class:`~adapters.slack_bot.listeners.SlackAdapter`."""

    core: Core
    sender: Sender
    form_key: bytes

    async def is_admin(self, team: str, user: str) -> bool: ...

    def background(self, work: Coroutine[Any, Any, None]) -> None: ...

    def seen(self, event_id: str) -> bool: ...

    async def reply_privately(self, body: dict[str, Any], message: Message) -> None: ...


# ---------------------------------------------------------------------------- button values


def _mac(key: bytes, team: str, user: str, channel: str, command: str) -> str:
    message = "\n".join(("home", team, user, channel, command)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:_MAC_LENGTH]


def action_value(key: bytes, team: str, user: str, channel: str, command: str) -> str:
    """A Home button's value: ``<channel>:<mac>:<command>``, the MAC binding all to team and user."""
    return f"{channel}:{_mac(key, team, user, channel, command)}:{command}"


def parse_value(key: bytes, team: str, user: str, value: str) -> tuple[str, str] | None:
    """``(channel, command)`` of a Home button's value, if it is ours for this person and runs one of
    the Home tab's commands; None otherwise."""
    channel, _, rest = value.partition(":")
    mac, _, command = rest.partition(":")
    if not _CHANNEL.fullmatch(channel) or len(mac) != _MAC_LENGTH or command not in core_home.COMMANDS:
        return None
    return (channel, command) if hmac.compare_digest(mac, _mac(key, team, user, channel, command)) else None


def opened_from_home(view: dict[str, Any]) -> bool:
    """True for a modal the Home tab opened (its ``external_id``)."""
    return str(view.get("external_id", "")).startswith(FROM_HOME)


# ---------------------------------------------------------------------------- rendering


def status_block(status: str, tone: str) -> Block:
    mark = {"error": ":warning:", "notice": ":information_source:"}.get(tone, ":white_check_mark:")
    text = clip_text(escape(plain(status, STATUS_MAX)), STATUS_MAX)
    return section(f"{mark} *{text}*")


def home_view(
    reply: Reply, key: bytes, team: str, user: str, *, status: str = "", tone: str = "notice"
) -> dict[str, Any]:
    """The reply as a ``home`` view: an optional status line, the title, the body (the same blocks as
    a message), the footer, and the follow-ups as Home buttons bound to their program channel."""
    top: list[Block] = [status_block(status, tone)] if status.strip() else []
    top.append(header(reply.title if reply.title.strip() else "careerbot"))
    tail: list[Block] = []
    if reply.footer.strip():
        tail.append(context_block(clip_text(mrkdwn(reply.footer), 2000)))
    where = core_home.channels(reply)
    elements = [
        button(
            f.label or f.command,
            f"{HOME_ID}:{i}"[:ID_MAX],
            action_value(key, team, user, channel, f.command)[:BUTTON_VALUE_MAX],
        )
        for i, (f, channel) in enumerate(zip(reply.follow_ups, where, strict=True))
        if channel and f.command in core_home.COMMANDS
    ]
    if elements:
        tail.append({"type": "actions", "elements": elements})
    room = HOME_BLOCKS_MAX - len(top) - len(tail)
    body = [block for block, _ in body_blocks(reply)]
    if len(body) > room:
        body = body[: room - 1] + [context_block("_(cut: more than a Home tab holds)_")]
    return {"type": "home", "blocks": top + body + tail}


def invitation_message(reply: Reply) -> Message:
    """The onboarding invitation as an ephemeral message; its Join button is ``cb_join``."""
    message = render(reply)[0]
    for block in message.blocks:
        for element in block.get("elements", []):
            if element.get("value") == buttons.encode("run", core_home.JOIN_COMMAND):
                element["action_id"] = JOIN_ID
    return message


# ---------------------------------------------------------------------------- listeners


class HomeTab:
    """The Home tab's and onboarding's listeners, on behalf of the Slack adapter."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def register(self, app: AsyncApp) -> None:
        app.event("app_home_opened")(self.on_opened)
        app.event("member_joined_channel")(self.on_member_joined)
        app.action(re.compile(rf"^{HOME_ID}:"))(self.on_action)
        app.action(JOIN_ID)(self.on_join)

    async def on_opened(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab") != "home" or self.host.seen(str(body.get("event_id", ""))):
            return
        team, user, _ = _where(body)
        self.host.background(self.publish(team, user))

    async def publish(self, team: str, user: str, *, status: str = "", tone: str = "notice") -> None:
        """Build ``user``'s Home tab in the core and publish it."""
        core = self.host.core
        admin = await self.host.is_admin(team, user)
        invocation = Invocation(
            platform="slack", tenant=team, user=user, channel="home", command="mentoring", admin=admin
        )
        reply = await core_home.home(core.kb, core.services, invocation)
        view = home_view(reply, self.host.form_key, team, user, status=status, tone=tone)
        await self.host.sender.call("views.publish", user_id=user, view=view)

    async def on_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        team, user, _ = _where(body)
        found = parse_value(self.host.form_key, team, user, str(action.get("value", "")))
        if found is None:
            log.info("slack: refused a Home tab button whose value is not ours")
            self.host.background(self.publish(team, user, status=FORGED, tone="error"))
            return
        channel, command = found
        self.host.background(self.run(team, user, channel, command, str(body.get("trigger_id") or "")))

    async def run(self, team: str, user: str, channel: str, command: str, trigger_id: str) -> None:
        """Run a Home button's command in its program channel; open its form, or show its answer."""
        core = self.host.core
        invocation = core.parse(command, platform="slack", tenant=team, user=user, channel=channel)
        reply = await core.answer(invocation)
        form = FORMS.get(reply.extra.get("form", "")) if reply.tone != "error" else None
        if form is not None:
            if trigger_id and await self.open_form(form, invocation, trigger_id, reply, from_home=True):
                return  # the modal is open; saving it publishes the Home tab again
            await self.publish(team, user, status=reply.summary, tone="notice")  # how to type it instead
            return
        await self.publish(team, user, **answer_status(reply))

    async def open_form(
        self, form: Form, invocation: Invocation, trigger_id: str, reply: Reply, *, from_home: bool
    ) -> bool:
        """Open ``form`` for ``invocation``'s channel, filled in with ``reply``'s values (the member's
        profile); False if Slack refused (an expired trigger)."""
        where = forms.metadata(self.host.form_key, invocation.tenant, invocation.user, invocation.channel, form)
        view = forms.view(form, where, reply.form_values)
        if from_home:
            view["external_id"] = FROM_HOME + secrets.token_hex(8)
        return await self.host.sender.call("views.open", trigger_id=trigger_id, view=view)

    async def saved(self, invocation: Invocation) -> None:
        """A profile form opened from the Home tab was submitted: run it, then publish the Home tab."""
        reply = await self.host.core.answer(invocation)
        await self.publish(invocation.tenant, invocation.user, **answer_status(reply))

    # ------------------------------------------------------------------ onboarding

    async def on_member_joined(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        if self.host.seen(str(body.get("event_id", ""))):
            return  # a redelivery
        team, user, channel = _where(body)
        bots = {a.get("user_id") for a in body.get("authorizations") or () if isinstance(a, dict) and a.get("is_bot")}
        bots.add(context.get("bot_user_id") if isinstance(context, dict) else None)
        if not event.get("user") or not event.get("channel") or user in bots:
            return
        self.host.background(self.invite(team, user, channel))

    async def invite(self, team: str, user: str, channel: str) -> None:
        core = self.host.core
        invocation = Invocation(platform="slack", tenant=team, user=user, channel=channel, command="mentoring")
        reply = await core_home.invitation(core.services, invocation)
        if reply is None:
            return
        message = invitation_message(reply)
        await self.host.sender.call("chat.postEphemeral", channel=channel, user=user, **message.payload())

    async def on_join(self, ack: Any, body: dict[str, Any]) -> None:
        """The invitation's Join button: ``/mentoring join`` in the invitation's channel, answered
        privately, and the profile form opened when the join worked."""
        await ack()
        self.host.background(self.join(body))

    async def join(self, body: dict[str, Any]) -> None:
        team, user, channel = _where(body)
        core = self.host.core
        invocation = core.parse(core_home.JOIN_COMMAND, platform="slack", tenant=team, user=user, channel=channel)
        reply = await core.answer(invocation)
        trigger_id = str(body.get("trigger_id") or "")
        if reply.tone != "error" and trigger_id and _CHANNEL.fullmatch(channel):
            asked = core.parse("/mentoring profile", platform="slack", tenant=team, user=user, channel=channel)
            profile = await core.answer(asked)
            form = FORMS.get(profile.extra.get("form", "")) if profile.tone != "error" else None
            if form is not None:
                await self.open_form(form, invocation, trigger_id, profile, from_home=False)
        await self.host.reply_privately(body, render(reply)[0])


def answer_status(reply: Reply) -> dict[str, str]:
    """The one-line status a command's reply puts on top of the Home tab."""
    if reply.tone == "error":
        return {"status": reply.summary or reply.title, "tone": "error"}
    return {"status": reply.title, "tone": reply.tone}
