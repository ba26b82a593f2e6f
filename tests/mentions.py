"""What counts as a live mention on Slack or Discord, for assertions in every adapter's tests."""

from __future__ import annotations

import re

# Broadcasts and references that Slack or Discord would turn into a ping.
LIVE_MENTION = re.compile(
    r"@(everyone|here|channel)"  # Discord broadcast words (Slack ignores these as plain text)
    r"|<!(channel|here|everyone|subteam)"  # Slack special mentions
    r"|<@[!&]?[A-Za-z0-9]+>"  # Slack user <@U123>, Discord user <@123>, <@!123>, role <@&123>
    r"|<#[A-Za-z0-9]+",  # channel references
    re.IGNORECASE,
)


def live_mentions(text: str) -> list[str]:
    return [m.group(0) for m in LIVE_MENTION.finditer(text)]
