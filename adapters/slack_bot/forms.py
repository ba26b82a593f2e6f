"""Forms declared in the core (:mod:`bot.forms`) as Slack modals, and their submissions read back.

A modal's ``callback_id`` is ``cb_form:<form id>``; each field is one input block whose ``block_id``
is the field's name and whose ``action_id`` is ``cb_form:<form id>:<field>`` (so a
``block_suggestion`` names the field whose options it wants). ``private_metadata`` carries the
channel the form was opened from and a MAC over (team, user, channel, form), so a submission cannot
move the command to another channel nor be replayed by someone else; nothing the user typed goes in it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Any

from adapters.slack_bot.render import plain
from bot.forms import FieldValue, Form, FormField
from bot.knowledge.kb import KnowledgeBase
from bot.knowledge.schema import as_kinds

PREFIX = "cb_form:"
#: Slack's limits: option lists of external selects, option labels, values, and error messages.
OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
ERROR_MAX = 150
PLACEHOLDER_MAX = 150
#: Slack's channel ids (public, private, group DM, DM).
_CHANNEL = re.compile(r"[CGD][A-Z0-9]{1,20}")
_MAC_LENGTH = 32


def callback_id(form: Form) -> str:
    return PREFIX + form.id


def action_id(form: Form, field: FormField) -> str:
    return f"{PREFIX}{form.id}:{field.name}"


def parse_action(action: str) -> tuple[str, str] | None:
    """``cb_form:<form>:<field>`` -> ``(form, field)``; None for anything else."""
    if not action.startswith(PREFIX):
        return None
    form, sep, field = action[len(PREFIX) :].partition(":")
    return (form, field) if sep and form and field else None


def _mac(key: bytes, team: str, user: str, channel: str, form: Form) -> str:
    message = "\n".join((team, user, channel, form.id)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:_MAC_LENGTH]


def metadata(key: bytes, team: str, user: str, channel: str, form: Form) -> str:
    """``private_metadata``: the channel and a MAC binding it to the workspace, the user and the form."""
    return f"{channel}:{_mac(key, team, user, channel, form)}"


def channel_of(key: bytes, team: str, user: str, form: Form, private_metadata: str) -> str | None:
    """The channel of a submission's ``private_metadata``, if it is ours for this user and form."""
    channel, _, mac = private_metadata.partition(":")
    if not _CHANNEL.fullmatch(channel) or len(mac) != _MAC_LENGTH:
        return None
    return channel if hmac.compare_digest(mac, _mac(key, team, user, channel, form)) else None


