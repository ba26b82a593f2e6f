"""The checks the renderer is held to (``problems``: the limits Slack enforces that slack_sdk does
not check), each shown to catch its own violation; picker action ids read back; and a log call
whose arguments do not fit its format still makes one line, not a logging error."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from adapters.slack_bot.logs import log
from adapters.slack_bot.render import Message, parse_pick, problems

OK_TEXT = {"type": "mrkdwn", "text": "fine"}


def section(**extra: Any) -> dict[str, Any]:
    return {"type": "section", **extra}


BROKEN: dict[str, tuple[Message, list[str]]] = {
    "empty-text": (Message(text="  ", blocks=[section(text=OK_TEXT)]), ["top-level text is empty"]),
    "too-many-blocks": (Message(text="t", blocks=[section(text=OK_TEXT)] * 51), ["51 blocks > 50"]),
    "too-much-text": (
        Message(text="t", blocks=[section(text={"type": "mrkdwn", "text": "x" * 2900})] * 4),
        ["11600 characters of block text > 11000"],
    ),
    "a-mrkdwn-header": (
        Message(text="t", blocks=[{"type": "header", "text": OK_TEXT}]),
        ["block 0: header text must be plain_text"],
    ),
    "a-section-of-nothing": (Message(text="t", blocks=[section()]), ["block 0: section without text or fields"]),
    "eleven-fields": (Message(text="t", blocks=[section(fields=[OK_TEXT] * 11)]), ["block 0: 11 fields > 10"]),
    "a-long-field": (
        Message(text="t", blocks=[section(fields=[{"type": "mrkdwn", "text": "x" * 2001}])]),
        ["block 0: field over 2000"],
    ),
    "eleven-context-elements": (
        Message(text="t", blocks=[{"type": "context", "elements": [OK_TEXT] * 11}]),
        ["block 0: 11 context elements > 10"],
    ),
    "a-repeated-action-id": (
        Message(
            text="t",
            blocks=[{"type": "actions", "elements": [{"type": "button", "action_id": "a"}] * 2}],
        ),
        ["block 0: repeated action_id"],
    ),
    "an-empty-text": (
        Message(text="t", blocks=[section(text={"type": "mrkdwn", "text": " "})]),
        ["an empty text object"],
    ),
    "a-live-mention": (
        Message(text="hi <!channel>", blocks=[section(text={"type": "mrkdwn", "text": "ping @here"})]),
        ["a mention token survived: 'hi <!channel>'", "a mention token survived: 'ping @here'"],
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_each_limit_slack_enforces_is_caught(case: str) -> None:
    message, expected = BROKEN[case]
    assert problems(message) == expected


def test_a_valid_message_has_no_problems() -> None:
    title = {"type": "header", "text": {"type": "plain_text", "text": "h"}}
    assert problems(Message(text="t", blocks=[title, section(text=OK_TEXT)])) == []


def test_a_picker_action_id_is_read_back_only_when_it_is_one() -> None:
    assert parse_pick("cb_pick:role:query") == ("role", "query")
    for other in ("cb_pick:role", "cb_pick:role:query:x", "cb_pick::query", "cb_pick:role:", "cb_run:role:query", ""):
        assert parse_pick(other) is None, other


def test_a_log_call_whose_arguments_do_not_fit_is_still_one_line(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.WARNING, logger="careerbot.slack"):
        log.warning("slack: %s failed for %s\nforged line", "users.info")  # one argument short
    (record,) = caplog.records
    assert record.getMessage() == "slack: %s failed for %s\\nforged line"
    assert "Logging error" not in capsys.readouterr().err
