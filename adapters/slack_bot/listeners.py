"""The Slack listeners: slash commands, buttons, pickers, mentions and DMs turned into core
invocations, and rendered replies sent back.

A slash command is answered in Slack's acknowledgement itself when the core is quick (it nearly
always is); after :data:`ACK_BUDGET` it is acked empty, well inside Slack's 3 s, and the answer
follows through the payload's ``response_url``. Under load (answers already waiting, or answering
inside acks using more than its share of the event loop) commands are acked at once and answered
through :class:`~adapters.slack_bot.flow.AnswerQueue`, so acks never queue behind answers.

Answers are ephemeral with a "Share in channel" button; follow-ups are buttons; mentions and DMs get
the best answer in a thread. Commands declared ``admin`` (``/tips``) learn whether the caller is a
workspace admin or owner from ``users.info``, asked only for those commands and remembered per
(team, user) for :data:`~adapters.slack_bot.flow.ADMIN_TTL` seconds.

A reply naming a form (``extra["form"]``: ``/mentoring profile``) also opens that form as a modal
(:mod:`adapters.slack_bot.forms`) with the command's ``trigger_id``; its knowledge pickers are
answered from the knowledge, and a submission is checked field by field (errors shown in the modal)
before the form's command runs as if the member had typed it, answered ephemerally (or in a DM).

Removing the app from a workspace (``app_uninstalled``, or ``tokens_revoked`` naming the bot token)
deletes everything careerbot keeps about that workspace (:func:`bot.registry.purge_tenant`: daily
tips, mentoring), after the event is acknowledged; a failure is one log line.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Coroutine, Hashable, Sequence
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp

from adapters import buttons

#: The base logger handed to Bolt (its middleware loggers copy its filters).
from adapters.slack_bot import forms, home
from adapters.slack_bot.flow import (
    AdminCache,
    AnswerCache,
    AnswerQueue,
    Deliver,
    InlineBudget,
    Pages,
    _where,
    from_slack,
)
from adapters.slack_bot.logs import log, raised
from adapters.slack_bot.render import MORE_ID, Message, Picker, parse_more, parse_pick, plain, render
from adapters.slack_bot.send import Sender
from bot.commands import Invocation
from bot.core import Core
from bot.forms import FieldValue, Form
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.present import KIND_LABEL
from bot.knowledge.schema import as_kinds
from bot.registry import FORMS, purge_tenant
from bot.reply import Reply

SEEN_EVENTS_MAX = 1000
#: How long a slash command may wait for the core before it is acked empty and answered later
#: (Slack's deadline is 3 s, including the network both ways).
ACK_BUDGET = 1.0
BUSY_TEXT = "careerbot is busy right now. Please try again in a minute."
#: Slack's limits for the options of an external select.
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
#: The umbrella command (``/career tips subscribe``) and its option naming the command it runs.
UMBRELLA = ("career", "command")
FORM_GONE = "This form can no longer be sent. Run the command again to open a new one."


def pressed_message(body: dict[str, Any], action: dict[str, Any]) -> tuple[str, str] | None:
    """``(channel, ts)`` of the message holding a pressed button, when it is one ``chat.update`` can
    edit (in a conversation, not ephemeral) and the button pressed is really on it (when the payload
    carries the message); else None, and no message is edited."""
    container = body.get("container")
    if not isinstance(container, dict) or container.get("type") != "message" or container.get("is_ephemeral"):
        return None
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if not isinstance(channel, str) or not isinstance(ts, str) or not channel or not ts:
        return None
    message = body.get("message")
    if isinstance(message, dict) and isinstance(message.get("blocks"), list):
        value = action.get("value")
        held = [
            element.get("value")
            for block in message["blocks"]
            if isinstance(block, dict) and block.get("type") == "actions" and isinstance(block.get("elements"), list)
            for element in block["elements"]
            if isinstance(element, dict)
        ]
        if value not in held:
            return None
    return channel, ts


def form_errors(form: Form, kb: KnowledgeBase, values: dict[str, str]) -> dict[str, str]:
    """The core's message for each bad field of a submission, by block id (the field's name)."""
    from bot.mentoring.forms import PROFILE, field_errors

    if form is not PROFILE:  # the only form so far; another form would bring its own checks
        return {}
    return {name: plain(message, forms.ERROR_MAX) for name, message in field_errors(kb, values).items()}


class SlackAdapter:
    """Registers the listeners on a Bolt app and answers through the core."""

    def __init__(self, core: Core, sender: Sender, *, prefix: str = "", form_key: bytes = b"") -> None:
        self.core = core
        #: The key of the MAC in a form's ``private_metadata`` (a random one if none is given, so
        #: modals opened before a restart are then refused as expired).
        self.form_key = form_key or os.urandom(32)
        self.sender = sender
        self.prefix = prefix
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._next_sweep = 0.0
        self.tasks: set[asyncio.Task[None]] = set()
        self.cache = AnswerCache()
        self.admins = AdminCache()
        self.budget = InlineBudget()
        self.answers = AnswerQueue(self.background)

    def register(self, app: AsyncApp) -> None:
        app.command(re.compile(r"^/"))(self.on_command)
        app.action(re.compile(r"^cb_(run|share|more)"))(self.on_button)
        app.action(re.compile(r"^cb_pick:"))(self.on_pick)
        app.options(re.compile(r"^cb_pick:"))(self.on_options)
        app.options(re.compile(r"^cb_form:"))(self.on_form_options)
        app.view(re.compile(r"^cb_form:"))(self.on_form)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.event("app_uninstalled")(self.on_uninstalled)
        app.event("tokens_revoked")(self.on_tokens_revoked)
        self.home = home.HomeTab(self)  # the App Home tab and onboarding (app_home_opened, member_joined_channel)
        self.home.register(app)

    # -------------------------------------------------------------- translation

    def command_text(self, slash: str, text: str) -> str:
        """``/cb-role`` + ``ehr`` -> ``/role ehr`` (the prefix is optional, so unprefixed names work too)."""
        name = slash.lstrip("/")
        if self.prefix and name.startswith(self.prefix):
            name = name[len(self.prefix) :]
        return f"/{name} {from_slack(text)}".strip()

    def picker_for(self, invocation: Invocation, reply: Reply) -> Picker | None:
        """An option picker when a command with an entity option answered with a list or a miss."""
        command = self.core.registry.get(invocation.command)
        option = next((o for o in command.options if o.kinds), None) if command else None
        if command is None or option is None or reply.ref is not None:
            return None
        kinds = as_kinds(option.kinds)
        kind = KIND_LABEL[kinds[0]] if len(kinds) == 1 else "topic"
        return Picker(command=command.name, option=option.name, placeholder=f"Choose a {kind}")

    def pages(self, invocation: Invocation, reply: Reply, *, public: bool) -> list[Message]:
        """The reply as Slack messages. "Share in channel" re-runs the command publicly, so an admin
        command (``/tips subscribe``, ``/tips skip``) gets no Share button: sharing must not repeat a change."""
        again = self.core.share_command(invocation, reply)
        share = None if public or self.runs_admin_command(invocation) else again
        return render(reply, share=share, picker=self.picker_for(invocation, reply), more=again)

    def invocation(self, text: str, body: dict[str, Any], *, public: bool) -> tuple[Invocation, Hashable]:
        """The core's invocation for ``text``, and the cache key of its rendered answer."""
        tenant, user, channel = _where(body)
        invocation = self.core.parse(text, platform="slack", tenant=tenant, user=user, channel=channel)
        options = tuple(invocation.options.items())
        return invocation, (invocation.command, options, invocation.text, invocation.admin, public)

    async def compute(
        self,
        invocation: Invocation,
        key: Hashable,
        *,
        public: bool,
        body: dict[str, Any] | None = None,
        edits: list[Message] | None = None,
    ) -> list[Message]:
        """Ask the core and render; remember the pages when the core says the answer is pure (it
        depends only on the options and the knowledge: never a tip, never a tenant's /tips list) and
        is not an error, for as long as the knowledge is the same. An admin command's answer depends
        on who asks, so it is never remembered. ``edits``: where to put the rendered
        :attr:`~bot.reply.Reply.update` (the message whose button was pressed, as it should now read)."""
        kb = self.core.kb
        checked = self.runs_admin_command(invocation)
        if checked:
            invocation = replace(invocation, admin=await self.is_admin(invocation.tenant, invocation.user))
        reply = await self.core.answer(invocation)
        form = FORMS.get(str(reply.extra.get("form", ""))) if body is not None and reply.tone != "error" else None
        if form is not None and body is not None and body.get("trigger_id"):
            opening = self.open_form(form, invocation, str(body["trigger_id"]), reply.form_values)
            self.background(opening)  # Slack's 3 s start now
        if edits is not None and reply.update is not None and reply.tone != "error":
            edits.append(render(reply.update)[0])  # the pressed message as it should now read
        pages = self.pages(invocation, reply, public=public)
        if reply.tone != "error" and self.core.cacheable(invocation) and not checked and reply.update is None:
            self.cache.put(kb, key, pages)
        return pages

    def runs_admin_command(self, invocation: Invocation) -> bool:
        """True when the invocation runs a command declared ``admin``, directly (``/tips``) or through
        the umbrella (``/career tips subscribe``): only then is users.info worth asking."""
        command = self.core.registry.get(invocation.command) if invocation.command else None
        if command is not None and command.name == UMBRELLA[0]:
            named = str(invocation.options.get(UMBRELLA[1], "")).strip().lstrip("/").partition(" ")[0]
            command = self.core.registry.get(named) if named else None
        return command is not None and command.admin

    async def is_admin(self, team: str, user: str) -> bool:
        """A workspace admin or owner (users.info), remembered for :data:`ADMIN_TTL` seconds. If
        Slack cannot say, not an admin (the failure is logged with Slack's error code) and not
        remembered, so the next command asks again."""
        key = (team, user)
        known = self.admins.get(key)
        if known is not None:
            return known
        found = await self.sender.read("users.info", user=user)
        if found is None:
            log.warning("slack: could not tell whether %s is an admin; treating them as not one", user)
            return False
        profile = found.get("user") or {}
        admin = bool(profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner"))
        self.admins.put(key, admin)
        return admin

    async def answer(
        self, text: str, body: dict[str, Any], *, public: bool, edits: list[Message] | None = None
    ) -> list[Message]:
        invocation, key = self.invocation(text, body, public=public)
        cached = self.cache.get(self.core.kb, key)
        return cached if cached is not None else await self.compute(invocation, key, public=public, edits=edits)

    # -------------------------------------------------------------- listeners
    # Bolt runs with process_before_response=True: its HTTP answer goes out when a listener returns
    # (no 10 ms ack polling), so every listener returns at once and slow work runs in the background.

    async def on_command(self, ack: Any, body: dict[str, Any]) -> None:
        """Answer in the ack itself when the core is quick (no extra round trip, and the response_url
        stays free for Share and More); otherwise ack empty at :data:`ACK_BUDGET` and follow up.
        Under load (answers waiting, or the inline budget spent) ack at once and answer later."""
        invocation, key = self.invocation(
            self.command_text(str(body.get("command", "")), str(body.get("text", ""))), body, public=False
        )
        pages = self.cache.get(self.core.kb, key)
        reserved = self.budget.reserve() if pages is None and self.answers.idle() else None
        if pages is None and reserved is None:
            if self.answers.put(
                lambda: self.compute(invocation, key, public=False, body=body),
                lambda done: self.reply_privately(body, done[0]),
            ):
                await ack()
            else:
                await ack(text=BUSY_TEXT, response_type="ephemeral")
            return
        if pages is None:
            assert reserved is not None
            answering = asyncio.ensure_future(self.compute_inline(invocation, key, reserved, body))
            try:
                pages = await asyncio.wait_for(asyncio.shield(answering), ACK_BUDGET)
            except TimeoutError:
                await ack()
                self.background(self.follow_up(answering, body))
                return
        await ack(text=pages[0].text, blocks=pages[0].blocks, response_type="ephemeral")

    async def compute_inline(
        self, invocation: Invocation, key: Hashable, reserved: float, body: dict[str, Any] | None = None
    ) -> Pages:
        """:meth:`compute`, settling the inline budget with the time it took from when it started
        running (not from when it was scheduled: the wait for the event loop is not its cost)."""
        started = time.monotonic()
        try:
            return await self.compute(invocation, key, public=False, body=body)
        finally:
            self.budget.settle(reserved, time.monotonic() - started)

    async def follow_up(self, answering: Awaitable[list[Message]], body: dict[str, Any]) -> None:
        await self.reply_privately(body, (await answering)[0])

    def later(
        self, text: str, body: dict[str, Any], deliver: Deliver, *, public: bool, edits: list[Message] | None = None
    ) -> None:
        """Answer ``text`` after the ack, through the :class:`AnswerQueue`."""
        self.answers.put(lambda: self.answer(text, body, public=public, edits=edits), deliver)

    async def on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self.press(body, action)

    def press(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        decoded = buttons.decode(str(action.get("value", "")))
        if decoded is None:
            return
        kind, command = decoded
        if kind == "share":

            async def publish(pages: Pages) -> None:
                await self.share(body, pages[0])

            self.later(command, body, publish, public=True)
            return
        action_id = str(action.get("action_id", ""))
        more = parse_more(action_id)
        if more is None and action_id.startswith(MORE_ID):
            log.info("slack: ignored a More button without a valid page number")
            return
        page = more or 1
        pressed = pressed_message(body, action) if more is None else None
        edits: list[Message] = []

        async def reply(pages: Pages) -> None:
            if pressed is not None and edits:  # a check-in: its message shows how many answered
                channel, ts = pressed
                await self.sender.call("chat.update", channel=channel, ts=ts, **edits[0].payload())
            await self.reply_privately(body, pages[min(page, len(pages)) - 1])

        self.later(command, body, reply, public=False, edits=edits if pressed is not None else None)

    async def on_pick(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        target = parse_pick(str(action.get("action_id", "")))
        selected = action.get("selected_option")
        value = str(selected.get("value", "")) if isinstance(selected, dict) else ""
        if target is not None and value:
            self.press(body, {"value": buttons.encode("run", f"/{target[0]} {target[1]}:{value}")})

    async def on_options(self, ack: Any, payload: dict[str, Any]) -> None:
        target = parse_pick(str(payload.get("action_id", "")))
        found = self.core.autocomplete(*target, str(payload.get("value", ""))) if target else []
        options = [
            {
                "text": {"type": "plain_text", "text": plain(label or value, OPTION_TEXT_MAX)},
                "value": value[:OPTION_VALUE_MAX],
            }
            for label, value in found
        ]
        await ack(options=options)

    # -------------------------------------------------------------- forms (modals)

    async def open_form(
        self, form: Form, invocation: Invocation, trigger_id: str, values: Sequence[FieldValue] = ()
    ) -> None:
        """Open ``form`` as a modal, filled in with ``values`` (the member's current profile); if
        Slack refuses (an expired trigger), the reply already says how to type the command instead."""
        where = forms.metadata(self.form_key, invocation.tenant, invocation.user, invocation.channel, form)
        await self.sender.call("views.open", trigger_id=trigger_id, view=forms.view(form, where, values))

    async def on_form_options(self, ack: Any, payload: dict[str, Any]) -> None:
        target = forms.parse_action(str(payload.get("action_id", "")))
        form = FORMS.get(target[0]) if target else None
        field = form.field(target[1]) if form and target else None
        found = forms.suggestions(self.core.kb, field, str(payload.get("value", ""))) if field else []
        await ack(options=found)

    async def on_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """A form submitted: each bad field gets its message in the modal (nothing stored); a good
        one closes the modal and runs the form's command as the user typing it in the channel the
        form was opened from, the reply sent to them privately. A forged submission (unknown form,
        fields or channel) gets a modal saying so, and nothing runs."""
        tenant, user, _ = _where(body)
        form = FORMS.get(str(view.get("callback_id", "")).removeprefix(forms.PREFIX))
        if form is None:
            log.info("slack: refused a submission of an unknown form")
            await ack(response_action="update", view=forms.notice("careerbot", FORM_GONE))
            return
        channel = forms.channel_of(self.form_key, tenant, user, form, str(view.get("private_metadata", "")))
        state = view.get("state")
        values = forms.values(form, state.get("values") if isinstance(state, dict) else None, view.get("blocks"))
        if channel is None or values is None:
            log.info("slack: refused a submission of form %s: %s", form.id, "channel" if channel is None else "fields")
            await ack(response_action="update", view=forms.notice(form.title, FORM_GONE))
            return
        errors = form_errors(form, self.core.kb, values)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        options = dict(form.fixed) | values
        invocation = Invocation(
            platform="slack", tenant=tenant, user=user, channel=channel, command=form.command, options=options
        )
        if home.opened_from_home(view):  # from the Home tab: the answer is the Home tab published again
            self.background(self.home.saved(invocation))
        else:
            self.background(self.submit(invocation))

    async def submit(self, invocation: Invocation) -> None:
        """Run a submitted form's command; the reply ephemeral in its channel, else in a DM."""
        reply = await self.core.answer(invocation)
        message = render(reply)[0]
        user, channel = invocation.user, invocation.channel
        if not await self.sender.call("chat.postEphemeral", channel=channel, user=user, **message.payload()):
            await self.sender.call("chat.postMessage", channel=user, **message.payload())

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        self.answer_in_thread(body, event)

    async def on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id"):
            self.answer_in_thread(body, event)

    async def on_uninstalled(self, body: dict[str, Any]) -> None:
        self.background(self.forget_workspace(body.get("team_id"), "app_uninstalled"))

    async def on_tokens_revoked(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        tokens = event.get("tokens")
        bots = tokens.get("bot") if isinstance(tokens, dict) else None
        if isinstance(bots, list) and bots:  # the bot token: careerbot is gone from the workspace
            self.background(self.forget_workspace(body.get("team_id"), "tokens_revoked"))

    async def forget_workspace(self, team: object, why: str) -> None:
        """Delete what every wing keeps about workspace ``team``; one log line whatever happens."""
        if not isinstance(team, str) or not team:
            log.warning("slack: %s without a workspace id; nothing deleted", why)
            return
        services = self.core.services
        if services is None:
            log.warning("slack: %s for workspace %s, but careerbot has no store here; nothing to delete", why, team)
            return
        from bot.store.engine import Tenant  # the store's libraries load only when needed

        try:
            removed = await purge_tenant(await services.store(), Tenant("slack", team))
        except Exception as exc:
            log.error("slack: %s for workspace %s: deleting its data failed (%s)", why, team, raised(exc))
            return
        log.info("slack: %s for workspace %s: deleted its %d stored rows", why, team, removed)

    def background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the listener returns; failures are logged, never raised into Bolt."""
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("slack: handling a request failed (%s)", raised(exc))

    async def close(self) -> None:
        await self.answers.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # -------------------------------------------------------------- replies out

    def answer_in_thread(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        event_id = str(body.get("event_id", ""))
        if self.seen(event_id):
            return  # a redelivery (Slack retries an event it thinks we missed) to this replica
        if event_id and self.core.services is not None:  # replicas: the first to record it answers
            self.background(self._answer_if_first(event_id, body, event))
            return
        self._answer_in_thread(body, event)

    async def _answer_if_first(self, event_id: str, body: dict[str, Any], event: dict[str, Any]) -> None:
        if await self.first_delivery(event_id):
            self._answer_in_thread(body, event)

    async def first_delivery(self, event_id: str) -> bool:
        """Whether no replica has seen ``event_id`` yet (the shared store decides). If the store is
        unavailable the event is answered: a rare double answer beats a lost one."""
        services = self.core.services
        assert services is not None
        from bot.store.deliveries import KEEP, first_time, forget_older

        try:
            store = await services.store()
            now = services.clock.now()
            if time.monotonic() >= self._next_sweep:  # expired ids go, at most every few minutes
                self._next_sweep = time.monotonic() + KEEP.total_seconds() / 6
                await forget_older(store, now)
            return await first_time(store, "slack", event_id, now)
        except Exception as exc:
            log.warning("slack: cannot check event %s with the store (%s); answering it", event_id[:40], raised(exc))
            return True

    def _answer_in_thread(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        thread = event.get("thread_ts") or event.get("ts")

        async def post(pages: Pages) -> None:
            await self.sender.call(
                "chat.postMessage", channel=event.get("channel"), thread_ts=thread, **pages[0].payload()
            )

        self.later(from_slack(str(event.get("text", ""))), body, post, public=True)

    async def reply_privately(self, body: dict[str, Any], message: Message) -> None:
        """Ephemeral via ``response_url``; if that fails, ``chat.postEphemeral``."""
        if await self.sender.respond(body.get("response_url"), message):
            return
        _, user, channel = _where(body)
        await self.sender.call("chat.postEphemeral", channel=channel, user=user, **message.payload())

    async def share(self, body: dict[str, Any], message: Message) -> None:
        """Post publicly, then remove the ephemeral original; ``chat.postMessage`` if the URL is spent."""
        url = body.get("response_url")
        if await self.sender.respond(url, message, response_type="in_channel"):
            if (body.get("container") or {}).get("is_ephemeral"):
                await self.sender.delete_original(url)
            return
        _, user, channel = _where(body)
        if not await self.sender.call("chat.postMessage", channel=channel, **message.payload()):
            notice = "I couldn't post in this channel. Invite me with `/invite @careerbot` and try again."
            await self.sender.call("chat.postEphemeral", channel=channel, user=user, text=notice)

    def seen(self, event_id: str) -> bool:
        if not event_id:
            return False
        if event_id in self._seen:
            return True
        self._seen[event_id] = None
        if len(self._seen) > SEEN_EVENTS_MAX:
            self._seen.popitem(last=False)
        return False
