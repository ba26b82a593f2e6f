"""Reading YAML that anyone may have dropped into the knowledge directory, defensively.

Each file is held to :class:`Limits` before anything is built from it: its size before it is read;
nesting depth, node count (an alias counting as everything it repeats), aliases and keys per mapping
on libyaml's event stream, which is produced iteratively. The composer is our own loop over those
events (nothing recurses, however deep the file) and builds the plain data together with a tree of
line numbers. Every way a file can fail (unreadable, not a regular file, too big, not YAML, a tag we
do not build, a bad ``!!int``, a recursive alias...) becomes one ``FILE:LINE`` :class:`Problem`.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from bot.errors import Problem

#: libyaml's event parser when PyYAML was built with it (the pure-Python parser is iterative too).
_Parser: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()
_resolve: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = yaml.resolver.Resolver().resolve
_TAG = "tag:yaml.org,2002:"
_STR_TAG = _TAG + "str"
_SEQ_TAGS = frozenset({None, "!", _TAG + "seq"})
_MAP_TAGS = frozenset({None, "!", _TAG + "map"})
#: Scalar tags we build, with PyYAML's safe constructors. They are called directly: its
#: ``construct_object`` would keep every node it ever saw in a cache.
_SCALARS: dict[str, Callable[[Any, yaml.ScalarNode], Any]] = {
    _TAG + name: yaml.constructor.SafeConstructor.yaml_constructors[_TAG + name]
    for name in ("null", "bool", "int", "float", "timestamp", "binary")
}
#: First characters of a plain scalar that may resolve to something other than text (a number,
#: true/false, null, a date, '<<'); any other plain scalar is text without asking the resolver.
_IMPLICIT_FIRST = frozenset(c for c in yaml.resolver.Resolver.yaml_implicit_resolvers if c)
#: Problem fields and messages are cut to these many characters: a report never echoes a file unbounded.
_FIELD_MAX = 160
_MESSAGE_MAX = 300


@dataclass(frozen=True, slots=True)
class Limits:
    """What a knowledge tree may hold. Each limit is checked before the value it bounds is built, so a
    hostile file costs at most these, and each is far above real knowledge. For scale: the shipped tree
    is 10 files, about 290 KB in all, the largest ``faq.yaml`` at 66 KB; it nests 4 levels deep (the file's
    mapping, a section's list, an entry, a field's list), uses no aliases and has at most 12 keys in a
    mapping. The benchmark's 100x tree (``bench/core.py``, ~42,000 entries) is 27 MB and 835,000 YAML
    nodes in all, its largest file ``faq.yaml`` 6.4 MB and 188,000 nodes.
    """

    file_bytes: int = 16 * 2**20
    """Bytes in one file (16 MiB, 2.5x the largest file of the 100x tree). Checked with ``stat`` before
    the file is read, and the read itself stops there (a file may grow meanwhile)."""
    tree_bytes: int = 64 * 2**20
    """Bytes in all files together (64 MiB, 2.4x the 100x tree)."""
    files: int = 1000
    """``.yaml`` files in the directory (100x today's 10)."""
    depth: int = 32
    """Collections nested in one another (8x today's 4). Checked on the event stream, so a file nested
    50,000 deep is refused after its 33rd ``[``, before anything is built that could recurse."""
    nodes: int = 500_000
    """YAML nodes (scalars and collections) in one file, an alias counting as every node it repeats
    (2.5x ``faq.yaml`` at 100x). Bounds the time and memory a file costs (at most ~100 MB and ~1.5 s
    for the worst shape of nodes), and stops a "billion laughs" alias bomb at the alias that crosses
    it, before anything is expanded."""
    tree_nodes: int = 1_500_000
    """YAML nodes in all files together, counted the same way (1.8x the 100x tree)."""
    aliases: int = 10_000
    """Aliases (``*name``) in one file; the shipped knowledge uses none."""
    keys: int = 1_000
    """Keys in one mapping (80x the most any entry has). Each unknown key is one problem, so this also
    keeps one entry from flooding the report."""
    problems: int = 1_000
    """Problems collected before checking stops. A report shows the first few anyway (see
    :meth:`~bot.errors.KnowledgeError.report`); this bounds the work a file of 100,000 broken entries
    costs."""


DEFAULT_LIMITS = Limits()

Path_ = tuple[str | int, ...]


# --------------------------------------------------------------------------- bounded text


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def _clip(text: str, limit: int) -> str:
    """One printable line of at most ``limit`` characters (looks at no more of ``text`` than that)."""
    text = _printable(text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: Any, limit: int = 60) -> str:
    """``value`` quoted for a message, short whatever it is: a collection is named, not printed."""
    if isinstance(value, str):
        return repr(value[:limit]) + ("…" if len(value) > limit else "")
    if isinstance(value, list | dict | tuple | set):
        return f"a {type(value).__name__}"
    return _clip(repr(value), limit)


def problem(path: Path | str, line: int, where: str, message: str) -> Problem:
    """A :class:`Problem` whose every part is one bounded printable line."""
    return Problem(_clip(str(path), 4096), line, _clip(where, _FIELD_MAX), _clip(message, _MESSAGE_MAX))


def dotted(where: Sequence[str | int]) -> str:
    out = ""
    for step in where:
        out += f"[{step}]" if isinstance(step, int) else (f".{step[:_FIELD_MAX]}" if out else step[:_FIELD_MAX])
    return out


# --------------------------------------------------------------------------- YAML with lines


class Unreadable(Exception):
    """Stops reading one file: the file could not be read, and ``message`` says why at ``line``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class Stop(Exception):
    """Enough problems were found (:attr:`Limits.problems`): checking stops."""


class _Lines:
    """Where a collection and its values are written: ``children`` is a list (a sequence) or a dict by
    key (a mapping) of child :class:`_Lines` or, for scalars, line numbers."""

    __slots__ = ("line", "children")

    def __init__(self, line: int, children: list[_Lines | int] | dict[str, _Lines | int]) -> None:
        self.line = line
        self.children = children


class _Open:
    """A collection being composed; ``keys`` is -1 for a sequence."""

    __slots__ = ("data", "children", "lines", "anchor", "start", "keys", "key", "step")

    def __init__(self, mapping: bool, line: int, anchor: str | None, start: int, step: str | int) -> None:
        self.data: Any = {} if mapping else []
        self.children: Any = {} if mapping else []
        self.lines = _Lines(line, self.children)
        self.anchor = anchor
        self.start = start
        self.keys = 0 if mapping else -1
        self.key: Any = _NO_KEY
        self.step = step


_NO_KEY = object()  # a mapping waits for a key
_SKIP = object()  # the key was not text: drop its value
_OPEN = object()  # an anchored collection still being composed (an alias to it would be recursive)


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. Opened non-blocking, so a FIFO named
    ``x.yaml`` is refused instead of waiting forever for a writer."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise Unreadable(1, f"cannot open: {os_reason(exc)}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise Unreadable(1, "is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise Unreadable(1, "not a regular file")
        if st.st_size > limit:
            raise Unreadable(1, f"file is {st.st_size:,} bytes; the limit is {limit:,}")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise Unreadable(1, f"file is over {limit:,} bytes, the limit")
        return b"".join(chunks)
    except OSError as exc:
        raise Unreadable(1, f"cannot read: {os_reason(exc)}") from None
    finally:
        os.close(fd)


def os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    return exc.strerror or type(exc).__name__


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _scalar(tag: str, event: Any, line: int) -> Any:
    """A scalar of a tag other than text, built by PyYAML's safe constructor for it."""
    build = _SCALARS.get(tag)
    if build is None:
        if tag == _TAG + "merge":
            raise Unreadable(line, "merge keys ('<<') are not supported; write the keys out")
        raise Unreadable(line, f"unsupported tag {shown(_short_tag(tag))}")
    try:
        return build(_constructor, yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark))
    except Exception as exc:
        reason = (exc.problem if isinstance(exc, yaml.MarkedYAMLError) else None) or str(exc)
        raise Unreadable(
            line,
            f"cannot read {shown(event.value, 40)} as {_short_tag(tag)} ({_clip(reason, 80)}); "
            "quote it to make it text",
        ) from None


