"""The words of ``/mentoring``: which action and options a request names, and the checks every value
passes before anything is written. A value that is too long is refused (never cut), control
characters are refused, and anything echoed back goes through :func:`one_line`.

Typed (Slack, the console, buttons): ``/mentoring ACTION [STEP...] name:value ...``. A plain word
after ``name:value`` continues that value (``knows:fhir sql``, ``every:2 weeks``), and everything
after ``bio:`` is the bio. Leading plain words fill the action's positional slots
(:data:`POSITIONAL`): ``/mentoring checkin met 42``, ``/mentoring block U123``, ``/mentoring snooze
2w``. On Discord each option arrives by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.commands import Invocation, Option, OptionValue
from bot.errors import CommandError
from bot.fuzzy import suggest
from bot.knowledge.loader import normalize
from bot.mentoring import messages as say
from bot.safety import inert, one_line
from bot.schedule.rules import parse_days

if TYPE_CHECKING:
    from bot.knowledge.kb import KnowledgeBase

ACTIONS = tuple("status program join profile leave snooze resume forget-me block unblock checkin".split())
ACTION_ALIASES = {"forget": "forget-me", "forgetme": "forget-me", "check-in": "checkin", "unsnooze": "resume"}
PROGRAM_STEPS = ("create", "pause", "resume", "end", "status", "report")
ANSWERS = {"met": "met", "not-yet": "not_yet", "not_yet": "not_yet", "notyet": "not_yet", "no": "no"}
STEPS = (*PROGRAM_STEPS, "met", "not-yet", "no")
CREATE = ("kind", "size", "every", "day", "time", "timezone", "repeat", "checkin")
PROFILE = ("role", "knows", "wants", "timezone", "bio", "capacity")
OPTIONS = ("action", "step", *CREATE, "csv", "role", "knows", "wants", "bio", "capacity", "until", "user", "group")
TAKES: dict[str, tuple[str, ...]] = {"program create": CREATE, "program report": ("csv",), "snooze": ("until",)}
TAKES |= {"checkin": ("group",), "join": PROFILE, "profile": PROFILE, "block": ("user",), "unblock": ("user",)}
"""The options each action (``program`` with its step) takes besides ``action`` and ``step``."""
POSITIONAL = {"program": ("step",), "checkin": ("step", "group"), "snooze": ("until",), "join": ("role",)}
POSITIONAL |= {"profile": ("role",), "block": ("user",), "unblock": ("user",)}
"""Where leading plain words go, in order, for each action."""
SELF_ONLY = frozenset({"join", "profile", "leave", "snooze", "resume", "forget-me", "checkin", "status"})
"""Actions about the caller alone: a ``user`` given to them is someone trying to act for another."""
LIMITS = dict.fromkeys(OPTIONS, 20) | {"timezone": 64, "every": 30, "user": 120, "group": 30}
LIMITS |= {"knows": 1000, "wants": 1000, "bio": 1000}  # the bio's own, clearer limit (BIO_MAX) comes later
"""The longest value each option takes as typed; a longer one is refused, never cut."""
INTEREST_KINDS = ("skill", "standard", "compliance", "role")
"""What ``knows`` and ``wants`` name, in the order a word found in several kinds is taken as."""
INTERESTS_MAX = 10
BIO_MAX = 200
SNOOZE_WEEKS_MAX = 26
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Control and direction-changing characters: refused anywhere (tabs and line ends are spaces)."""
_BIO = re.compile(r"(?:^|\s)bio:", re.IGNORECASE)
_USER_MENTION = re.compile(r"<@!?(?P<id>[A-Za-z0-9]{1,64})(?:\|[^<>]{0,100})?>")
_USER_IDS = {"slack": re.compile(r"[UW][A-Z0-9]{1,20}"), "discord": re.compile(r"\d{1,21}")}
_ANY_USER_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_MARKUP = str.maketrans({"*": "\u2217", "`": "\u02cb"})
_LOOSE_UNDERSCORE = re.compile(r"(?<!\w)_|_(?!\w)")


def declared() -> tuple[Option, ...]:
    """The options of ``/mentoring`` as Discord shows them (on Slack they are typed words)."""
    choices = {"action": ACTIONS, "step": STEPS, "kind": ("pairs", "mentor"), "role": ROLES_SHOWN}
    return tuple(
        Option(
            name=name,
            description=say.DESCRIPTIONS[name],
            type="boolean" if name == "csv" else "string",
            choices=choices.get(name, ()),
            max_length=BIO_MAX if name == "bio" else LIMITS[name],
        )
        for name in OPTIONS
    )


