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
import functools
import gc
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, TypeAdapter, ValidationError
from rapidfuzz import fuzz, process

from bot.errors import KnowledgeError, Problem
from bot.fuzzy import suggest
from bot.knowledge.schema import FAQ_REF_KINDS, KINDS, MIN_TIPS, REQUIRED_IDS, SECTIONS, Kind, RefTo
from bot.knowledge.yamlread import (
    DEFAULT_LIMITS,
    Doc,
    Limits,
    Path_,
    Stop,
    Unreadable,
    compose,
    dotted,
    os_reason,
    problem,
    read_limited,
    shown,
)

_SUFFIXES = (".yaml", ".yml")
#: Entries validated per pydantic call (one call for a whole section is fastest, but a section of
#: 100,000 broken entries would then hold 100,000 errors at once).
_CHUNK = 512


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
        self.docs: dict[Path, Doc] = {}
        self.bytes = 0
        self.nodes = 0

    def report(self, problem: Problem) -> None:
        """Keep ``problem``; stop checking (:class:`Stop`) once there are :attr:`Limits.problems`."""
        if len(self.failed) + len(self.problems) >= self.limits.problems:
            self.complete = False
            raise Stop
        self.problems.append(problem)

    def where(self, loc: Located, *rest: str | int) -> tuple[str, int, str]:
        doc = self.docs[loc.path]
        steps: tuple[str | int, ...] = (loc.section, loc.index, *rest)
        entry_id = getattr(loc.entry, "id", None)
        label = dotted((loc.section, entry_id, *rest)) if entry_id else dotted(steps)
        return str(loc.path), doc.line(steps), label

    def add(self, loc: Located, rest: tuple[str | int, ...], message: str) -> None:
        path, line, label = self.where(loc, *rest)
        self.report(problem(path, line, label, message))

    def run(self) -> Knowledge:
        files = self._files()
        try:
            for path in files:
                self._load_file(path)
            self._check_aliases()
            self._check_faqs()
            if not self.failed:  # with a file unread, any entry might have been in it: no follow-ons
                self._check_refs()
                self._check_faq_refs()
                self._check_required()
        except Stop:
            pass
        except Exception as exc:  # a bug here must not take a running bot down: report it like the rest
            message = f"cannot check the knowledge ({type(exc).__name__}: {exc})"
            self.failed.append(problem(self.directory, 0, "", message))
        if self.failed or self.problems:
            self.problems.sort(key=lambda p: (p.path, p.line))
            raise KnowledgeError(self.failed + self.problems, complete=self.complete)
        return self.knowledge

    def _files(self) -> list[Path]:
        directory = self.directory
        try:
            files = knowledge_files(directory, self.limits.files)
        except (FileNotFoundError, NotADirectoryError):
            raise KnowledgeError([problem(directory, 0, "", "not a directory")]) from None
        except OSError as exc:
            raise KnowledgeError([problem(directory, 0, "", f"cannot list: {os_reason(exc)}")]) from None
        if not files:
            raise KnowledgeError([problem(directory, 0, "", "no .yaml files")])
        if len(files) > self.limits.files:
            message = f"more than {self.limits.files:,} .yaml files; the limit is {self.limits.files:,}"
            raise KnowledgeError([problem(directory, 0, "", message)])
        return files

    def _fail(self, path: Path, line: int, message: str) -> None:
        self.docs[path] = Doc(path, None, None, failed=True)
        if len(self.failed) + len(self.problems) >= self.limits.problems:
            self.complete = False
            raise Stop
        self.failed.append(problem(path, line, "", message))

    def _read(self, path: Path) -> Doc:
        data = read_limited(path, self.limits.file_bytes)
        self.bytes += len(data)
        if self.bytes > self.limits.tree_bytes:
            raise Unreadable(1, f"the knowledge files hold more than {self.limits.tree_bytes:,} bytes together")

        def report(line: int, where: Path_, message: str) -> None:
            self.report(problem(path, line, dotted(where), message))

        value, lines, nodes = compose(data, self.limits, self.limits.tree_nodes - self.nodes, report)
        self.nodes += nodes
        return Doc(path, value, lines)

    def _load_file(self, path: Path) -> None:
        try:
            doc = self._read(path)
        except Stop:
            raise
        except Unreadable as exc:
            self._fail(path, exc.line, exc.message)
            return
        except Exception as exc:  # RecursionError, MemoryError, a bug: still one line about this file
            self._fail(path, 1, f"cannot read ({type(exc).__name__}: {exc})")
            return
        self.docs[path] = doc
        if doc.lines is None:  # an empty file
            return
        if not isinstance(doc.data, dict):
            self.report(problem(path, 1, "", "top level must be a mapping of sections"))
            return
        for section, items in doc.data.items():
            if section not in SECTIONS:
                hint = suggest(section, SECTIONS)
                msg = f"unknown section {shown(section)}" + (f"; did you mean {hint!r}?" if hint else "")
                msg += f" (sections: {', '.join(SECTIONS)})"
                self.report(problem(path, doc.line((section,)), section, msg))
                continue
            if not isinstance(items, list):
                self.report(problem(path, doc.line((section,)), section, "must be a list"))
                continue
            self._load_section(doc, section, items)

    def _load_section(self, doc: Doc, section: str, items: list[Any]) -> None:
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

    def _schema_problem(self, doc: Doc, section: str, index: int, item: Any, model: type[BaseModel], err: Any) -> None:
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
        elif kind == "string_pattern_mismatch" and loc and loc[-1] in ("url", "source"):
            msg = _bad_url(err["input"])
        elif kind == "string_pattern_mismatch" and len(loc) == 2 and loc[0] == "refs":
            msg = (
                f"{shown(err['input'])} is not a reference; write KIND:ID, e.g. 'role:ehr' "
                f"(kinds: {', '.join(FAQ_REF_KINDS)})"
            )
        elif kind == "string_pattern_mismatch" and "url" not in loc:
            msg = f"{shown(err['input'])} is not a valid id (lowercase letters, digits and '-')"
        self.report(problem(doc.path, doc.line(steps), label, msg))

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

    def _check_faqs(self) -> None:
        """No two FAQs share a wording (question or ``asked``, once normalized), and an answer that
        states facts names its source."""
        owner: dict[str, Located] = {}
        for loc in self.knowledge.entries.get("faq", {}).values():
            entry = loc.entry
            wordings = [(("question",), entry.question)] + [(("asked", i), a) for i, a in enumerate(entry.asked)]
            seen_here: set[str] = set()
            for rest, text in wordings:
                key = normalize(text)
                if not key or key in seen_here:
                    continue
                seen_here.add(key)
                first = owner.setdefault(key, loc)
                if first is not loc:
                    where = f"{first.path.name}:{self.docs[first.path].line((first.section, first.index))}"
                    self.add(
                        loc,
                        rest,
                        f"{shown(text)} is already asked in faq {first.entry.id!r} (at {where}); "
                        "reword it or keep it in one entry",
                    )
            if entry.source is None and not entry.advice:
                self.add(
                    loc,
                    ("source",),
                    "required unless 'advice: true': link the official page the answer's facts come from, "
                    "or mark an answer that gives advice only with 'advice: true'",
                )

    def _check_faq_refs(self) -> None:
        """Each ``KIND:ID`` in a FAQ's ``refs`` names an entry that exists, with the closest ids when not."""
        entries = self.knowledge.entries
        for loc in entries.get("faq", {}).values():
            for i, (kind, target) in enumerate(loc.entry.ref_targets()):
                if kind not in FAQ_REF_KINDS:
                    hint = None if kind in KINDS else suggest(kind, FAQ_REF_KINDS)
                    what = "a kind a FAQ may refer to" if kind in KINDS else "a kind"
                    msg = f"{kind!r} is not {what}" + (f"; did you mean {hint!r}?" if hint else "")
                    self.add(loc, ("refs", i), msg + f" (kinds: {', '.join(FAQ_REF_KINDS)})")
                elif kind == "faq" and target == loc.entry.id:
                    self.add(loc, ("refs", i), "a FAQ cannot refer to itself")
                elif target not in entries.get(cast(Kind, kind), {}):
                    known = list(entries.get(cast(Kind, kind), {}))
                    self.add(loc, ("refs", i), f"unknown {kind} {target!r}; {_closest(target, known)}")

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
                self.report(problem(path, line, kind, f"required {kind} entries missing: {', '.join(missing)}"))
        tips = len(entries.get("tip", {}))
        if tips < MIN_TIPS:
            path, line = self._section_home("tip")
            self.report(problem(path, line, "tips", f"{tips} tips; at least {MIN_TIPS} are required"))

    def _section_home(self, kind: Kind) -> tuple[str, int]:
        for loc in self.knowledge.entries.get(kind, {}).values():
            return str(loc.path), self.docs[loc.path].line((loc.section,))
        return str(self.directory), 0


def _closest(word: str, known: list[str], count: int = 3) -> str:
    """'did you mean ...?' with up to ``count`` of ``known`` closest to ``word``, or the first few known."""
    hits = process.extract(word[:100], known, scorer=fuzz.WRatio, score_cutoff=60, limit=count)
    names = [repr(name) for name, _score, _index in hits]
    if names:
        return "did you mean " + (names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}") + "?"
    if not known:
        return "there are none"
    listed = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
    return f"nothing close; known: {listed}"


def _bad_url(value: Any) -> str:
    """Why ``value`` is not a URL we accept, with what to write instead."""
    text = value if isinstance(value, str) else ""
    if text.startswith("http://"):
        return f"{shown(value)} is not a valid URL; use https: {shown('https://' + text[7:])}"
    if text and "://" not in text and " " not in text.strip() and "." in text:
        return f"{shown(value)} is not a valid URL; write it in full: {shown('https://' + text.strip())}"
    return f"{shown(value)} is not a valid URL; write a full https:// address, e.g. 'https://www.hhs.gov/hipaa/'"


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
