"""Load and validate a knowledge tree, reporting every problem as ``FILE:LINE: field: message``.

YAML is composed into nodes (libyaml when available) so each value keeps its line; the schema
is :mod:`bot.schema`; cross-references are found from its :class:`~bot.schema.RefTo` markers.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from rapidfuzz import fuzz, process

from bot.errors import KnowledgeError, Problem
from bot.schema import MIN_TIPS, REQUIRED_IDS, SECTIONS, Kind, RefTo

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()
_STR_TAG = "tag:yaml.org,2002:str"


Path_ = tuple[str | int, ...]


def default_knowledge_dir() -> Path:
    """``$CAREERBOT_KNOWLEDGE`` if set, else the knowledge shipped beside the package."""
    env = os.environ.get("CAREERBOT_KNOWLEDGE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "knowledge"


def knowledge_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Cheap change detector for hot reload: names, sizes and mtimes of the knowledge files."""
    out = []
    for p in knowledge_files(directory):
        st = p.stat()
        out.append((p.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


@functools.lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Fold case, punctuation and separators so 'SNOMED-CT', 'snomed ct' and 'Snomed_CT' meet."""
    return " ".join(re.sub(r"[^\w+#]+|_", " ", text.casefold()).split())


def suggest(word: str, options: Iterable[str], cutoff: float = 60) -> str | None:
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


# --------------------------------------------------------------------------- YAML with lines


class _Doc:
    """One parsed file: the plain data plus its node tree, kept to find lines on demand."""

    def __init__(self, path: Path, root: yaml.Node | None, problems: list[Problem]) -> None:
        self.path = path
        self.root = root
        self.problems = problems
        self.data: Any = self._build(root) if root is not None else None

    def _build(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR_TAG:
                return node.value
            return _constructor.construct_object(node)
        if isinstance(node, yaml.SequenceNode):
            return [self._build(child) for child in node.value]
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._build(key_node)
                if not isinstance(key, str):
                    self.problems.append(self._problem(key_node, f"key {key!r} is not text"))
                    continue
                if key in out:
                    self.problems.append(self._problem(key_node, "duplicate key"))
                out[key] = self._build(value_node)
            return out
        return None

    def _problem(self, node: yaml.Node, message: str) -> Problem:
        return Problem(str(self.path), node.start_mark.line + 1, dotted(self._path_to(node)), message)

    def _path_to(self, target: yaml.Node) -> Path_:
        """The path from the root to a key node (only computed for the rare problem report)."""

        def walk(node: yaml.Node, where: Path_) -> Path_ | None:
            if isinstance(node, yaml.SequenceNode):
                for i, child in enumerate(node.value):
                    found = walk(child, (*where, i))
                    if found is not None:
                        return found
            elif isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if key_node is target:
                        return (*where, key_node.value)
                    found = walk(value_node, (*where, key_node.value))
                    if found is not None:
                        return found
            return None

        return walk(self.root, ()) or () if self.root is not None else ()

    def line(self, where: Sequence[str | int]) -> int:
        """Line of the deepest node along ``where`` that exists."""
        node = self.root
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for step in where:
            nxt: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode) and isinstance(step, str):
                nxt = next((v for k, v in node.value if k.value == step), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                nxt = node.value[step]
            if nxt is None:
                break
            node = nxt
            line = node.start_mark.line + 1
        return line


def _parse(path: Path) -> _Doc:
    try:
        with path.open("rb") as fh:
            root = yaml.compose(fh, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        detail = exc.problem or exc.context or "invalid YAML"
        return _Doc(path, None, [Problem(str(path), line, "", f"YAML syntax error: {detail}")])
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return _Doc(path, None, [Problem(str(path), 1, "", f"cannot read: {exc}")])
    return _Doc(path, root, [])


def dotted(where: Sequence[str | int]) -> str:
    out = ""
    for step in where:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


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
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.problems: list[Problem] = []
        self.knowledge = Knowledge(directory)
        self.docs: dict[Path, _Doc] = {}

    def where(self, loc: Located, *rest: str | int) -> tuple[str, int, str]:
        doc = self.docs[loc.path]
        steps: tuple[str | int, ...] = (loc.section, loc.index, *rest)
        entry_id = getattr(loc.entry, "id", None)
        label = dotted((loc.section, entry_id, *rest)) if entry_id else dotted(steps)
        return str(loc.path), doc.line(steps), label

    def add(self, loc: Located, rest: tuple[str | int, ...], message: str) -> None:
        path, line, label = self.where(loc, *rest)
        self.problems.append(Problem(path, line, label, message))

    def run(self) -> Knowledge:
        if not self.directory.is_dir():
            raise KnowledgeError([Problem(str(self.directory), 0, "", "not a directory")])
        files = knowledge_files(self.directory)
        if not files:
            raise KnowledgeError([Problem(str(self.directory), 0, "", "no .yaml files")])
        for path in files:
            self._load_file(path)
        self._check_aliases()
        self._check_refs()
        self._check_required()
        if self.problems:
            self.problems.sort(key=lambda p: (p.path, p.line))
            raise KnowledgeError(self.problems)
        return self.knowledge

    def _load_file(self, path: Path) -> None:
        doc = _parse(path)
        self.docs[path] = doc
        self.problems.extend(doc.problems)
        if doc.root is None:
            return
        if not isinstance(doc.data, dict):
            self.problems.append(Problem(str(path), 1, "", "top level must be a mapping of sections"))
            return
        for section, items in doc.data.items():
            if section not in SECTIONS:
                hint = suggest(section, SECTIONS)
                msg = f"unknown section {section!r}" + (f"; did you mean {hint!r}?" if hint else "")
                msg += f" (sections: {', '.join(SECTIONS)})"
                self.problems.append(Problem(str(path), doc.line((section,)), section, msg))
                continue
            if not isinstance(items, list):
                self.problems.append(Problem(str(path), doc.line((section,)), section, "must be a list"))
                continue
            self._load_section(doc, section, items)

    def _load_section(self, doc: _Doc, section: str, items: list[Any]) -> None:
        kind, model = SECTIONS[section]
        try:
            entries: list[Any] = _adapter(model).validate_python(items)
            valid = list(enumerate(entries))
        except ValidationError:
            valid = []
            for i, item in enumerate(items):
                try:
                    valid.append((i, model.model_validate(item)))
                except ValidationError as exc:
                    for err in exc.errors():
                        self._schema_problem(doc, section, i, item, model, err)
        table = self.knowledge.entries.setdefault(kind, {})
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
            msg = f"unknown field {loc[-1]!r}" + (f"; did you mean {hint!r}?" if hint else "")
        elif kind == "missing":
            msg = "required field is missing"
        elif kind == "string_too_long":
            limit = err.get("ctx", {}).get("max_length")
            msg = f"text is {len(err['input'])} characters; the limit is {limit}"
        elif kind in ("string_too_short", "too_short") and isinstance(err.get("input"), str):
            msg = "must not be empty"
        elif kind == "string_pattern_mismatch" and "url" not in loc:
            msg = f"{err['input']!r} is not a valid id (lowercase letters, digits and '-')"
        self.problems.append(Problem(str(doc.path), doc.line(steps), label, msg))

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
        for kind, table in entries.items():
            model = SECTIONS[next(s for s, (k, _) in SECTIONS.items() if k == kind)][1]
            for field_name, ref in _ref_fields(model):
                for loc in table.values():
                    for i, target in enumerate(cast(list[str], getattr(loc.entry, field_name))):
                        if any(target in entries.get(k, {}) for k in ref.kinds):
                            continue
                        known = [i for k in ref.kinds for i in entries.get(k, {})]
                        hint = suggest(target, known)
                        what = " or ".join(ref.kinds)
                        msg = f"unknown {what} {target!r}" + (f"; did you mean {hint!r}?" if hint else "")
                        self.add(loc, (field_name, i), msg)

    def _check_required(self) -> None:
        entries = self.knowledge.entries
        for kind, ids in REQUIRED_IDS.items():
            missing = [i for i in ids if i not in entries.get(kind, {})]
            if missing:
                path, line = self._section_home(kind)
                self.problems.append(
                    Problem(path, line, kind, f"required {kind} entries missing: {', '.join(missing)}")
                )
        tips = len(entries.get("tip", {}))
        if tips < MIN_TIPS:
            path, line = self._section_home("tip")
            self.problems.append(Problem(path, line, "tips", f"{tips} tips; at least {MIN_TIPS} are required"))

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


def load(directory: Path | None = None) -> Knowledge:
    """Load and validate ``directory``; raise :class:`KnowledgeError` listing every problem."""
    with _gc_paused():
        return _Validator(directory or default_knowledge_dir()).run()