def label(option: str) -> str:
    return f"`{option}`"


@dataclass(frozen=True, slots=True)
class Words:
    """One request's action, its step (``program``'s or the check-in answer), and the other options
    as typed (stripped; an empty ``knows``, ``wants`` or ``bio`` means: clear it)."""

    action: str
    step: str | None
    values: dict[str, str]


def read(invocation: Invocation) -> Words:
    """The action and options of a request, checked for shape: known action and step, only the
    options the action takes, none too long, no control characters, nobody else's ``user``."""
    if invocation.text.strip():
        if CONTROL.search(invocation.text):
            raise CommandError(say.CONTROL_TEXT)
        positional, named = split_text(invocation.text)
    else:
        positional, named = [], {k: _as_text(v) for k, v in invocation.options.items() if k in OPTIONS}
    typed = named.pop("action", "") or (positional.pop(0) if positional else "status")
    action = _action(typed)
    for slot in POSITIONAL.get(action, ()):
        if positional and slot not in named:
            named[slot] = positional.pop(0)
    for name, value in named.items():
        if len(value) > LIMITS[name]:
            raise CommandError(say.TOO_LONG.format(option=label(name), length=len(value), limit=LIMITS[name]))
        if CONTROL.search(value):
            raise CommandError(say.CONTROL.format(option=label(name)))
    if positional:
        if action not in say.USAGE:
            raise CommandError(say.TAKES_NOTHING.format(action=action))
        raise CommandError(say.UNCLEAR.format(value=one_line(positional[0], 40), example=say.USAGE[action]))
    if "user" in named and action in SELF_ONLY:
        raise CommandError(say.NOBODY_ELSE.format(action=action))
    step = _step(action, named.pop("step", "").casefold() or None)
    key = f"{action} {step}" if action == "program" else action
    takes = TAKES.get(key, ())
    values = {k: v for k, v in named.items() if v or k in ("knows", "wants", "bio")}
    for name in values:
        if name not in takes:
            if not takes:
                raise CommandError(say.TAKES_NOTHING.format(action=key))
            choices = ", ".join(label(t) for t in takes)
            raise CommandError(say.NOT_TAKEN.format(action=key, option=label(name), takes=choices))
    return Words(action, step, values)


def split_text(text: str) -> tuple[list[str], dict[str, str]]:
    """Typed words as (leading plain words, ``name: value`` options); see the module docstring."""
    named: dict[str, str] = {}
    found = _BIO.search(text)
    if found is not None:
        named["bio"] = " ".join(text[found.end() :].split())
        text = text[: found.start()]
    positional: list[str] = []
    current: str | None = None
    for word in text.split():
        key, sep, value = word.partition(":")
        key = key.casefold()
        if sep and key in OPTIONS:
            if key in named:
                raise CommandError(say.TWICE.format(option=label(key)))
            named[key], current = value, key
        elif current is not None:
            named[current] = f"{named[current]} {word}".strip()
        else:
            positional.append(word)
    return positional, {k: v.strip() for k, v in named.items()}


