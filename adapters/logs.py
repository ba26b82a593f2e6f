"""Logging set-up for the command line: ``CAREERBOT_LOG_LEVEL`` and ``CAREERBOT_LOG_FORMAT``.

``CAREERBOT_LOG_FORMAT=json`` writes one JSON object a line (time, level, logger, message, and the
request fields a line carries: tenant, platform, command, latency_ms, outcome), for log shippers;
the default is one plain line. Neither ever holds a token: careerbot does not log them, and the
settings modules keep them in ``SecretStr``. Message text typed by people is logged only at DEBUG.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

LEVEL_VARIABLE = "CAREERBOT_LOG_LEVEL"
FORMAT_VARIABLE = "CAREERBOT_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS = ("tenant", "platform", "command", "latency_ms", "outcome")
"""Extra fields a record may carry (``log.info(..., extra={...})``), copied into the JSON object."""
MESSAGE_MAX = 2000
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage()[:MESSAGE_MAX],
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)[-MESSAGE_MAX:]
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(
    *, default_level: int = logging.WARNING, environ: Mapping[str, str] = os.environ, force_level: bool = False
) -> str | None:
    """(Re)configure the root logger from the environment; returns a warning about a bad setting.

    Like :func:`logging.basicConfig`, a root logger that already has someone else's handlers (a test
    runner's) is left alone, except for its level when ``force_level`` (``careerbot run``) or
    ``CAREERBOT_LOG_LEVEL`` asks for one."""
    problem = None
    name = environ.get(LEVEL_VARIABLE, "").strip().upper()
    level = default_level
    if name:
        if name in LEVELS:
            level = getattr(logging, name)
        else:
            problem = f"{LEVEL_VARIABLE} must be one of {', '.join(LEVELS)}; using {logging.getLevelName(level)}"
    kind = environ.get(FORMAT_VARIABLE, "text").strip().lower() or "text"
    if kind not in ("text", "json"):
        problem = f"{FORMAT_VARIABLE} must be text or json; using text"
        kind = "text"
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "careerbot", False)]
    if len(ours) == len(root.handlers):
        for old in ours:
            root.removeHandler(old)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter() if kind == "json" else logging.Formatter(TEXT_FORMAT))
        handler.careerbot = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(level)
    elif force_level or name in LEVELS:
        root.setLevel(level)
    if problem:
        logging.getLogger("careerbot").warning(problem)
    return problem
