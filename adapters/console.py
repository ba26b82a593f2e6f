"""The console adapter: terminal text for people, one line or JSON for scripts."""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from pathlib import Path
from typing import TextIO

from bot.core import Core
from bot.markup import PLAIN, Style
from bot.reply import Reply
from bot.schedule.posting import Channel, Post, parse_channel

BOLD = Style(
    escape=lambda s: s,
    bold=lambda s: f"\033[1m{s}\033[0m",
    italic=lambda s: f"\033[3m{s}\033[0m",
    code=lambda s: f"\033[36m{s}\033[0m",
    link=lambda label, url: f"{label} ({url})",
    bullet="  • ",
)
PLAIN_INDENTED = Style(
    escape=PLAIN.escape,
    bold=PLAIN.bold,
    italic=PLAIN.italic,
    code=PLAIN.code,
    link=PLAIN.link,
    bullet="  • ",
)


def use_color(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _wrap(text: str, width: int) -> str:
    """Word-wrap each line; bullet lines keep their continuation under the bullet's text."""
    out = []
    for line in text.splitlines():
        stripped = line.lstrip()
        indent = " " * (len(line) - len(stripped) + (2 if stripped.startswith("• ") else 0))
        out.append(textwrap.fill(line, width, subsequent_indent=indent, break_on_hyphens=False) if line else "")
    return "\n".join(out)


def render_text(reply: Reply, color: bool = False, width: int | None = None) -> str:
    """A reply as readable terminal text, word-wrapped to ``width`` columns when given."""
    if width:
        return _wrap(render_text(reply, color), width)
    style = BOLD if color else PLAIN_INDENTED
    title = style.bold(reply.title)
    out = [title, "─" * min(len(reply.title), 60)]
    if reply.summary:
        out.append(style.convert(reply.summary))
    for section in reply.sections:
        out += ["", style.bold(section.heading), style.convert(section.text)]
    if reply.fields:
        out.append("")
        out += [f"{style.bold(f.name)}: {style.convert(f.value)}" for f in reply.fields]
    if reply.links:
        out.append("")
        out += [f"{link.label}: {link.url}" for link in reply.links]
    if reply.follow_ups:
        out += ["", "Try: " + "  ·  ".join(f.command for f in reply.follow_ups)]
    if reply.footer:
        out += ["", style.italic(reply.footer)]
    return "\n".join(out)


def render_line(reply: Reply) -> str:
    """A reply on one line, for piping: title, summary, then each part separated by ' | '."""
    parts = [reply.title]
    if reply.summary:
        parts.append(PLAIN.convert(reply.summary))
    parts += [f"{s.heading}: {PLAIN.convert(s.text)}" for s in reply.sections]
    parts += [f"{f.name}: {f.value}" for f in reply.fields]
    parts += [f"{link.label}: {link.url}" for link in reply.links]
    if reply.follow_ups:
        parts.append("Try: " + ", ".join(f.command for f in reply.follow_ups))
    if reply.footer:
        parts.append(reply.footer)
    return " | ".join(" ".join(p.split()) for p in parts)


def render_json(reply: Reply) -> str:
    return json.dumps(reply.to_dict(), ensure_ascii=False)


def history_file() -> Path:
    base = os.environ.get("CAREERBOT_DATA_DIR") or os.path.join(Path.home(), ".local", "state", "careerbot")
    return Path(base) / "chat_history"


def chat(core: Core, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Interactive chat. With a terminal: prompt, line editing and history. Piped: answer each line, exit at EOF."""
    import asyncio

    interactive = stdin.isatty()
    color = use_color(stdout)
    hist = history_file()
    if interactive:
        try:
            import readline

            hist.parent.mkdir(parents=True, exist_ok=True)
            if hist.exists():
                readline.read_history_file(hist)
        except (ImportError, OSError):
            pass
        print(
            "careerbot: ask about healthcare software careers. /career lists commands; quit exits.",
            file=stdout,
        )
    with asyncio.Runner() as runner:
        while True:
            try:
                line = input("you> ") if interactive else stdin.readline()
            except (EOFError, KeyboardInterrupt):
                break
            if not interactive and not line:
                break
            text = line.strip()
            if text.casefold() in ("quit", "exit", "/quit", "/exit"):
                break
            if not text:
                continue
            core.reload()
            reply = runner.run(core.ask(text, platform="console", admin=True))  # the operator's own terminal
            width = min(shutil.get_terminal_size().columns, 100) if interactive else None
            print(render_text(reply, color=color, width=width), file=stdout, end="\n\n", flush=True)
        runner.run(core.aclose())
    if interactive:
        try:
            import readline

            readline.write_history_file(hist)
        except (ImportError, OSError):
            pass


class ConsolePoster:
    """Daily tips and mentoring posts on the console: each post is printed (``careerbot tips run``,
    ``careerbot mentoring demo``)."""

    private_groups = True
    """A private group post is printed with whom it is for (there is nobody else to see it)."""

    def __init__(self, stream: TextIO | None = None, *, color: bool = False) -> None:
        self.stream = stream
        self.color = color
        self.posted = 0

    async def check_channel(self, tenant: str, channel: str) -> Channel:
        return parse_channel(channel)

    async def default_timezone(self, tenant: str, user: str) -> str | None:
        return None

    async def post(self, post: Post) -> str:
        from datetime import UTC, datetime

        stream = self.stream or sys.stdout
        when = datetime.fromtimestamp(post.due_at, UTC).isoformat()
        where = f"private to {', '.join(post.audience)} (from #{post.channel})" if post.audience else f"#{post.channel}"
        print(f"── {where} (due {when}) ──", file=stream)
        print(render_text(post.reply, color=self.color), file=stream, end="\n\n", flush=True)
        self.posted += 1
        return f"console-{post.key}"

    async def find(self, post: Post) -> str | None:
        return None
