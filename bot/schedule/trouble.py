"""Database trouble, for the scheduler: which errors mean "try again", one short log line per
failure, and backoff between attempts.

A database going away for a while (connections killed or refused, SQLite's file locked, read-only
or full) is retried for as long as the process runs; anything else (a bug, bad data) is not.
"""

from __future__ import annotations

import logging
import random

from sqlalchemy import exc as sa_exc

from bot.store.problems import StoreError

log = logging.getLogger("careerbot.scheduler")

# SQLSTATE classes and codes that mean "try again": connection exceptions (08), insufficient
# resources (53), operator intervention (57: admin shutdown, crash shutdown, cannot connect now),
# serialization failures and deadlocks.
_TRANSIENT_CLASSES = ("08", "53", "57")
_TRANSIENT_CODES = ("40001", "40P01", "55P03")


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is the database being briefly unavailable (connection refused, reset or
    terminated; SQLite's ``database is locked``; a pool or statement timeout; a serialization
    failure): the operation can be retried as it is. False for anything else (a bug, bad data).
    An error raised ``from`` such an error (a wrapper naming the store) counts as one too."""
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen and len(seen) < 10:
        seen.add(id(err))
        if _transient(err):
            return True
        err = err.__cause__
    return False


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, StoreError):  # read-only or full: waits for the operator, then carries on
        return exc.kind != "damaged"
    if isinstance(exc, (OSError, TimeoutError, sa_exc.TimeoutError, sa_exc.DisconnectionError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        name = str(getattr(exc.orig, "sqlite_errorname", "") or "")
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):  # retrying a damaged file cannot help
            return False
        if exc.connection_invalidated or isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return True
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if isinstance(code, str) and (code[:2] in _TRANSIENT_CLASSES or code in _TRANSIENT_CODES):
            return True
        return isinstance(exc.orig, (OSError, TimeoutError))
    return False


def describe(exc: BaseException) -> str:
    """One short line for a log: the driver's error and its first line, without the SQL statement
    and parameters SQLAlchemy appends (a batch's parameters can be thousands of lines)."""
    inner: BaseException = exc
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        inner = exc.orig
    text = str(inner).strip().splitlines()
    first = text[0] if text else ""
    name = type(inner).__name__
    line = f"{name}: {first}" if first else name
    return line if len(line) <= 200 else line[:197] + "..."


class Backoff:
    """Exponential backoff with jitter: ``first``, then twice that, ... up to ``cap`` seconds."""

    def __init__(self, first: float, cap: float) -> None:
        self.first = max(first, 0.0)
        self.cap = max(cap, self.first)
        self.failures = 0

    def next(self) -> float:
        delay = min(self.cap, self.first * (1 << min(self.failures, 30)))
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


class Streak:
    """Failures in a row, logged as one line each; while the database stays away only the 1st, 2nd,
    4th, 8th, ... failure, then one line when it answers again. An unexpected error (a bug, not the
    database being away) is always logged, with its traceback the first time in a streak."""

    def __init__(self) -> None:
        self.failures = 0
        self.unexpected = 0

    def failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        count = self.failures
        if transient(exc):
            if count & (count - 1) == 0:
                streak = f"; {count} failures in a row" if count > 1 else ""
                log.warning("scheduler: %s failed (%s); retrying with backoff%s", what, describe(exc), streak)
            return
        self.unexpected += 1
        log.error("scheduler: %s failed (%s)", what, describe(exc), exc_info=exc if self.unexpected == 1 else None)

    def recovered(self) -> None:
        if self.failures:
            log.info("scheduler: the database answers again (after %d failed attempts)", self.failures)
            self.failures = self.unexpected = 0
