"""More of the console: the interactive chat (banner, prompt, blank lines, Ctrl-D and Ctrl-C, wrapping to
the terminal, the readline history kept across sessions, a history place that cannot be written), the
one-line rendering of a bare reply, and the console poster's crash look-up."""

from __future__ import annotations

import asyncio
import io
import readline
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.console import ConsolePoster, chat, render_line, render_text
from bot.core import Core
from bot.reply import Reply
from bot.schedule.posting import Post

BANNER = "careerbot: ask about healthcare software careers. /career lists commands; quit exits."


class Terminal(io.StringIO):
    """Standard input that is a terminal (what is typed comes through ``input()``, scripted below)."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def history() -> Iterator[None]:
    """readline's history is one per process: start and end each test with it empty."""
    readline.clear_history()
    yield
    readline.clear_history()


def typing(monkeypatch: pytest.MonkeyPatch, *lines: str | type[BaseException]) -> list[str]:
    """``input()`` answers ``lines`` in turn (an exception class is raised, as Ctrl-D or Ctrl-C do);
    each line typed is recorded in readline's history, as readline does at a terminal. Returns the
    prompts shown."""
    script = list(lines)
    prompts: list[str] = []

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        step = script.pop(0)
        if isinstance(step, str):
            if step:
                readline.add_history(step)
            return step
        raise step

    monkeypatch.setattr("builtins.input", fake_input)
    return prompts


def rendered(core: Core, text: str, width: int | None = None) -> str:
    """What the chat prints for ``text``: the reply as terminal text and a blank line."""
    reply = asyncio.run(core.ask(text, platform="console", admin=True))
    return render_text(reply, width=width) + "\n\n"


def test_an_interactive_chat_keeps_its_history_across_sessions(
    core: Core, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, history: None
) -> None:
    monkeypatch.setenv("CAREERBOT_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "40")
    first = io.StringIO()
    prompts = typing(monkeypatch, "/role ehr", "", EOFError)
    chat(core, stdin=Terminal(), stdout=first)
    text = first.getvalue()
    assert prompts == ["you> "] * 3  # a blank line is skipped, Ctrl-D ends the session
    assert text == f"{BANNER}\n{rendered(core, '/role ehr', width=40)}"  # wrapped to the terminal's width
    assert all(len(line) <= 40 for line in text.splitlines()[1:])
    saved = tmp_path / "state" / "chat_history"
    assert saved.read_text().splitlines() == ["/role ehr"]

    readline.clear_history()  # a new process
    second = io.StringIO()
    typing(monkeypatch, "/standard fhir", KeyboardInterrupt)  # Ctrl-C at the prompt ends it too
    chat(core, stdin=Terminal(), stdout=second)
    assert second.getvalue() == f"{BANNER}\n{rendered(core, '/standard fhir', width=40)}"
    assert saved.read_text().splitlines() == ["/role ehr", "/standard fhir"]  # read back, then added to


def test_a_history_that_cannot_be_kept_does_not_stop_the_chat(
    core: Core, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, history: None
) -> None:
    blocked = tmp_path / "state"
    blocked.write_text("a file where the state directory should be")
    monkeypatch.setenv("CAREERBOT_DATA_DIR", str(blocked))
    monkeypatch.setenv("COLUMNS", "200")
    out = io.StringIO()
    typing(monkeypatch, "/role ehr", "quit", "/standard fhir")
    chat(core, stdin=Terminal(), stdout=out)
    # quit ended the session before /standard fhir; a wide terminal is wrapped at 100 columns
    assert out.getvalue() == f"{BANNER}\n{rendered(core, '/role ehr', width=100)}"
    assert blocked.read_text() == "a file where the state directory should be"


def test_piped_blank_lines_are_skipped(core: Core, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CAREERBOT_DATA_DIR", str(tmp_path))
    out = io.StringIO()
    chat(core, stdin=io.StringIO("\n   \n/standard fhir\n\n"), stdout=out)
    assert out.getvalue() == rendered(core, "/standard fhir")  # no banner, no wrapping, one answer
    assert not (tmp_path / "chat_history").exists()  # no history for piped input


def test_a_bare_reply_is_its_title_on_one_line() -> None:
    assert render_line(Reply(title="Nothing found")) == "Nothing found"
    assert render_line(Reply(title="Paused", footer="Resume with /tips resume.")) == (
        "Paused | Resume with /tips resume."
    )


async def test_the_console_keeps_no_record_to_find_a_post_by() -> None:
    """After a crash the scheduler asks whether a post went out; the console cannot tell, so it is
    printed again (a console has no history to search)."""
    out = io.StringIO()
    poster = ConsolePoster(out)
    post = Post(
        tenant="console", channel="general", reply=Reply(title="Tip of the day"), key="k" * 25, due_at=1_740_000_000
    )
    assert await poster.post(post) == f"console-{'k' * 25}"
    assert await poster.find(post) is None
    assert "── #general (due 2025-02-19T21:20:00+00:00) ──" in out.getvalue()
    assert poster.posted == 1