def compose(
    data: bytes, limits: Limits, budget: int, report: Callable[[int, Path_, str], None]
) -> tuple[Any, _Lines | int | None, int]:
    """Compose one YAML document from its events into ``(data, lines, nodes)``, checking the limits as
    the events come, before a value is built. ``budget``: nodes the tree has left. Raises
    :class:`Unreadable` for anything that stops the file being read; ``report(line, path, message)``
    takes problems that do not (a duplicate key, a key that is not text).
    """
    cap = min(limits.nodes, budget)
    too_many = (
        f"more than {limits.nodes:,} YAML nodes in one file (an alias counts as every node it repeats)"
        if cap == limits.nodes
        else f"the knowledge files hold more than {limits.tree_nodes:,} YAML nodes together"
    )
    stack: list[_Open] = []
    anchors: dict[str, Any] = {}
    nodes = aliases = documents = 0
    root: Any = None
    root_lines: _Lines | int | None = None

    def where(*steps: str | int) -> Path_:
        return (*(frame.step for frame in stack[1:]), *steps)

    def define(anchor: str, value: Any, line: int) -> None:
        if anchor in anchors:
            raise Unreadable(line, f"anchor &{_clip(anchor, 40)} is defined twice")
        anchors[anchor] = value

    def attach(value: Any, lines: _Lines | int, line: int, text: str | None) -> None:
        nonlocal root, root_lines
        if not stack:
            root, root_lines = value, lines
            return
        top = stack[-1]
        if top.keys < 0:
            top.data.append(value)
            top.children.append(lines)
        elif top.key is _NO_KEY:  # this value is a key
            top.keys += 1
            if top.keys > limits.keys:
                raise Unreadable(line, f"more than {limits.keys:,} keys in one mapping")
            if not isinstance(value, str):
                report(line, where("?" if text is None else text), f"key {shown(value)} is not text")
                top.key = _SKIP
            else:
                if value in top.data:
                    report(line, where(value), "duplicate key")
                top.key = value
        else:
            if top.key is not _SKIP:
                top.data[top.key] = value
                top.children.setdefault(top.key, lines)
            top.key = _NO_KEY

    def step() -> str | int:
        """The path step of a collection opening now, inside the top one."""
        if not stack:
            return ""
        top = stack[-1]
        if top.keys < 0:
            return len(top.data)
        return "?" if top.key is _NO_KEY or top.key is _SKIP else cast(str, top.key)

    max_keys = limits.keys
    parser = _Parser(data)
    get_event = parser.get_event
    try:
        while True:
            event = get_event()
            cls = event.__class__
            if cls is yaml.ScalarEvent:
                nodes += 1
                line = event.start_mark.line + 1
                if nodes > cap:
                    raise Unreadable(line, too_many)
                text, tag = event.value, event.tag
                if tag is None or tag == "!":
                    if event.implicit[0] and (not text or text[0] in _IMPLICIT_FIRST):
                        tag = _resolve(yaml.ScalarNode, text, event.implicit)
                    else:
                        tag = _STR_TAG
                if tag == _STR_TAG:
                    value = text
                else:
                    value = _scalar(tag, event, line)
                if event.anchor is not None:
                    define(event.anchor, (value, line, 1), line)
                # the common cases inline (this loop is most of a load); the rest in attach()
                top = stack[-1] if stack else None
                if top is None:
                    attach(value, line, line, text)
                elif top.keys < 0:
                    top.data.append(value)
                    top.children.append(line)
                elif top.key is _NO_KEY:
                    if top.keys < max_keys and value.__class__ is str and value not in top.data:
                        top.keys += 1
                        top.key = value
                    else:
                        attach(value, line, line, text)
                elif top.key is not _SKIP:
                    top.data[top.key] = value
                    top.children.setdefault(top.key, line)
                    top.key = _NO_KEY
                else:
                    top.key = _NO_KEY
            elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                nodes += 1
                line = event.start_mark.line + 1
                if nodes > cap:
                    raise Unreadable(line, too_many)
                if len(stack) >= limits.depth:
                    raise Unreadable(line, f"nested deeper than {limits.depth} levels")
                mapping = cls is yaml.MappingStartEvent
                if event.tag not in (_MAP_TAGS if mapping else _SEQ_TAGS):
                    raise Unreadable(line, f"unsupported tag {shown(_short_tag(event.tag))}")
                if event.anchor is not None:
                    define(event.anchor, _OPEN, line)
                stack.append(_Open(mapping, line, event.anchor, nodes - 1, step()))
            elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                done = stack.pop()
                if done.anchor is not None:
                    anchors[done.anchor] = (done.data, done.lines, nodes - done.start)
                attach(done.data, done.lines, done.lines.line, None)
            elif cls is yaml.AliasEvent:
                line = event.start_mark.line + 1
                target = anchors.get(event.anchor)
                name = _clip(event.anchor, 40)
                if target is None:
                    raise Unreadable(line, f"alias *{name} names no anchor defined before it")
                if target is _OPEN:
                    raise Unreadable(line, f"alias *{name} is inside the node it names (a recursive alias)")
                aliases += 1
                if aliases > limits.aliases:
                    raise Unreadable(line, f"more than {limits.aliases:,} aliases in one file")
                value, lines, weight = target
                nodes += weight
                if nodes > cap:
                    raise Unreadable(line, too_many)
                attach(value, lines, line, None)
            elif cls is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise Unreadable(event.start_mark.line + 1, "more than one YAML document ('---') in one file")
            elif cls is yaml.StreamEndEvent:
                break
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = exc.problem or exc.context or "invalid YAML"
        raise Unreadable(mark.line + 1 if mark else 1, f"YAML syntax error: {detail}") from None
    except yaml.reader.ReaderError as exc:
        line = data.count(b"\n", 0, exc.position) + 1 if isinstance(exc.position, int) else 1
        raise Unreadable(line, f"cannot read: {exc.reason}") from None
    finally:
        parser.dispose()
    return root, root_lines, nodes


class Doc:
    """One file: the plain data and where each value is written; ``data`` and ``lines`` are None when
    the file is empty or could not be read (``failed``)."""

    __slots__ = ("path", "data", "lines", "failed")

    def __init__(self, path: Path, data: Any, lines: _Lines | int | None, failed: bool = False) -> None:
        self.path = path
        self.data = data
        self.lines = lines
        self.failed = failed

    def line(self, where: Sequence[str | int]) -> int:
        """Line of the deepest value along ``where`` that exists."""
        node = self.lines
        if node is None:
            return 1
        line = node if isinstance(node, int) else node.line
        for step in where:
            if not isinstance(node, _Lines):
                break
            children = node.children
            nxt: _Lines | int | None = None
            if isinstance(children, dict):
                if isinstance(step, str):
                    nxt = children.get(step)
            elif isinstance(step, int) and 0 <= step < len(children):
                nxt = children[step]
            if nxt is None:
                break
            node = nxt
            line = node if isinstance(node, int) else node.line
        return line
