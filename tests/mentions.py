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


#: Inputs that try to ping: every token above, look-alikes, and tokens hidden by control characters.
HOSTILE_MENTIONS = [
    "@everyone",
    "@here",
    "@channel",
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S123>",
    "<!subteam^S1|@team>",
    "<@U123ABC>",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&987654321>",
    "<#C0123>",
    "<#C123|general>",
    "＠everyone",  # full-width at sign
    "@\x00everyone",  # a control character hiding the token
    "<\u202e@U1>",
    "hi @EVERYONE and @Here",
]
