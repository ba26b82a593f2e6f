"""Load and validate a knowledge tree, reporting every problem as ``FILE:LINE: field: message``.

Anyone may drop any file into a running bot's knowledge directory, so reading is defensive. Each file
is held to :class:`Limits` before anything is built from it: its size before it is read; nesting depth,
node count (an alias counting as everything it repeats), aliases and keys per mapping on libyaml's event
stream, which is produced iteratively. The composer is our own loop over those events (nothing recurses,
however deep the file) and builds the plain data together with a tree of line numbers. Every way a file
can fail (unreadable, not a regular file, too big, not YAML, a tag we do not build, a bad ``!!int``, a
recursive alias...) becomes one ``FILE:LINE`` :class:`Problem`, listed first; what would only follow from
a file that could not be read (missing required entries, dangling references) is not reported then.

The schema is :mod:`bot.knowledge.schema`; cross-references are found from its
:class:`~bot.knowledge.schema.RefTo` markers.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from rapidfuzz import fuzz, process

from bot.errors import KnowledgeError, Problem
from bot.knowledge.schema import MIN_TIPS, REQUIRED_IDS, SECTIONS, Kind, RefTo

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
_SUFFIXES = (".yaml", ".yml")
#: Longest word :func:`suggest` compares (fuzzy matching a huge key would take seconds).
_SUGGEST_MAX = 100
#: Problem fields and messages are cut to these many characters: a report never echoes a file unbounded.
_FIELD_MAX = 160
_MESSAGE_MAX = 300
#: Entries validated per pydantic call (one call for a whole section is fastest, but a section of
#: 100,000 broken entries would then hold 100,000 errors at once).
_CHUNK = 512


@dataclass(frozen=True, slots=True)
class Limits:
    """What a knowledge tree may hold. Each limit is checked before the value it bounds is built, so a
    hostile file costs at most these, and each is far above real knowledge. For scale: the shipped tree
    is 9 files, 173 KB in all, the largest ``tips.yaml`` at 40 KB; it nests 4 levels deep (the file's
    mapping, a section's list, an entry, a field's list), uses no aliases and has at most 12 keys in a
    mapping. The benchmark's 100x tree (``bench/core.py``, ~28,500 entries) is 13 MB and 490,000 YAML
    nodes in all, its largest file ``tips.yaml`` 4.1 MB and 153,000 nodes.
    """

    file_bytes: int = 16 * 2**20
    """Bytes in one file (16 MiB, 4x the largest file of the 100x tree). Checked with ``stat`` before
    the file is read, and the read itself stops there (a file may grow meanwhile)."""
    tree_bytes: int = 64 * 2**20
    """Bytes in all files together (64 MiB, 5x the 100x tree)."""
    files: int = 1000
    """``.yaml`` files in the directory (100x today's 9)."""
    depth: int = 32
    """Collections nested in one another (8x today's 4). Checked on the event stream, so a file nested
    50,000 deep is refused after its 33rd ``[``, before anything is built that could recurse."""
    nodes: int = 500_000
    """YAML nodes (scalars and collections) in one file, an alias counting as every node it repeats
    (3x ``tips.yaml`` at 100x). Bounds the time and memory a file costs (at most ~100 MB and ~1.5 s
    for the worst shape of nodes), and stops a "billion laughs" alias bomb at the alias that crosses
    it, before anything is expanded."""
    tree_nodes: int = 1_500_000
    """YAML nodes in all files together, counted the same way (3x the 100x tree)."""
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


def default_knowledge_dir() -> Path:
    """``$CAREERBOT_KNOWLEDGE`` if set, else the knowledge shipped beside the package."""
    env = os.environ.get("CAREERBOT_KNOWLEDGE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "knowledge"  # bot/knowledge/loader.py -> the top level


def knowledge_files(directory: Path, limit: int | None = None) -> list[Path]:
    """Every ``*.yaml`` and ``*.yml`` entry of ``directory``, sorted, whatever it is (the loader reports
    those that are not regular files). Names starting with ``.`` are skipped: editors keep locks and
    temporary copies there (Emacs's ``.#roles.yaml`` is a dangling symlink while a file is edited).
    With ``limit``, stops listing after ``limit + 1`` names. Raises :class:`OSError`."""
    names: list[str] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if not entry.name.startswith(".") and os.path.splitext(entry.name)[1] in _SUFFIXES:
                names.append(entry.name)
                if limit is not None and len(names) > limit:
                    break
    return [directory / name for name in sorted(names)]


def fingerprint(directory: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[tuple[str, int, int, int], ...]:
    """Cheap change detector for hot reload: name, size, mtime and ctime of each knowledge file (a
    ``chmod`` changes only the ctime). Never raises: what cannot be listed or stat'ed is recorded with
    its errno, so that fixing it is a change too."""
    try:
        paths = knowledge_files(directory, limits.files)
    except OSError as exc:
        return (("", -1, exc.errno or 0, 0),)
    out = []
    for p in paths:
        try:
            st = p.stat()
        except OSError as exc:
            out.append((p.name, -1, exc.errno or 0, 0))
        else:
            out.append((p.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


@functools.lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Fold case, punctuation and separators so 'SNOMED-CT', 'snomed ct' and 'Snomed_CT' meet."""
    return " ".join(re.sub(r"[^\w+#]+|_", " ", text.casefold()).split())


def suggest(word: str, options: Iterable[str], cutoff: float = 60) -> str | None:
    if len(word) > _SUGGEST_MAX:
        return None
    match = process.extractOne(word, list(options), scorer=fuzz.WRatio, score_cutoff=cutoff)
    return match[0] if match else None


@dataclass(frozen=True, slots=True)
class Located:
    """An entry together with where it was written."""

    entry: Any
    path: Path
    index: int
    section: str


@dataclass
class Knowledge:
    """A validated tree: ``entries[kind][id]`` keeps file order."""

    directory: Path
    entries: dict[Kind, dict[str, Located]] = field(default_factory=dict)

    def of(self, kind: Kind) -> list[Any]:
        return [loc.entry for loc in self.entries.get(kind, {}).values()]

    def summary(self) -> str:
        counts = ", ".join(f"{len(v)} {k}" for k, v in self.entries.items())
        return f"{self.directory}: ok ({counts})"


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


def _problem(path: Path | str, line: int, where: str, message: str) -> Problem:
    """A :class:`Problem` whose every part is one bounded printable line."""
    return Problem(_clip(str(path), 4096), line, _clip(where, _FIELD_MAX), _clip(message, _MESSAGE_MAX))


def dotted(where: Sequence[str | int]) -> str:
    out = ""
    for step in where:
        out += f"[{step}]" if isinstance(step, int) else (f".{step[:_FIELD_MAX]}" if out else step[:_FIELD_MAX])
    return out


# --------------------------------------------------------------------------- YAML with lines


class _Unreadable(Exception):
    """Stops reading one file: the file could not be read, and ``message`` says why at ``line``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Stop(Exception):
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


def _read(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. Opened non-blocking, so a FIFO named
    ``x.yaml`` is refused instead of waiting forever for a writer."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _Unreadable(1, f"cannot open: {_os_reason(exc)}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise _Unreadable(1, "is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise _Unreadable(1, "not a regular file")
        if st.st_size > limit:
            raise _Unreadable(1, f"file is {st.st_size:,} bytes; the limit is {limit:,}")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise _Unreadable(1, f"file is over {limit:,} bytes, the limit")
        return b"".join(chunks)
    except OSError as exc:
        raise _Unreadable(1, f"cannot read: {_os_reason(exc)}") from None
    finally:
        os.close(fd)


def _os_reason(exc: OSError) -> str:
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
            raise _Unreadable(line, "merge keys ('<<') are not supported; write the keys out")
        raise _Unreadable(line, f"unsupported tag {shown(_short_tag(tag))}")
    try:
        return build(_constructor, yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark))
    except Exception as exc:
        reason = (exc.problem if isinstance(exc, yaml.MarkedYAMLError) else None) or str(exc)
        raise _Unreadable(
            line,
            f"cannot read {shown(event.value, 40)} as {_short_tag(tag)} ({_clip(reason, 80)}); "
            "quote it to make it text",
        ) from None


def _compose(
    data: bytes, limits: Limits, budget: int, report: Callable[[int, Path_, str], None]
) -> tuple[Any, _Lines | int | None, int]:
    """Compose one YAML document from its events into ``(data, lines, nodes)``, checking the limits as
    the events come, before a value is built. ``budget``: nodes the tree has left. Raises
    :class:`_Unreadable` for anything that stops the file being read; ``report(line, path, message)``
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
            raise _Unreadable(line, f"anchor &{_clip(anchor, 40)} is defined twice")
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
                raise _Unreadable(line, f"more than {limits.keys:,} keys in one mapping")
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
                    raise _Unreadable(line, too_many)
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
                    raise _Unreadable(line, too_many)
                if len(stack) >= limits.depth:
                    raise _Unreadable(line, f"nested deeper than {limits.depth} levels")
                mapping = cls is yaml.MappingStartEvent
                if event.tag not in (_MAP_TAGS if mapping else _SEQ_TAGS):
                    raise _Unreadable(line, f"unsupported tag {shown(_short_tag(event.tag))}")
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
                    raise _Unreadable(line, f"alias *{name} names no anchor defined before it")
                if target is _OPEN:
                    raise _Unreadable(line, f"alias *{name} is inside the node it names (a recursive alias)")
                aliases += 1
                if aliases > limits.aliases:
                    raise _Unreadable(line, f"more than {limits.aliases:,} aliases in one file")
                value, lines, weight = target
                nodes += weight
                if nodes > cap:
                    raise _Unreadable(line, too_many)
                attach(value, lines, line, None)
            elif cls is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Unreadable(event.start_mark.line + 1, "more than one YAML document ('---') in one file")
            elif cls is yaml.StreamEndEvent:
                break
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = exc.problem or exc.context or "invalid YAML"
        raise _Unreadable(mark.line + 1 if mark else 1, f"YAML syntax error: {detail}") from None
    except yaml.reader.ReaderError as exc:
        line = data.count(b"\n", 0, exc.position) + 1 if isinstance(exc.position, int) else 1
        raise _Unreadable(line, f"cannot read: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise _Unreadable(1, f"cannot read: {exc}") from None
    finally:
        parser.dispose()
    return root, root_lines, nodes


class _Doc:
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


# --------------------------------------------------------------------------- validation


def _ref_fields(model: type[BaseModel]) -> Iterator[tuple[str, RefTo]]:
    for name, info in model.model_fields.items():
        for meta in info.metadata:
            if isinstance(meta, RefTo):
                yield name, meta


_ADAPTERS: dict[type[BaseModel], TypeAdapter[list[Any]]] = {}


def _adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    if model not in _ADAPTERS:
        _ADAPTERS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    return _ADAPTERS[model]


class _Validator:
    def __init__(self, directory: Path, limits: Limits) -> None:
        self.directory = directory
        self.limits = limits
        self.failed: list[Problem] = []
        """One problem per file that could not be read; reported first."""
        self.problems: list[Problem] = []
        self.complete = True
        self.knowledge = Knowledge(directory)
        self.docs: dict[Path, _Doc] = {}
        self.bytes = 0
        self.nodes = 0

    def report(self, problem: Problem) -> None:
        """Keep ``problem``; stop checking (:class:`_Stop`) once there are :attr:`Limits.problems`."""
        if len(self.failed) + len(self.problems) >= self.limits.problems:
            self.complete = False
            raise _Stop
        self.problems.append(problem)

    def where(self, loc: Located, *rest: str | int) -> tuple[str, int, str]:
        doc = self.docs[loc.path]
        steps: tuple[str | int, ...] = (loc.section, loc.index, *rest)
        entry_id = getattr(loc.entry, "id", None)
        label = dotted((loc.section, entry_id, *rest)) if entry_id else dotted(steps)
        return str(loc.path), doc.line(steps), label

    def add(self, loc: Located, rest: tuple[str | int, ...], message: str) -> None:
        path, line, label = self.where(loc, *rest)
        self.report(_problem(path, line, label, message))

    def run(self) -> Knowledge:
        files = self._files()
        try:
            for path in files:
                self._load_file(path)
            self._check_aliases()
            if not self.failed:  # with a file unread, any entry might have been in it: no follow-ons
                self._check_refs()
                self._check_required()
        except _Stop:
            pass
        except Exception as exc:  # a bug here must not take a running bot down: report it like the rest
            message = f"cannot check the knowledge ({type(exc).__name__}: {exc})"
            self.failed.append(_problem(self.directory, 0, "", message))
        if self.failed or self.problems:
            self.problems.sort(key=lambda p: (p.path, p.line))
            raise KnowledgeError(self.failed + self.problems, complete=self.complete)
        return self.knowledge

    def _files(self) -> list[Path]:
        directory = self.directory
        try:
            files = knowledge_files(directory, self.limits.files)
        except (FileNotFoundError, NotADirectoryError):
            raise KnowledgeError([_problem(directory, 0, "", "not a directory")]) from None
        except OSError as exc:
            raise KnowledgeError([_problem(directory, 0, "", f"cannot list: {_os_reason(exc)}")]) from None
        if not files:
            raise KnowledgeError([_problem(directory, 0, "", "no .yaml files")])
        if len(files) > self.limits.files:
            message = f"more than {self.limits.files:,} .yaml files; the limit is {self.limits.files:,}"
            raise KnowledgeError([_problem(directory, 0, "", message)])
        return files

    def _fail(self, path: Path, line: int, message: str) -> None:
        self.docs[path] = _Doc(path, None, None, failed=True)
        if len(self.failed) + len(self.problems) >= self.limits.problems:
            self.complete = False
            raise _Stop
        self.failed.append(_problem(path, line, "", message))

    def _read(self, path: Path) -> _Doc:
        data = _read(path, self.limits.file_bytes)
        self.bytes += len(data)
        if self.bytes > self.limits.tree_bytes:
            raise _Unreadable(1, f"the knowledge files hold more than {self.limits.tree_bytes:,} bytes together")

        def report(line: int, where: Path_, message: str) -> None:
            self.report(_problem(path, line, dotted(where), message))

        value, lines, nodes = _compose(data, self.limits, self.limits.tree_nodes - self.nodes, report)
        self.nodes += nodes
        return _Doc(path, value, lines)

    def _load_file(self, path: Path) -> None:
        try:
            doc = self._read(path)
        except _Stop:
            raise
        except _Unreadable as exc:
            self._fail(path, exc.line, exc.message)
            return
        except Exception as exc:  # RecursionError, MemoryError, a bug: still one line about this file
            self._fail(path, 1, f"cannot read ({type(exc).__name__}: {exc})")
            return
        self.docs[path] = doc
        if doc.lines is None:  # an empty file
            return
        if not isinstance(doc.data, dict):
            self.report(_problem(path, 1, "", "top level must be a mapping of sections"))
            return
        for section, items in doc.data.items():
            if section not in SECTIONS:
                hint = suggest(section, SECTIONS)
                msg = f"unknown section {shown(section)}" + (f"; did you mean {hint!r}?" if hint else "")
                msg += f" (sections: {', '.join(SECTIONS)})"
                self.report(_problem(path, doc.line((section,)), section, msg))
                continue
            if not isinstance(items, list):
                self.report(_problem(path, doc.line((section,)), section, "must be a list"))
                continue
            self._load_section(doc, section, items)

    def _load_section(self, doc: _Doc, section: str, items: list[Any]) -> None:
        kind, model = SECTIONS[section]
        adapter = _adapter(model)
        table = self.knowledge.entries.setdefault(kind, {})
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            try:
                entries: list[Any] = adapter.validate_python(chunk)
                valid = list(enumerate(entries, start))
            except ValidationError:
                valid = []
                for i, item in enumerate(chunk, start):
                    try:
                        valid.append((i, model.model_validate(item)))
                    except ValidationError as exc:
                        for err in exc.errors(include_url=False):
                            self._schema_problem(doc, section, i, item, model, err)
            for i, entry in valid:
                loc = Located(entry, doc.path, i, section)
                first = table.get(entry.id)
                if first is not None:
                    other = f"{first.path.name}:{self.docs[first.path].line((first.section, first.index))}"
                    self.add(loc, ("id",), f"duplicate {kind} id {entry.id!r} (first defined at {other})")
                    continue
                table[entry.id] = loc

    def _schema_problem(self, doc: _Doc, section: str, index: int, item: Any, model: type[BaseModel], err: Any) -> None:
        loc = tuple(err["loc"])
        steps = (section, index, *loc)
        entry_id = item.get("id") if isinstance(item, dict) else None
        label = dotted((section, entry_id, *loc)) if isinstance(entry_id, str) else dotted(steps)
        msg: str = err["msg"]
        kind = err["type"]
        if kind == "extra_forbidden" and loc:
            hint = suggest(str(loc[-1]), model.model_fields)
            msg = f"unknown field {shown(loc[-1])}" + (f"; did you mean {hint!r}?" if hint else "")
        elif kind == "missing":
            msg = "required field is missing"
        elif kind == "string_too_long":
            limit = err.get("ctx", {}).get("max_length")
            msg = f"text is {len(err['input'])} characters; the limit is {limit}"
        elif kind in ("string_too_short", "too_short") and isinstance(err.get("input"), str):
            msg = "must not be empty"
        elif kind == "string_pattern_mismatch" and "url" not in loc:
            msg = f"{shown(err['input'])} is not a valid id (lowercase letters, digits and '-')"
        self.report(_problem(doc.path, doc.line(steps), label, msg))

    def _check_aliases(self) -> None:
        for kind, table in self.knowledge.entries.items():
            owner: dict[str, str] = {}
            for loc in table.values():
                entry = loc.entry
                names: list[tuple[tuple[str | int, ...], str]] = [(("id",), entry.id)]
                if hasattr(entry, "title"):
                    names.append((("title",), entry.title))
                for i, alias in enumerate(getattr(entry, "aliases", ())):
                    names.append((("aliases", i), alias))
                seen_here: set[str] = set()
                for rest, name in names:
                    key = normalize(name)
                    if not key or key in seen_here:
                        continue
                    seen_here.add(key)
                    other = owner.setdefault(key, entry.id)
                    if other != entry.id:
                        self.add(loc, rest, f"{name!r} already names {kind} {other!r}")

    def _check_refs(self) -> None:
        entries = self.knowledge.entries
        known: dict[tuple[Kind, ...], list[str]] = {}
        hints: dict[tuple[tuple[Kind, ...], str], str | None] = {}
        for kind, table in entries.items():
            model = SECTIONS[next(s for s, (k, _) in SECTIONS.items() if k == kind)][1]
            for field_name, ref in _ref_fields(model):
                for loc in table.values():
                    for i, target in enumerate(cast(list[str], getattr(loc.entry, field_name))):
                        if any(target in entries.get(k, {}) for k in ref.kinds):
                            continue
                        if ref.kinds not in known:
                            known[ref.kinds] = [name for k in ref.kinds for name in entries.get(k, {})]
                        if (ref.kinds, target) not in hints:
                            hints[ref.kinds, target] = suggest(target, known[ref.kinds])
                        hint = hints[ref.kinds, target]
                        what = " or ".join(ref.kinds)
                        msg = f"unknown {what} {target!r}" + (f"; did you mean {hint!r}?" if hint else "")
                        self.add(loc, (field_name, i), msg)

    def _check_required(self) -> None:
        entries = self.knowledge.entries
        for kind, ids in REQUIRED_IDS.items():
            missing = [i for i in ids if i not in entries.get(kind, {})]
            if missing:
                path, line = self._section_home(kind)
                self.report(_problem(path, line, kind, f"required {kind} entries missing: {', '.join(missing)}"))
        tips = len(entries.get("tip", {}))
        if tips < MIN_TIPS:
            path, line = self._section_home("tip")
            self.report(_problem(path, line, "tips", f"{tips} tips; at least {MIN_TIPS} are required"))

    def _section_home(self, kind: Kind) -> tuple[str, int]:
        for loc in self.knowledge.entries.get(kind, {}).values():
            return str(loc.path), self.docs[loc.path].line((loc.section,))
        return str(self.directory), 0


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a load allocates millions of acyclic YAML nodes, and
    without this the collector rescans them over and over (3x the whole load time at 100x)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load(directory: Path | None = None, limits: Limits = DEFAULT_LIMITS) -> Knowledge:
    """Load and validate ``directory`` within ``limits``; raise :class:`KnowledgeError` listing every
    problem (and nothing else, whatever the directory holds)."""
    with _gc_paused():
        return _Validator(directory or default_knowledge_dir(), limits).run()
