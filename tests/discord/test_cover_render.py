"""Rendering at Discord's edges that the random replies rarely reach: a line longer than an embed's
description (cut, never inside an escape), lines that only overflow together, and, for a reply past
the core's own caps (the renderer keeps Discord's limits whatever it is given), a page already
holding ten embeds and more follow-ups than the button rows hold. Each page must be a message
Discord accepts, and nothing the reply says may be lost (only follow-up buttons past the last row)."""

from __future__ import annotations

from typing import Any

from adapters.discord_bot import render
from bot.reply import MAX_FIELDS, MAX_FOLLOW_UPS, Field, FollowUp, Reply, Section
from tests.discord.limits import buttons, check_message, plain
from tests.discord.test_render import all_pages, body


def uncapped(reply: Reply, **parts: Any) -> Reply:
    """``reply`` with ``parts`` set past the core's caps (:data:`bot.reply.MAX_FIELDS` and the
    like), which the renderer must not rely on: Discord's limits are its own to keep."""
    for name, value in parts.items():
        object.__setattr__(reply, name, value)  # frozen and slotted: no __post_init__ runs again
    return reply


def descriptions(pages: list[render.Rendered]) -> list[str]:
    return [e.description or "" for page in pages for e in page.embeds]


def test_one_line_longer_than_a_description_is_cut_across_embeds_never_inside_an_escape() -> None:
    # one line (no line end to split at) of 4,999 characters once escaped: ``a\|\|...``, so a cut at
    # 4,096 would fall between a backslash and the character it escapes
    text = "a" + "|" * 2499
    pages = all_pages(Reply(title="Long", sections=(Section(heading="", text=text),)))
    for page in pages:
        check_message(body(page))
    pieces = descriptions(pages)
    assert [len(p) for p in pieces] == [4095, 904]  # one short of the limit: the lone backslash moved on
    assert pieces[0].endswith("\\|") and pieces[1].startswith("\\|")
    assert plain("".join(pieces)) == text  # the whole line, in order


def test_lines_that_only_overflow_together_are_split_at_the_line_end() -> None:
    first, second = "|" * 1249, "|" * 1250  # 2,498 and 2,500 characters escaped: 4,999 together
    pages = all_pages(Reply(title="Two lines", sections=(Section(heading="", text=f"{first}\n{second}"),)))
    for page in pages:
        check_message(body(page))
    assert [plain(p) for p in descriptions(pages)] == [first, second]  # neither line cut


def test_a_page_holding_ten_embeds_continues_on_the_next_page() -> None:
    fields = tuple(Field(name=f"n{i}", value=f"v{i}") for i in range(260))  # 25 an embed: 10.4 embeds
    assert len(Reply(title="T", fields=fields).fields) == MAX_FIELDS  # the core keeps far fewer
    pages = all_pages(uncapped(Reply(title="Many fields"), fields=fields))
    assert len(pages) == 2 and len(pages[0].embeds) == render.EMBEDS_MAX
    for page in pages:
        check_message(body(page))
    shown = [(f.name, f.value) for page in pages for e in page.embeds for f in e.fields]
    assert shown == [(f.name, f.value) for f in fields]  # every field, in order, none twice
    assert pages[1].embeds[0].title == "Many fields (continued)"
    assert buttons(body(pages[0])) == {"Share in channel": "cb:share:/role ehr", "More (2/2)": "cb:more:1:/role ehr"}


def test_more_follow_ups_than_the_rows_hold_keep_the_first_twenty() -> None:
    follow_ups = tuple(FollowUp(label=f"R{i}", command=f"/role r{i}") for i in range(25))
    assert len(Reply(title="T", follow_ups=follow_ups).follow_ups) == MAX_FOLLOW_UPS
    reply = uncapped(Reply(title="T", summary="s"), follow_ups=follow_ups)
    sent = body(render.render(reply, source="/role ehr"))
    check_message(sent)
    rows = [[b["label"] for b in row["components"]] for row in sent["components"]]
    assert rows[0] == ["Share in channel"]
    assert rows[1:] == [[f"R{i}" for i in range(r, r + 5)] for r in range(0, 20, 5)]  # rows 2-5, full
    assert "R20" not in buttons(sent)
