"""Render a neutral :class:`~bot.reply.Reply` as Discord embeds and buttons, within Discord's limits.

Limits (checked here, since discord.py only checks the embed count): title 256, description 4096,
25 fields of name 256 and value 1024, footer 2048, 6000 characters across a message's embeds,
10 embeds. A reply too long for one message is split across embeds, then across pages: the first
page carries a "More" button that shows the next one. Lengths are counted in UTF-16 code units,
which is never less than Discord's count however it counts.

Buttons carry their command in the ``custom_id`` (:mod:`adapters.buttons`), so they need no state
and keep working on old messages after a restart; ``cb:more:N:/command`` shows page N of a reply,
and ``cb:dm:<guild>:/command`` is a follow-up sent by DM on behalf of a server (a DM has no server).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import NamedTuple

import discord

from adapters import buttons
from bot.markup import Style, parse
from bot.reply import Field, FollowUp, Link, Reply, Section

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
TOTAL_MAX = 6000
EMBEDS_MAX = 10
CONTENT_MAX = 2000
BUTTON_LABEL_MAX = 80
COMPONENTS_PER_ROW = 5
FOLLOW_UP_BUTTONS_MAX = 4 * COMPONENTS_PER_ROW  # rows 2-5; row 1 holds Share and More
CHOICES_MAX = 25
CHOICE_MAX = 100
RENDER_CACHE = 512  # rendered replies kept (the knowledge is finite; a reload brings new content)
FOOTER_KEPT = 1000  # a footer is small print; cutting it here keeps room for a full description

COLOURS = {"answer": 0x2D9C8F, "notice": 0xE5A50A, "error": 0xD64545}
SHARE_LABEL = "Share in channel"
MORE_PREFIX = f"{buttons.PREFIX}:more:"
_MORE = re.compile(rf"{re.escape(MORE_PREFIX)}(?P<page>[1-9][0-9]?):(?P<command>/.+)", re.DOTALL)
DM_PREFIX = f"{buttons.PREFIX}:dm:"
_IN_DM = re.compile(rf"{re.escape(DM_PREFIX)}(?P<guild>[0-9]{{15,21}}):(?P<command>/.+)", re.DOTALL)
_ELLIPSIS = "…"

# ---------------------------------------------------------------------------- text


def dlen(text: str) -> int:
    """Length as Discord may count it: UTF-16 code units (an emoji counts 2), never less than ``len``."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` (UTF-16) characters with a visible ellipsis; never leaves a
    dangling escape backslash at the cut."""
    if dlen(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    while cut and dlen(cut) > limit - 1:
        cut = cut[:-1]
    cut = cut.rstrip()
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    return cut + _ELLIPSIS if limit > 0 else ""


_URL = r"(?:https?|steam)://[^\s<]+[^<.,:;\"'\]\s]"
_INLINE = re.compile(rf"(?P<url>{_URL})|(?P<md>[\\*_~|`\[])")
_LINE_START = re.compile(r"^(\s*)([>#-])")


def escape(text: str) -> str:
    """Literal text safe in Discord markdown: emphasis, code, spoiler, strike and masked-link
    characters are escaped; bare URLs stay intact (Discord links them)."""
    return _INLINE.sub(lambda m: m.group("url") or "\\" + m.group("md"), text)


def escape_line(text: str) -> str:
    """Literal text that starts a line: also defuse quotes, headings and list markers."""
    return _LINE_START.sub(r"\1\\\2", escape(text))


@dataclass(frozen=True, kw_only=True)
class DiscordStyle(Style):
    """The core's markdown subset in Discord's dialect; literal text at a line start is also
    escaped for the block syntax (``>``, ``#``, ``-``) that only applies there."""

    def convert(self, text: str) -> str:
        out = []
        for line in parse(text):
            parts = [self.span(s) for s in line.spans]
            if parts and line.spans[0].kind == "text":
                parts[0] = _LINE_START.sub(r"\1\\\2", parts[0])
            body = "".join(parts)
            out.append(self.bullet + body if line.bullet else body)
        return "\n".join(out)


DISCORD = DiscordStyle(
    escape=escape,
    bold=lambda s: f"**{s}**",
    italic=lambda s: f"*{s}*",
    code=lambda s: f"`{s}`",
    link=lambda label, url: f"[{label}]({url})",
    bullet="- ",
)


def _chunks(text: str, limit: int) -> list[str]:
    """Split at line ends into pieces of at most ``limit``; a longer line is cut hard (not inside an escape)."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while dlen(line) > limit:
            head = line[:limit]
            while dlen(head) > limit or (head.endswith("\\") and (len(head) - len(head.rstrip("\\"))) % 2):
                head = head[:-1]
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
            line = line[len(head) :]
        joined = f"{current}\n{line}" if current else line
        if dlen(joined) > limit:
            pieces.append(current)
            current = line
        else:
            current = joined
    if current.strip():
        pieces.append(current)
    return pieces


# ---------------------------------------------------------------------------- embeds


def _blocks(reply: _Content) -> list[str]:
    blocks = [DISCORD.convert(reply.summary)] if reply.summary.strip() else []
    for section in reply.sections:
        heading = f"**{escape_line(section.heading)}**" if section.heading.strip() else ""
        text = DISCORD.convert(section.text)
        blocks.append("\n".join(p for p in (heading, text) if p.strip()))
    return [c for b in blocks if b.strip() for c in _chunks(b, DESCRIPTION_MAX)]


def _link(label: str, url: str) -> str:
    if re.fullmatch(r"https?://[^\s()<>]+", url) and len(url) <= 512:
        return f"- [{escape(label)}]({url})"
    return f"- {escape(label)}: {escape(url)}"


def _fields(reply: _Content) -> list[tuple[str, str, bool]]:
    out = []
    for f in reply.fields:
        name, value = escape(f.name).strip(), DISCORD.convert(f.value).strip()
        if name and value:  # Discord rejects an empty field name or value
            out.append((fit(name, FIELD_NAME_MAX), fit(value, FIELD_VALUE_MAX), f.inline))
    lines = "\n".join(_link(link.label, link.url) for link in reply.links if link.url.strip())
    for i, chunk in enumerate(_chunks(lines, FIELD_VALUE_MAX)):
        out.append(("Links" if i == 0 else "More links", chunk, False))
    return out


def _page_note(page: int, pages: int, footer: str) -> str:
    if pages == 1:
        return footer
    if page + 1 < pages:
        return f"Page {page + 1}/{pages}: press More for the rest"
    return f"Page {pages}/{pages}" + (f" · {footer}" if footer else "")


class _Content(NamedTuple):
    """What the embeds depend on: hashable (the reply's parts are frozen), so renders are cached."""

    title: str
    summary: str
    sections: tuple[Section, ...]
    fields: tuple[Field, ...]
    links: tuple[Link, ...]
    footer: str
    tone: str


def paginate(reply: Reply) -> list[list[discord.Embed]]:
    """Every page of ``reply``: each a list of at most 10 embeds within all of Discord's limits.

    The same content renders to the same embeds, so they are cached (the embeds are never changed
    after rendering; discord.py only reads them)."""
    content = _Content(reply.title, reply.summary, reply.sections, reply.fields, reply.links, reply.footer, reply.tone)
    return [list(page) for page in _paginate(content)]


@functools.lru_cache(maxsize=RENDER_CACHE)
def _paginate(reply: _Content) -> tuple[tuple[discord.Embed, ...], ...]:
    title = fit(escape(" ".join(reply.title.split())) or "careerbot", TITLE_MAX)
    colour = discord.Colour(COLOURS.get(reply.tone, COLOURS["answer"]))
    footer = fit(" ".join(reply.footer.split()), FOOTER_KEPT)
    budget = TOTAL_MAX - max(dlen(footer) + 20, 60)  # room for the footer or the page note
    pages: list[list[discord.Embed]] = []
    used = 0

    def new_page() -> discord.Embed:
        nonlocal used
        head = title if not pages else fit(f"{title} (continued)", TITLE_MAX)
        pages.append([discord.Embed(title=head, colour=colour)])
        used = dlen(head)
        return pages[-1][0]

    def room(cost: int, fits_embed: bool) -> discord.Embed:
        """The embed to add ``cost`` characters to: the current one, a new one, or a new page."""
        embed = pages[-1][-1] if pages else new_page()
        if used + cost > budget:
            return new_page()
        if not fits_embed:
            if len(pages[-1]) >= EMBEDS_MAX:
                return new_page()
            pages[-1].append(discord.Embed(colour=colour))
            return pages[-1][-1]
        return embed

    for chunk in _blocks(reply):
        current = pages[-1][-1] if pages else new_page()
        sep = "\n\n" if current.description else ""
        fits = not current.fields and dlen(current.description or "") + dlen(sep + chunk) <= DESCRIPTION_MAX
        embed = room(dlen(sep + chunk), fits)
        if embed is not current:
            sep = ""
        embed.description = (embed.description or "") + sep + chunk
        used += dlen(sep + chunk)
    for name, value, inline in _fields(reply):
        current = pages[-1][-1] if pages else new_page()
        embed = room(dlen(name) + dlen(value), len(current.fields) < FIELDS_MAX)
        embed.add_field(name=name, value=value, inline=inline)
        used += dlen(name) + dlen(value)
    if not pages:
        new_page()
    for i, page in enumerate(pages):
        note = _page_note(i, len(pages), footer)
        if note:
            page[-1].set_footer(text=note)
    return tuple(tuple(page) for page in pages)


def more_id(command: str, page: int) -> str | None:
    """The ``custom_id`` of a button that shows ``page`` of ``command``'s reply (None if too long)."""
    custom_id = f"{MORE_PREFIX}{page}:{command}"
    return custom_id if len(custom_id) <= buttons.CUSTOM_ID_MAX and page < 100 else None


def decode(custom_id: str) -> tuple[str, str, int] | None:
    """``(action, command, page)`` for one of our buttons: ``run``, ``share`` or ``more``; else None.
    A DM's follow-up (``cb:dm:<guild>:/command``) is a ``run``; :func:`home_guild` says its server."""
    more = _MORE.fullmatch(custom_id)
    if more:
        return "more", more.group("command"), int(more.group("page"))
    sent = _IN_DM.fullmatch(custom_id)
    if sent:
        return "run", sent.group("command"), 0
    decoded = buttons.decode(custom_id)
    return (decoded[0], decoded[1], 0) if decoded else None


def home_guild(custom_id: str) -> str | None:
    """The server a follow-up sent by DM runs in (a DM has none), or None for any other button."""
    sent = _IN_DM.fullmatch(custom_id)
    return sent.group("guild") if sent else None


# ---------------------------------------------------------------------------- buttons


class Buttons(discord.ui.View):
    """Stateless buttons: each carries its command in its ``custom_id`` and clicks are handled by
    the client's ``on_interaction``, so the library need not keep this view in memory."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_finished(self) -> bool:
        return True


def _button(label: str, custom_id: str, style: discord.ButtonStyle, row: int) -> discord.ui.Button[Buttons]:
    text = fit(" ".join(label.split()), BUTTON_LABEL_MAX) or custom_id.rpartition(":")[2][:BUTTON_LABEL_MAX]
    return discord.ui.Button(label=text, custom_id=custom_id, style=style, row=row)


def view_for(
    reply: Reply, *, source: str | None, shareable: bool, page: int, pages: int, guild: str | None = None
) -> Buttons | None:
    """Row 1: Share (when the reply is private) and More; rows 2-5: the follow-ups (at most 20).
    ``guild``: a DM sent for that server, whose follow-ups run there. Cached like the embeds: a
    view of stateless buttons is only read when a message is sent."""
    return _view(reply.follow_ups, source, shareable, page, pages, guild)


@functools.lru_cache(maxsize=RENDER_CACHE)
def _view(
    follow_ups: tuple[FollowUp, ...],
    source: str | None,
    shareable: bool,
    page: int,
    pages: int,
    guild: str | None = None,
) -> Buttons | None:
    view = Buttons()
    seen: set[str] = set()
    share = buttons.encode("share", source) if source else ""
    if shareable and source and len(f"{buttons.PREFIX}:share:{source}") <= buttons.CUSTOM_ID_MAX:
        view.add_item(_button(SHARE_LABEL, share, discord.ButtonStyle.primary, 0))
        seen.add(share)
    more = more_id(source, page + 1) if source and page + 1 < pages else None
    if more:
        view.add_item(_button(f"More ({page + 2}/{pages})", more, discord.ButtonStyle.secondary, 0))
        seen.add(more)
    count = 0
    for follow_up in follow_ups:
        command = " ".join(follow_up.command.split())
        custom_id = f"{DM_PREFIX}{guild}:{command}" if guild else f"{buttons.PREFIX}:run:{command}"
        if not command.startswith("/") or len(custom_id) > buttons.CUSTOM_ID_MAX or custom_id in seen:
            continue  # a cut command would run something else; a repeated custom_id is rejected
        if count == FOLLOW_UP_BUTTONS_MAX:
            break
        row = 1 + count // COMPONENTS_PER_ROW
        view.add_item(_button(follow_up.label or command, custom_id, discord.ButtonStyle.secondary, row))
        seen.add(custom_id)
        count += 1
    return view if view.children else None


@dataclass(frozen=True, slots=True)
class Rendered:
    embeds: list[discord.Embed]
    view: Buttons | None
    page: int
    pages: int


def render(
    reply: Reply, *, source: str | None = None, shareable: bool = True, page: int = 0, guild: str | None = None
) -> Rendered:
    """One page of ``reply`` (``page`` is clamped) with its buttons. ``source`` is the command that
    reproduces the reply (for Share and More); ``shareable`` is False for replies already public;
    ``guild``: a DM sent on behalf of that server (its follow-ups run there)."""
    pages = paginate(reply)
    page = min(max(page, 0), len(pages) - 1)
    view = view_for(reply, source=source, shareable=shareable, page=page, pages=len(pages), guild=guild)
    return Rendered(embeds=pages[page], view=view, page=page, pages=len(pages))


def choices(pairs: list[tuple[str, str]]) -> list[discord.app_commands.Choice[str]]:
    """Autocomplete results within Discord's limits: at most 25, names 1-100, values at most 100."""
    out: list[discord.app_commands.Choice[str]] = []
    for label, value in pairs:
        name = fit(" ".join(label.split()), CHOICE_MAX) or value[:CHOICE_MAX]
        if name and value and len(value) <= CHOICE_MAX:
            out.append(discord.app_commands.Choice(name=name, value=value))
        if len(out) == CHOICES_MAX:
            break
    return out
