"""One short line per log record from the Slack adapter, Bolt and aiohttp's server: no request
body, no line breaks, no tracebacks for what a client sent; refusals throttled."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

log = logging.getLogger("careerbot.slack")
#: Lines about HTTP requests and connections: refusals, and aiohttp's own server errors.
http_log = logging.getLogger("careerbot.slack.http")
#: The base logger handed to Bolt (its middleware loggers copy its filters).
bolt_log = logging.getLogger("careerbot.slack.bolt")


# ---------------------------------------------------------------------------- log lines

#: Longest log line the Slack adapter writes (longer ones are cut).
LOG_LINE_MAX = 300
#: At most one line about refused requests and connections per this many seconds; the next line
#: says how many were left out.
REFUSAL_LOG_INTERVAL = 10.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str, limit: int = LOG_LINE_MAX) -> str:
    """``text`` as one log line: control characters (newlines included) escaped, at most ``limit``
    characters, so nothing in it can start a forged line."""
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def raised(exc: BaseException) -> str:
    """Where an exception came from, in a few words: its type and innermost frame (no traceback,
    no message: a message may quote the request)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb is not None else ""
    return f"{type(exc).__name__}{where}"


class OneLineFilter(logging.Filter):
    """Rewrites every record of a logger as one bounded line: the message flattened and cut, a
    traceback replaced by the exception's type and where it was raised. Put on the loggers that
    can carry request content (Bolt's, aiohttp's server logger, the adapter's own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            message = f"{message} ({raised(record.exc_info[1])})"
        record.msg, record.args = one_line(message), None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


class Throttle(logging.Filter):
    """Lets one record through per ``interval`` seconds; the next one to pass says how many were
    dropped meanwhile. For lines an unverified client can cause, so a flood cannot flood the log."""

    def __init__(self, interval: float = REFUSAL_LOG_INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self.next_at = 0.0
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now < self.next_at:
            self.dropped += 1
            return False
        self.next_at = now + self.interval
        if self.dropped:
            record.msg, record.args = f"{record.getMessage()} (and {self.dropped} more since the last such line)", None
            self.dropped = 0
        return True


ONE_LINE = OneLineFilter()
for _logger in (log, http_log, bolt_log):
    _logger.addFilter(ONE_LINE)  # once: addFilter skips a filter the logger already has
