"""The core's forms (:mod:`bot.forms`) as Discord modals, and their submissions read back.

A ``select`` is a string select inside a ``Label``; a ``multi_select`` (knowledge references, possibly
more than Discord's 25 options, and modals have no autocomplete) is a short text input taking
comma-separated values; ``text`` and ``paragraph`` are text inputs. A modal opens filled in with
the member's values (selected options, text input defaults) when the core gives them. The modal's ``custom_id`` is
``cb_form:<form id>`` and each component's is its field's name, so a submission is read from the raw
interaction data (also after a restart) and anything else in it is refused as forged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import discord

from bot.forms import FieldValue, Form, FormField
from bot.knowledge.kb import KnowledgeBase
from bot.mentoring import forms as mentoring_forms
from bot.registry import FORMS

PREFIX = "cb_form:"
COMPONENTS_MAX = 5
TEXT_INPUT_MAX = 4000
ITEM_CHARS = 100
"""Room per comma-separated item of a ``multi_select`` typed as text (and its ``", "``)."""
ITEM_SEPARATOR = ", "
VALUE_MAX = 4000
"""No component of a real modal carries more (Discord's text input limit)."""

FieldErrors = Callable[[KnowledgeBase, Mapping[str, str]], dict[str, str]]
CHECKS: dict[str, FieldErrors] = {mentoring_forms.PROFILE.id: mentoring_forms.field_errors}
"""Each form's own checks (the same as its command's), by form id."""


class Forged(Exception):
    """A submission careerbot's modal could not have produced."""


class FormModal(discord.ui.Modal):
    """A form as a modal. Submissions are handled from the raw interaction by the app (see
    :func:`read`), not by this object, so they work after a restart and for any member."""

    def __init__(self, form: Form, values: Sequence[FieldValue] = ()) -> None:
        super().__init__(title=form.title, custom_id=custom_id(form), timeout=None)
        current = {v.name: v for v in values}
        for field in form.fields[:COMPONENTS_MAX]:
            self.add_item(discord.ui.Label(text=field.label, component=_component(field, current.get(field.name))))


def custom_id(form: Form) -> str:
    return f"{PREFIX}{form.id}"[:100]


def text_max(field: FormField) -> int:
    """The ``max_length`` of a field's text input: a ``multi_select``'s has room for its items."""
    if field.kind == "multi_select":
        return min(TEXT_INPUT_MAX, max(field.max_length, field.max_items * (ITEM_CHARS + len(ITEM_SEPARATOR))))
    return min(TEXT_INPUT_MAX, field.max_length)


def default_text(field: FormField, current: FieldValue | None) -> str | None:
    """What a text input shows filled in: the text, or a ``multi_select``'s values joined with
    :data:`ITEM_SEPARATOR`; None when there is none or it would not fit (never cut: a cut value
    would be saved as something else)."""
    if current is None:
        return None
    text = ITEM_SEPARATOR.join(v for v, _ in current.chosen) if field.kind == "multi_select" else current.text
    return text if text and len(text) <= text_max(field) else None


def _component(field: FormField, current: FieldValue | None = None) -> discord.ui.Item[FormModal]:
    """A field's input, showing ``current`` (the member's value) if given: a select's option marked
    ``default``, a text input's ``default``."""
    placeholder = field.placeholder or None
    if field.kind == "select":
        picked = {v for v, _ in current.chosen} if current is not None else set()
        options = [
            discord.SelectOption(label=label, value=value, default=value in picked) for value, label in field.choices
        ]
        return discord.ui.Select(
            custom_id=field.name,
            options=options,
            placeholder=placeholder,
            min_values=1 if field.required else 0,
            max_values=1,
            required=field.required,
        )
    if field.kind == "multi_select":
        return discord.ui.TextInput(
            custom_id=field.name,
            style=discord.TextStyle.short,
            placeholder=placeholder or "Comma-separated",
            default=default_text(field, current),
            required=field.required,
            max_length=text_max(field),
        )
    style = discord.TextStyle.paragraph if field.kind == "paragraph" else discord.TextStyle.short
    return discord.ui.TextInput(
        custom_id=field.name,
        style=style,
        placeholder=placeholder,
        default=default_text(field, current),
        required=field.required,
        max_length=text_max(field),
    )


def modal(form: Form, values: Sequence[FieldValue] = ()) -> FormModal:
    """The modal for ``form``, filled in with ``values`` (the core's
    :attr:`~bot.reply.Reply.form_values`): not tracked by discord.py (the app reads the submission)."""
    shown = FormModal(form, values)
    shown.stop()  # a stopped modal is not stored, so discord.py's own dispatch never answers it
    return shown


def by_id(form_id: str) -> Form | None:
    return FORMS.get(form_id)


def form_for(custom_id: object) -> Form | None:
    if not isinstance(custom_id, str) or not custom_id.startswith(PREFIX):
        return None
    return FORMS.get(custom_id.removeprefix(PREFIX))


@dataclass(frozen=True, slots=True)
class Submission:
    form: Form
    values: dict[str, str]


def _leaves(components: object, depth: int = 0) -> list[Mapping[str, object]]:
    """The input components of a modal submission: inside labels (``component``) or action rows
    (``components``, the older layout)."""
    if not isinstance(components, list) or depth > 2 or len(components) > COMPONENTS_MAX:
        raise Forged("too many components")
    out: list[Mapping[str, object]] = []
    for node in components:
        if not isinstance(node, Mapping):
            raise Forged("a component is not an object")
        if isinstance(node.get("component"), Mapping):
            out.append(node["component"])
        elif "components" in node:
            out += _leaves(node.get("components"), depth + 1)
        else:
            out.append(node)
    return out


def read(data: Mapping[str, object]) -> Submission:
    """The form and the values of a modal submission's ``data``; :class:`Forged` if careerbot's modal
    could not have sent it (unknown form or field, a field twice, a value of the wrong type or size)."""
    form = form_for(data.get("custom_id"))
    if form is None:
        raise Forged("unknown form")
    values: dict[str, str] = {}
    for leaf in _leaves(data.get("components")):
        name = leaf.get("custom_id")
        field = form.field(name) if isinstance(name, str) else None
        if field is None or field.name in values:
            raise Forged("unknown field")
        if field.kind == "select":
            chosen = leaf.get("values", [])
            if not isinstance(chosen, list) or len(chosen) > 1 or not all(isinstance(v, str) for v in chosen):
                raise Forged("a select value of the wrong type")
            value = chosen[0] if chosen else ""
        else:
            raw = leaf.get("value", "")
            if not isinstance(raw, str):
                raise Forged("a text value of the wrong type")
            value = raw
        if len(value) > VALUE_MAX:
            raise Forged("a value longer than a modal allows")
        values[field.name] = value
    return Submission(form, values)


def errors(kb: KnowledgeBase, submission: Submission) -> list[str]:
    """One line per refused field, naming it by its label (Discord cannot mark a field in a modal)."""
    check = CHECKS.get(submission.form.id)
    found = check(kb, submission.values) if check is not None else {}
    lines = []
    for name, message in found.items():
        field = submission.form.field(name)
        lines.append(f"{field.label if field else 'Unknown field'}: {message}")
    return lines


def options(submission: Submission) -> dict[str, str]:
    """The command's options: the form's fixed options and each field as submitted. The modal
    opened filled in with the member's values, so an optional field sent empty was emptied and is
    passed as ``""`` (it clears a bio); an empty required one was refused by :func:`errors` first."""
    form = submission.form
    given: dict[str, str] = {}
    for name, value in submission.values.items():
        field = form.field(name)
        if value.strip() or (field is not None and not field.required):
            given[name] = value.strip()
    return dict(form.fixed) | given
