"""Forms, declared once in the core and rendered by each adapter (a Slack modal, a Discord modal), as
replies are: a form names its fields, their kinds and limits, and the command a submission runs.

Declarations are checked at import against the stricter of the platforms' documented limits, so a
form that one platform could not show fails the build, not a user's click:

- Discord modals: at most 5 components, a title of at most 45 characters, labels of at most 45,
  text inputs of at most 4,000 characters, placeholders of at most 100.
- Slack modals: a title of at most 24 characters, a submit label of at most 24, labels of at most 2,000,
  ``plain_text_input`` of at most 3,000 characters, ``multi_*_select`` with at most 100 options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.errors import DeclarationError

FieldKind = Literal["text", "paragraph", "select", "multi_select"]

FIELDS_MAX = 5
TITLE_MAX = 24
LABEL_MAX = 45
PLACEHOLDER_MAX = 100
TEXT_MAX = 3000
CHOICES_MAX = 25
"""Discord's select menus hold at most 25 options (Slack's 100)."""
CHOICE_VALUE_MAX = 100
CHOICE_LABEL_MAX = 75
ITEMS_MAX = 25
_ID = re.compile(r"[a-z][a-z0-9-]{0,39}")


@dataclass(frozen=True, kw_only=True, slots=True)
class FormField:
    name: str
    """The command option the value goes to."""
    label: str
    kind: FieldKind = "text"
    required: bool = False
    max_length: int = 100
    placeholder: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    """``(value, label)`` for a ``select``."""
    entity: tuple[str, ...] = ()
    """For a ``multi_select``: the knowledge kinds its options come from (searched as the user types)."""
    max_items: int = 10

    def __post_init__(self) -> None:
        where = f"form field {self.name!r}"
        if not _ID.fullmatch(self.name):
            raise DeclarationError(f"{where}: a name is lowercase letters, digits and '-'")
        if not 1 <= len(self.label) <= LABEL_MAX:
            raise DeclarationError(f"{where}: a label is 1-{LABEL_MAX} characters")
        if len(self.placeholder) > PLACEHOLDER_MAX:
            raise DeclarationError(f"{where}: a placeholder is at most {PLACEHOLDER_MAX} characters")
        if not 1 <= self.max_length <= TEXT_MAX:
            raise DeclarationError(f"{where}: max_length is 1-{TEXT_MAX}")
        if self.kind == "select" and not 1 <= len(self.choices) <= CHOICES_MAX:
            raise DeclarationError(f"{where}: a select has 1-{CHOICES_MAX} choices")
        if self.kind != "select" and self.choices:
            raise DeclarationError(f"{where}: only a select has choices")
        if self.kind == "multi_select" and not self.entity:
            raise DeclarationError(f"{where}: a multi_select names the knowledge kinds it offers")
        if not 1 <= self.max_items <= ITEMS_MAX:
            raise DeclarationError(f"{where}: max_items is 1-{ITEMS_MAX}")
        for value, label in self.choices:
            if not (1 <= len(value) <= CHOICE_VALUE_MAX and 1 <= len(label) <= CHOICE_LABEL_MAX):
                raise DeclarationError(f"{where}: a choice is a value of 1-100 and a label of 1-75 characters")


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldValue:
    """One field's current value, for an adapter to show the form filled in (an existing profile).
    Made by :meth:`Form.filled`, which keeps only what the field could hold and submit back."""

    name: str
    text: str = ""
    """A ``text`` or ``paragraph`` field's text; a ``select``'s or ``multi_select``'s chosen values
    joined with commas, as a submission carries them."""
    chosen: tuple[tuple[str, str], ...] = ()
    """A ``select``'s or ``multi_select``'s chosen options as ``(value, label)``, in order."""

    def made(self, safe: Callable[[str, int], str]) -> FieldValue:
        """The same value with every string passed through ``safe(text, limit)`` (the reply's
        :func:`~bot.safety.inert`, which never changes text that is already inert)."""
        chosen = tuple((safe(value, CHOICE_VALUE_MAX), safe(label, CHOICE_LABEL_MAX)) for value, label in self.chosen)
        return FieldValue(name=safe(self.name, 40), text=safe(self.text, TEXT_MAX), chosen=chosen)


@dataclass(frozen=True, kw_only=True, slots=True)
class Form:
    id: str
    """Stable across releases: adapters put it in the modal's callback id."""
    title: str
    submit: str
    command: str
    """The command a submission runs, with the fields as its options plus :attr:`fixed`."""
    fixed: tuple[tuple[str, str], ...] = ()
    fields: tuple[FormField, ...] = ()

    def __post_init__(self) -> None:
        where = f"form {self.id!r}"
        if not _ID.fullmatch(self.id):
            raise DeclarationError(f"{where}: an id is lowercase letters, digits and '-'")
        if not 1 <= len(self.title) <= TITLE_MAX or not 1 <= len(self.submit) <= TITLE_MAX:
            raise DeclarationError(f"{where}: a title and a submit label are 1-{TITLE_MAX} characters")
        if not 1 <= len(self.fields) <= FIELDS_MAX:
            raise DeclarationError(f"{where}: a form has 1-{FIELDS_MAX} fields")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise DeclarationError(f"{where}: two fields share a name")

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)

    def filled(self, values: Mapping[str, str | Sequence[tuple[str, str]]]) -> tuple[FieldValue, ...]:
        """The fields' current values, in the form's order, for :attr:`bot.reply.Reply.form_values`:
        a text as it is; a ``select``'s value (one of its choices, labelled as declared); a
        ``multi_select``'s ``(value, label)`` pairs. What a field could not hold or submit back is
        left out rather than cut, so opening and saving the form never changes a value unasked: a
        text over ``max_length``, a value not among a select's choices, an item over
        :data:`CHOICE_VALUE_MAX`, items beyond ``max_items``. Naming a field the form lacks raises."""
        unknown = sorted(set(values) - {f.name for f in self.fields})
        if unknown:
            raise DeclarationError(f"form {self.id!r} has no field {unknown[0]!r}")
        out: list[FieldValue] = []
        for field in self.fields:
            given = values.get(field.name)
            if given is None:
                continue
            if field.kind in ("text", "paragraph"):
                text = str(given)
                if text and len(text) <= field.max_length:
                    out.append(FieldValue(name=field.name, text=text))
                continue
            if isinstance(given, str):
                labels = dict(field.choices)
                pairs = [(given, labels[given])] if given in labels else []
            else:
                pairs = [(v, label or v) for v, label in given if 1 <= len(v) <= CHOICE_VALUE_MAX and "," not in v]
            pairs = pairs[: 1 if field.kind == "select" else field.max_items]
            if pairs:
                chosen = tuple((v, label[:CHOICE_LABEL_MAX]) for v, label in pairs)
                out.append(FieldValue(name=field.name, text=",".join(v for v, _ in chosen), chosen=chosen))
        return tuple(out)