def _text(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": plain(text, limit)}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _text(label or value, OPTION_TEXT_MAX), "value": value}


def element(form: Form, field: FormField, current: FieldValue | None = None) -> dict[str, Any]:
    """The input element of one field, showing ``current`` (the member's value) if given: a
    select's ``initial_option`` (one of its options, exactly), a multi select's ``initial_options``
    (each within Slack's 75-character text and 150-character value), a text's ``initial_value``."""
    out: dict[str, Any]
    if field.kind == "select":
        options = [_option(value[:OPTION_VALUE_MAX], label) for value, label in field.choices]
        out = {"type": "static_select", "options": options}
        picked = {v for v, _ in current.chosen} if current is not None else set()
        initial = next((o for o in options if o["value"] in picked), None)
        if initial is not None:
            out["initial_option"] = initial
    elif field.kind == "multi_select":
        out = {"type": "multi_external_select", "min_query_length": 1, "max_selected_items": field.max_items}
        chosen = [(v, label) for v, label in current.chosen if len(v) <= OPTION_VALUE_MAX] if current else []
        if chosen:
            out["initial_options"] = [_option(v, label) for v, label in chosen[: field.max_items]]
    else:
        out = {"type": "plain_text_input", "max_length": field.max_length}
        if field.kind == "paragraph":
            out["multiline"] = True
        if current is not None and current.text and len(current.text) <= field.max_length:
            out["initial_value"] = current.text
    out["action_id"] = action_id(form, field)
    if field.placeholder:
        out["placeholder"] = _text(field.placeholder, PLACEHOLDER_MAX)
    return out


def view(form: Form, private_metadata: str, values: Sequence[FieldValue] = ()) -> dict[str, Any]:
    """The form as a modal view (``views.open``), filled in with ``values`` (the core's
    :attr:`~bot.reply.Reply.form_values`) when given."""
    current = {v.name: v for v in values}
    return {
        "type": "modal",
        "callback_id": callback_id(form),
        "title": _text(form.title, 24),
        "submit": _text(form.submit, 24),
        "close": _text("Cancel", 24),
        "private_metadata": private_metadata,
        "blocks": [
            {
                "type": "input",
                "block_id": field.name,
                "label": _text(field.label, 2000),
                "optional": not field.required,
                "element": element(form, field, current.get(field.name)),
            }
            for field in form.fields
        ],
    }


def notice(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (a refused submission's answer, ``response_action: update``)."""
    return {
        "type": "modal",
        "title": _text(title, 24),
        "close": _text("Close", 24),
        "blocks": [{"type": "section", "text": _text(text, 3000)}],
    }


def values(form: Form, state: Any, blocks: Any = None) -> dict[str, str] | None:
    """The submitted values by field name (multi selects joined with commas), from a view's
    ``state.values``; None when a block or action is not one of this form's. An empty field is
    left out (the command keeps what the profile had), unless the view showed it filled in
    (``blocks``, the submitted view's own, say so): the member emptied it, so it is sent as ``""``
    and clears an optional field (a bio); the core refuses an empty required one."""
    if not isinstance(state, dict):
        return None
    shown = _filled_in(blocks)
    out: dict[str, str] = {}
    for block_id, actions in state.items():
        field = form.field(str(block_id))
        if field is None or not isinstance(actions, dict) or set(actions) != {action_id(form, field)}:
            return None
        got = actions[action_id(form, field)]
        if not isinstance(got, dict):
            return None
        if field.kind == "multi_select":
            chosen = got.get("selected_options") or []
            if not isinstance(chosen, list):
                return None
            value = ",".join(str(o.get("value", "")) for o in chosen if isinstance(o, dict))
        elif field.kind == "select":
            chosen = got.get("selected_option")
            value = str(chosen.get("value", "")) if isinstance(chosen, dict) else ""
        else:
            value = str(got.get("value") or "")
        if value.strip():
            out[field.name] = value
        elif field.name in shown:
            out[field.name] = ""
    return out


def _filled_in(blocks: Any) -> set[str]:
    """The block ids of a view's inputs that opened with a value (``initial_*``)."""
    if not isinstance(blocks, list):
        return set()
    initial = ("initial_value", "initial_option", "initial_options")
    return {
        str(block.get("block_id"))
        for block in blocks
        if isinstance(block, dict)
        and isinstance(block.get("element"), dict)
        and any(block["element"].get(key) for key in initial)
    }


def suggestions(kb: KnowledgeBase, field: FormField, query: str) -> list[dict[str, Any]]:
    """The options of a ``multi_external_select`` for what the user typed: knowledge of the field's
    kinds, each as ``kind:id`` (a reference the command accepts). A knowledge id is a slug of at
    most 48 characters (:data:`bot.knowledge.schema.Slug`) and a kind a short word, so every value
    is well within Slack's :data:`OPTION_VALUE_MAX`."""
    if field.kind != "multi_select" or not query.strip():
        return []
    kinds = as_kinds(field.entity)
    out = []
    for label, entry_id in kb.autocomplete(kinds, query[:100])[:OPTIONS_MAX]:
        kind = next((k for k in kinds if entry_id in kb.entries.get(k, {})), None)
        out.append(_option(f"{kind}:{entry_id}" if kind else entry_id, label or entry_id))
    return out