def _as_text(value: OptionValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _action(typed: str) -> str:
    word = typed.strip().casefold()
    word = ACTION_ALIASES.get(word, word)
    if word not in ACTIONS:
        raise CommandError(say.BAD_ACTION.format(value=one_line(typed, 30), actions=", ".join(ACTIONS)))
    return word


def _step(action: str, step: str | None) -> str | None:
    if action == "program":
        if step is None:
            return "status"
        if step not in PROGRAM_STEPS:
            steps = ", ".join(PROGRAM_STEPS)
            raise CommandError(say.BAD_STEP.format(value=one_line(step, 30), action=action, steps=steps))
        return step
    if action == "checkin":
        if step is None:
            raise CommandError(say.NEEDS_ANSWER)
        if step not in ANSWERS:
            steps = "met, not-yet, no"
            raise CommandError(say.BAD_STEP.format(value=one_line(step, 30), action=action, steps=steps))
        return ANSWERS[step]
    if step is not None:
        raise CommandError(say.TAKES_NOTHING.format(action=action))
    return None


# ------------------------------------------------------------------ plain values


def number(values: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    raw = values.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\+?\d{1,6}", raw) or not low <= int(raw) <= high:
        raise CommandError(say.BAD_NUMBER.format(option=label(name), low=low, high=high, value=one_line(raw, 20)))
    return int(raw)


def choice(values: Mapping[str, str], name: str, words: Mapping[str, str]) -> str | None:
    raw = values.get(name)
    if raw is None:
        return None
    found = words.get(raw.casefold())
    if found is None:
        shown = ", ".join(f"`{w}`" for w in dict.fromkeys(words.values()))
        raise CommandError(say.BAD_CHOICE.format(option=label(name), choices=shown, value=one_line(raw, 30)))
    return found


KINDS = {"pairs": "pairs", "pair": "pairs", "peers": "pairs", "peer": "pairs", "mentor": "mentor", "mentors": "mentor"}
ROLES = {"mentor": "mentor", "mentors": "mentor", "mentee": "mentee", "mentees": "mentee", "peer": "peer"}
ROLES |= {"peers": "peer"}
ROLES_SHOWN = ("mentor", "mentee", "peer")
_EVERY_WORDS = {"weekly": 1, "biweekly": 2, "bi-weekly": 2, "fortnightly": 2, "every-other-week": 2}
_EVERY = re.compile(r"(?P<n>\d{1,2})\s*(?:w|wk|wks|week|weeks)?")


def every(raw: str) -> int:
    text = raw.strip().casefold()
    found = _EVERY.fullmatch(text)
    weeks = int(found["n"]) if found else _EVERY_WORDS.get(text, 0)
    if weeks not in (1, 2, 4):
        raise CommandError(say.BAD_EVERY.format(value=one_line(raw, 30)))
    return weeks


def weekday(raw: str) -> int:
    try:
        mask = parse_days(raw)
    except CommandError:
        mask = 0
    if mask == 0 or mask & (mask - 1):
        raise CommandError(say.BAD_DAY.format(value=one_line(raw, 20)))
    return mask.bit_length() - 1


def boolean(values: Mapping[str, str], name: str) -> bool:
    raw = values.get(name)
    if raw is None:
        return False
    word = raw.casefold()
    if word not in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        raise CommandError(say.BAD_BOOLEAN.format(option=label(name), value=one_line(raw, 20)))
    return word in ("true", "yes", "on", "1")


def group_id(raw: str | None) -> int:
    if raw is None:
        raise CommandError(say.NEEDS_GROUP)
    found = re.fullmatch(r"#?(\d{1,18})", raw)
    if found is None or int(found[1]) == 0:
        raise CommandError(say.BAD_GROUP.format(value=one_line(raw, 30)))
    return int(found[1])


def until(raw: str, today: date) -> date:
    """``YYYY-MM-DD`` or ``Nw`` (weeks from today): a local date after today, at most 26 weeks on."""
    text = raw.strip().casefold()
    weeks = re.fullmatch(r"(\d{1,2})\s*(?:w|wk|wks|week|weeks)", text)
    day: date | None = today + timedelta(weeks=int(weeks[1])) if weeks else None
    if day is None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
    if day is None:
        raise CommandError(say.BAD_UNTIL.format(value=one_line(raw, 30)))
    if day <= today:
        raise CommandError(say.PAST_UNTIL.format(until=day.isoformat(), today=today.isoformat()))
    if day > today + timedelta(weeks=SNOOZE_WEEKS_MAX):
        raise CommandError(say.FAR_UNTIL.format(until=day.isoformat(), weeks=SNOOZE_WEEKS_MAX))
    return day


def user_id(raw: str | None, platform: str, action: str) -> str:
    """A person named by a mention (``<@U123>``, ``<@123>``, ``<@!123>``) or a bare user id."""
    if raw is None:
        raise CommandError(say.NEEDS_USER.format(action=action))
    text = raw.strip()
    shown = one_line(text, 40)
    if text.startswith(("<@&", "<!", "<#")) or text.casefold().lstrip("@＠") in ("everyone", "here", "channel"):
        raise CommandError(say.NOT_A_PERSON.format(value=shown))
    found = _USER_MENTION.fullmatch(text)
    candidate = found["id"] if found else text
    if not _USER_IDS.get(platform, _ANY_USER_ID).fullmatch(candidate):
        raise CommandError(say.BAD_USER.format(value=shown))
    return candidate


def bio(raw: str) -> str | None:
    """At most :data:`BIO_MAX` characters as typed (refused, not cut), stored inert: no mention can
    ping and none of the core's markup (bold, italics, code, links) is read as markup."""
    text = " ".join(raw.split())
    if not text:
        return None
    if len(text) > BIO_MAX:
        raise CommandError(say.BIO_TOO_LONG.format(length=len(text), limit=BIO_MAX))
    safe = inert(text, 10 * BIO_MAX).translate(_MARKUP).replace("](", "] (")
    return _LOOSE_UNDERSCORE.sub("\u02cd", safe)


# ------------------------------------------------------------------ knowledge references


@lru_cache(maxsize=4)
def _names(kb: KnowledgeBase) -> dict[str, tuple[str, str]]:
    """Every id, title and alias of :data:`INTEREST_KINDS`, normalized -> (kind, id); the first kind wins."""
    names: dict[str, tuple[str, str]] = {}
    for kind in INTEREST_KINDS:
        for entry in kb.all(kind):  # type: ignore[arg-type]
            for name in (entry.id, getattr(entry, "title", ""), *getattr(entry, "aliases", ())):
                key = normalize(name)
                if key:
                    names.setdefault(key, (kind, entry.id))
    return names


def _one(kb: KnowledgeBase, word: str) -> str | None:
    kind, sep, rest = word.partition(":")
    if sep and kind.strip().casefold() in INTEREST_KINDS:
        wanted = kind.strip().casefold()
        if kb.get(wanted, rest.strip()) is not None:  # type: ignore[arg-type]
            return f"{wanted}:{rest.strip()}"
        hit = kb.lookup(wanted, rest)  # type: ignore[arg-type]
        return f"{wanted}:{hit.best.entry.id}" if hit.best is not None and hit.how in ("id", "alias") else None
    found = _names(kb).get(normalize(word))
    return f"{found[0]}:{found[1]}" if found else None


def _unknown(kb: KnowledgeBase, option: str, word: str) -> CommandError:
    names = _names(kb)
    guess = suggest(normalize(word), names) if normalize(word) else None
    hint = ""
    if guess is not None:
        kind, entry_id = names[guess]
        shown = entry_id if names.get(normalize(entry_id)) == (kind, entry_id) else f"{kind}:{entry_id}"
        hint = say.DID_YOU_MEAN.format(value=shown, title=one_line(kb.title(kind, entry_id), 80))  # type: ignore[arg-type]
    return CommandError(say.UNKNOWN_INTEREST.format(value=one_line(word, 40), option=label(option), hint=hint))


def interests(kb: KnowledgeBase, option: str, raw: str) -> tuple[str, ...]:
    """Comma- or space-separated references to roles, skills, standards and regulations (ids, names,
    aliases, or ``kind:id``) as ``kind:id``; an unknown one is an error with a did-you-mean."""
    if raw.strip().casefold() in ("", "none", "-"):
        return ()
    out: list[str] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        whole = _one(kb, part)
        if whole is not None:
            out.append(whole)
            continue
        words = part.split()
        found = [_one(kb, w) for w in words]
        if len(words) == 1 or all(f is None for f in found):
            raise _unknown(kb, option, part)
        for word, hit in zip(words, found, strict=True):
            if hit is None:
                raise _unknown(kb, option, word)
            out.append(hit)
    unique = tuple(dict.fromkeys(out))
    if len(unique) > INTERESTS_MAX:
        raise CommandError(say.TOO_MANY.format(option=label(option), limit=INTERESTS_MAX, count=len(unique)))
    return unique


def interest_label(kb: KnowledgeBase, ref: str) -> str:
    kind, _, entry_id = ref.partition(":")
    return kb.title(kind, entry_id) if kind in INTEREST_KINDS else ref  # type: ignore[arg-type]


# ------------------------------------------------------------------ what is kept


def check_storable(table: str, values: Mapping[str, str | None]) -> None:
    """Every text kept must fit its column, checked before the write, so both databases refuse alike
    (PostgreSQL enforces ``varchar(n)``; SQLite would keep anything). Imports the store lazily."""
    from bot.mentoring import tables
    from bot.store.engine import too_long

    found = too_long(getattr(tables, table), values)
    if found is not None:
        column, length, limit = found
        if column == "bio":
            raise CommandError(say.BIO_TOO_LONG_SAFE.format(length=length, limit=limit))
        what = say.STORED.get(column, f"The {column}")
        raise CommandError(say.VALUE_TOO_LONG.format(what=what, length=length, limit=limit))
