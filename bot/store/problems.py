"""What can go wrong with the store, said so an operator can fix it: :class:`StoreError` (read-only,
full, damaged, unreachable) with one line naming the file or server and the fix, and a plain
sentence for chat. A SQLite file that is not a database (empty, corrupt, another kind of file) is
refused before SQLite sees it, never initialised in its place; a new one is created whole
(:func:`prepare_sqlite_file`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL

from bot import messages
from bot.errors import CareerbotError

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""
BUSY_TIMEOUT_MS = 15_000
"""How long SQLite waits for another process's write lock before a statement fails."""


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names (``sqlite:///path`` or ``sqlite:///file:path?mode=ro&uri=true``);
    None for an in-memory database."""
    database = url.database or ""
    if str(url.query.get("uri", "")).casefold() in ("true", "1"):
        if str(url.query.get("mode", "")) == "memory":
            return None
        database = database.removeprefix("file:")
        if database.startswith("//"):  # file://host/path: only the local host means anything here
            database = "/" + database[2:].partition("/")[2]
    if not database or database == ":memory:":
        return None
    return Path(database)


def where(url: URL) -> str:
    """The database, for an operator: the SQLite file, or PostgreSQL's host, port and database."""
    if url.get_backend_name() == "sqlite":
        return str(sqlite_file(url) or "the in-memory SQLite database")
    return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


# ---------------------------------------------------------------------------- what can go wrong


class StoreError(CareerbotError):
    """The store cannot be used as it is: read-only, full, damaged, or out of reach.

    ``detail`` is one line for the operator (the log, the command line) naming the file or server
    and the fix; ``reason`` is what people in chat are told: plain words, no path.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        """``readonly``, ``full``, ``damaged`` or ``unavailable``."""
        self.detail = detail

    @property
    def reason(self) -> str:
        return _REASONS.get(self.kind, messages.STORE_UNAVAILABLE)


_REASONS = {
    "readonly": messages.STORE_READONLY,
    "full": messages.STORE_FULL,
    "damaged": messages.STORE_DAMAGED,
    "unavailable": messages.STORE_UNAVAILABLE,
}
_MOVE_ASIDE = (
    "restore it from a backup, or move it aside (with any -wal and -shm files beside it) to start with no "
    "subscriptions; careerbot will not overwrite it"
)


def prepare_sqlite_file(url: URL) -> None:
    """Make sure the SQLite file ``url`` names is a database: create a new, empty one where there is
    none, refuse one that is not (:func:`check_sqlite_file`).

    A new file is made complete under a temporary name and then linked into place, so no process ever
    sees a half-made one: careerbot itself never leaves an empty file behind, and an empty file
    found later is a store whose contents were lost, refused rather than started over.
    """
    path = sqlite_file(url)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            "unavailable",
            f"cannot create the directory {path.parent} ({exc.strerror}): create it, or set CAREERBOT_DATA_DIR "
            "to a writable directory",
        ) from None
    creates = str(url.query.get("mode", "rwc")) == "rwc"  # a uri with mode=ro or rw never creates one
    if creates and not path.exists():
        try:
            _create_sqlite_file(path)
        except Exception as exc:
            problem = explain(exc, url)
            if problem is None:
                raise
            raise problem from exc
    check_sqlite_file(path)


def _create_sqlite_file(path: Path) -> None:
    new = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")
    try:
        connection = sqlite3.connect(new)
        try:
            connection.execute("PRAGMA journal_mode=WAL")  # writes the header: a valid, empty database
        finally:
            connection.close()
        try:
            os.link(new, path)  # fails, harmlessly, when another process made it first
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system: create exclusively, then fill at once
            with contextlib.suppress(FileExistsError), path.open("xb") as out:
                out.write(new.read_bytes())
    finally:
        for leftover in (new, new.with_name(new.name + "-wal"), new.with_name(new.name + "-shm")):
            leftover.unlink(missing_ok=True)


def check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not a SQLite database before SQLite sees it: SQLite would take an empty
    (0-byte) file as a new database and silently start over in place of a store that was lost, and
    report another kind of file only at the first query. A missing file is fine: it is created."""
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise StoreError(
            "unavailable", f"{path} is a directory, not a database file: move it, or set CAREERBOT_DATA_DIR"
        ) from None
    except OSError as exc:
        raise StoreError(
            "unavailable", f"cannot read {path} ({exc.strerror}): make it readable by the user running careerbot"
        ) from None
    if not head:
        raise StoreError(
            "damaged",
            f"{path} is empty (0 bytes), not a careerbot database: its contents were lost or it was created by hand; "
            "restore it from a backup, or delete it to start with no subscriptions; careerbot will not overwrite it",
        )
    if head != SQLITE_HEADER:
        raise StoreError(
            "damaged", f"{path} is not a SQLite database (corrupt, or another kind of file): {_MOVE_ASIDE}"
        )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what SQLAlchemy wrapped (``orig``) and its explicit causes, each once (not the
    implicit ``__context__``: a bug raised while handling a database error is still a bug)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop(0)
        if err is None or id(err) in seen or len(seen) > 10:
            continue
        seen.add(id(err))
        yield err
        orig = getattr(err, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, err.__cause__]


def explain(exc: BaseException, url: URL) -> StoreError | None:
    """A :class:`StoreError` saying what is wrong with the store and how to fix it, when ``exc`` is
    the store being read-only, full, damaged or out of reach; None for anything else (a bug)."""
    if isinstance(exc, StoreError):
        return exc
    place = where(url)
    is_sqlite = url.get_backend_name() == "sqlite"
    for err in _causes(exc):
        if isinstance(err, StoreError):
            return err
        if is_sqlite and isinstance(err, sqlite3.Error):
            found = _sqlite_problem(err, place)
            if found is not None:
                return found
        sqlstate = getattr(err, "sqlstate", None)
        if not is_sqlite and isinstance(sqlstate, str):
            found = _postgres_problem(sqlstate, _first_line(err), place)
            if found is not None:
                return found
        if isinstance(err, OSError):
            return _os_problem(err, place, is_sqlite)
        if not is_sqlite and getattr(err, "connection_invalidated", False):
            # SQLAlchemy's disconnect: a pooled connection the server closed (a restart, an idle kill)
            return StoreError(
                "unavailable",
                f"cannot reach {place} ({_first_line(err)}): check that it is running and CAREERBOT_DATABASE_URL",
            )
    return None


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


def _sqlite_problem(err: sqlite3.Error, path: str) -> StoreError | None:
    name = str(getattr(err, "sqlite_errorname", "") or "")
    text = str(err).casefold()

    def said(code: str, *words: str) -> bool:
        return name.startswith(code) or any(w in text for w in words)

    if said("SQLITE_READONLY", "readonly database") or said("SQLITE_PERM", "access permission denied"):
        return StoreError(
            "readonly",
            f"{path} is read-only: make the file and its directory writable by the user running careerbot, "
            "or set CAREERBOT_DATA_DIR to a writable directory",
        )
    if said("SQLITE_FULL", "database or disk is full"):
        return StoreError(
            "full",
            f"cannot write {path}: the disk is full (or the database reached its size limit); free space there, "
            "or set CAREERBOT_DATA_DIR to a directory on another disk; nothing was written",
        )
    if said("SQLITE_CORRUPT", "malformed") or said("SQLITE_NOTADB", "not a database"):
        return StoreError("damaged", f"{path} is damaged ({_first_line(err)}): {_MOVE_ASIDE}")
    if said("SQLITE_CANTOPEN", "unable to open database"):
        return StoreError(
            "unavailable",
            f"cannot open {path}: make sure its directory exists and is writable by the user running careerbot, "
            "or set CAREERBOT_DATA_DIR",
        )
    if said("SQLITE_IOERR", "disk i/o error"):
        return StoreError(
            "unavailable", f"cannot read or write {path} (disk I/O error): check the disk, then try again"
        )
    if said("SQLITE_BUSY", "database is locked") or said("SQLITE_LOCKED", "table is locked"):
        return StoreError(
            "unavailable",
            f"{path} stayed locked by another process for {BUSY_TIMEOUT_MS // 1000} s: stop whatever else holds it, "
            "or give each careerbot its own CAREERBOT_DATA_DIR",
        )
    return None


def _postgres_problem(sqlstate: str, said: str, place: str) -> StoreError | None:
    if sqlstate == "25006":
        return StoreError(
            "readonly",
            f"{place} is read-only (a standby, or default_transaction_read_only is on): point CAREERBOT_DATABASE_URL "
            "at the primary",
        )
    if sqlstate == "53100":
        return StoreError("full", f"{place} is out of disk space: free space on the database server, then try again")
    if sqlstate in ("XX001", "XX002"):
        return StoreError("damaged", f"{place} reports damaged data ({said}): restore the database from a backup")
    if sqlstate.startswith("28"):
        return StoreError(
            "unavailable", f"{place} refused the login: check the user and password in CAREERBOT_DATABASE_URL"
        )
    if sqlstate == "3D000":
        return StoreError("unavailable", f"{place}: no such database: create it, or fix CAREERBOT_DATABASE_URL")
    if sqlstate.startswith(("08", "57P")) or sqlstate == "53300":
        return StoreError(
            "unavailable", f"cannot reach {place} ({said}): check that it is running and CAREERBOT_DATABASE_URL"
        )
    return None


def _os_problem(err: OSError, place: str, is_sqlite: bool) -> StoreError:
    reason = err.strerror or _first_line(err)
    if is_sqlite and err.errno == errno.ENOSPC:
        return StoreError(
            "full", f"cannot write {place}: the disk is full; free space there, or set CAREERBOT_DATA_DIR"
        )
    if is_sqlite and err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StoreError(
            "readonly",
            f"cannot write {place} ({reason}): make it writable by the user running careerbot, "
            "or set CAREERBOT_DATA_DIR",
        )
    if is_sqlite:
        return StoreError("unavailable", f"cannot use {place} ({reason}): check the file and its directory")
    return StoreError(
        "unavailable", f"cannot reach {place} ({reason}): check that it is running and CAREERBOT_DATABASE_URL"
    )
