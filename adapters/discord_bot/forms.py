"""The core's forms (:mod:`bot.forms`) as Discord modals, and their submissions read back.

A ``select`` is a string select inside a ``Label``; a ``multi_select`` (knowledge references, possibly
more than Discord's 25 options, and modals have no autocomplete) is a short text input taking
comma-separated values; ``text`` and ``paragraph`` are text inputs. The modal's ``custom_id`` is
``cb_form:<form id>`` and each component's is its field's name, so a submission is read from the raw
interaction data (also after a restart) and anything else in it is refused as forged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import discord

from bot.forms import Form, FormField
from bot.knowledge.kb import KnowledgeBase
from bot.mentoring import forms as mentoring_forms
from bot.registry import FORMS

PREFIX = "cb_form:"
COMPONENTS_MAX = 5
TEXT_INPUT_MAX = 4000
ITEM_CHARS = 100
"""Room per comma-separated item of a ``multi_select`` typed as text."""
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

    def __init__(self, form: Form) -> None:
        super().__init__(title=form.title, custom_id=custom_id(form), timeout=None)
        for field in form.fields[:COMPONENTS_MAX]:
            self.add_item(discord.ui.Label(text=field.label, component=_component(field)))


def custom_id(form: Form) -> str:
    return f"{PREFIX}{form.id}"[:100]


def _component(field: FormField) -> discord.ui.Item[FormModal]:
    placeholder = field.placeholder or None
    if field.kind == "select":
        options = [discord.SelectOption(label=label, value=value) for value, label in field.choices]
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
            required=field.required,
            max_length=min(TEXT_INPUT_MAX, max(field.max_length, field.max_items * ITEM_CHARS)),
        )
    style = discord.TextStyle.paragraph if field.kind == "paragraph" else discord.TextStyle.short
    return discord.ui.TextInput(
        custom_id=field.name,
        style=style,
        placeholder=placeholder,
        required=field.required,
        max_length=min(TEXT_INPUT_MAX, field.max_length),
    )


def modal(form: Form) -> FormModal:
    """The modal for ``form``: not tracked by discord.py (the app reads the submission itself)."""
    shown = FormModal(form)
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
    """The command's options, as a slash command would carry them: the form's fixed options and
    each field that was filled in (Discord sends no empty option)."""
    filled = {name: value.strip() for name, value in submission.values.items() if value.strip()}
    return dict(submission.form.fixed) | filled
