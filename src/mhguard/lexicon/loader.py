"""Loading lexicon files: YAML with line numbers, validation, phrase expansion, all or nothing.

Every problem raises :class:`~mhguard.errors.PolicyError` naming the file, the line and the rule path
(``suicide.yaml:42: rules[3].phrases[1]: unbalanced parenthesis: '(' is never closed``), so a clinician
editing a lexicon sees where the problem is. Nothing is returned half loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import regex
import yaml
from pydantic import ValidationError

from mhguard.errors import PolicyError
from mhguard.lexicon.models import LexiconFile, Rule
from mhguard.lexicon.phrase import PhraseError, Variant, expand_phrase

if TYPE_CHECKING:
    from mhguard.lexicon.matcher import CompiledLexicon

__all__ = [
    "BUILTIN_DIR",
    "CONTEXT_FILE",
    "Lexicon",
    "LexiconRule",
    "builtin_lexicon_names",
    "compile_rules",
    "load_lexicon",
    "load_yaml",
]

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "lexicons"
#: A language folder's context cues (read by the crisis filter), not rules: skipped by load_lexicon.
CONTEXT_FILE = "context.yaml"


@dataclass(frozen=True, slots=True)
class LexiconRule:
    """A validated rule with its expanded phrase variants, compiled regexes and where it came from."""

    rule: Rule
    variants: tuple[tuple[int, Variant], ...]  # (phrase index, variant)
    patterns: tuple[regex.Pattern[str], ...]
    source: str
    line: int | None
    path: str

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}: {self.path}" if self.line is not None else f"{self.source}: {self.path}"


class Lexicon:
    """Validated rules from one or more lexicon files, ready to compile into a matcher. Immutable."""

    __slots__ = ("_by_id", "files", "language", "rules")

    def __init__(self, rules: Iterable[LexiconRule], *, language: str, files: Sequence[str] = ()) -> None:
        self.rules: tuple[LexiconRule, ...] = tuple(rules)
        self.language = language
        self.files: tuple[str, ...] = tuple(files)
        by_id: dict[str, LexiconRule] = {}
        for r in self.rules:
            other = by_id.get(r.id)
            if other is not None:
                raise PolicyError(
                    f"duplicate rule id {r.id!r} (first defined at {other.where})",
                    source=r.source, line=r.line, path=r.path,
                )
            by_id[r.id] = r
        self._by_id = by_id

    def __len__(self) -> int:
        return len(self.rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._by_id

    def __repr__(self) -> str:
        return f"Lexicon(language={self.language!r}, rules={len(self.rules)}, files={len(self.files)})"

    def get(self, rule_id: str) -> LexiconRule | None:
        return self._by_id.get(rule_id)

    def merged(self, *others: Lexicon) -> Lexicon:
        """One lexicon with the rules of all; a rule id defined twice is an error."""
        rules = list(self.rules)
        files = list(self.files)
        for other in others:
            rules.extend(other.rules)
            files.extend(other.files)
        return Lexicon(rules, language=self.language, files=files)

    def without(self, rule_ids: Iterable[str], *, source: str = "<config>", path: str = "disable_rules") -> Lexicon:
        """The lexicon less some rules; an unknown id is an error (a typo must not leave a rule on)."""
        drop = set()
        for i, rid in enumerate(rule_ids):
            if rid not in self._by_id:
                import difflib

                close = difflib.get_close_matches(rid, list(self._by_id), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise PolicyError(f"unknown rule id {rid!r}{hint}", source=source, path=f"{path}[{i}]")
            drop.add(rid)
        return Lexicon((r for r in self.rules if r.id not in drop), language=self.language, files=self.files)

    def compile(self, **options: Any) -> CompiledLexicon:
        """A :class:`~mhguard.lexicon.matcher.CompiledLexicon`; options go to its constructor."""
        from mhguard.lexicon.matcher import CompiledLexicon

        return CompiledLexicon(self.rules, **options)


# ----------------------------------------------------------------------------------------------- YAML
# libyaml's loader when the installed PyYAML has it (ten times faster on the built-in lexicons)
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader whose node tree is checked for duplicate mapping keys (YAML keeps the last one)."""


def _check_duplicates(node: yaml.Node, source: str, path: str = "") -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else None
            sub = f"{path}.{k}" if path else str(k)
            if k is not None and k in seen:
                raise PolicyError(
                    f"duplicate key {k!r} (first on line {seen[k]})",
                    source=source, line=key.start_mark.line + 1, path=sub,
                )
            if k is not None:
                seen[k] = key.start_mark.line + 1
            _check_duplicates(value, source, sub)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(item, source, f"{path}[{i}]")


def load_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML safely; returns the data and its node tree (for line numbers)."""
    try:
        loader = _UniqueKeyLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, None
            _check_duplicates(node, source)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise PolicyError(f"invalid YAML: {exc.problem or exc}", source=source, line=line) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {exc}", source=source) from None
    return data, node


def node_at(root: yaml.Node | None, loc: Sequence[str | int]) -> yaml.Node | None:
    """The deepest node along ``loc`` (keys and indexes), for error line numbers."""
    node = root
    best = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    nxt = value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        node = best = nxt
    return best


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _line(root: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    node = node_at(root, loc)
    return node.start_mark.line + 1 if node is not None else None


def _clean_loc(loc: Sequence[str | int]) -> list[str | int]:
    # pydantic adds union-member names ("str", "Example") to a location; they are no YAML keys.
    return [p for p in loc if isinstance(p, int) or p[:1].islower() or p == "Example"][: len(loc)]


def _validation_error(exc: ValidationError, source: str, root: yaml.Node | None) -> PolicyError:
    errors = exc.errors()
    err = errors[0]
    loc = [p for p in _clean_loc(err["loc"]) if p not in ("str", "Example", "function-after")]
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "extra_forbidden":
        msg = f"unknown key {loc[-1]!r}" if loc else msg
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return PolicyError(msg + more, source=source, line=_line(root, loc), path=format_loc(loc))


# ----------------------------------------------------------------------------------------------- rules
# Python's own regex parser measures look-behinds (re._parser from 3.11, sre_parse before)
try:
    _re_parser: Any = importlib.import_module("re._parser")
    _re_const: Any = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover - Python 3.10
    _re_parser = importlib.import_module("sre_parse")
    _re_const = importlib.import_module("sre_constants")

#: Longest run of any character (``.{0,n}``, ``[^\n]{0,n}``) a look-behind of a rule regex may have.
MAX_LOOKBEHIND = 64


def _widest_any_run(tree: Any) -> int:
    """The longest run of "any character" (``.``, ``[^...]``) a look-behind may have to walk back over.

    Runs of word characters or spaces (``\\w+``, ``\\s*``) stop at the first other character and cost
    little; ``.{0,160}`` or ``[^\\n]{0,200}`` walk the whole window at every position.
    """
    widest = 0
    stack: list[Any] = [tree]
    while stack:
        items = stack.pop()
        for op, av in getattr(items, "data", items):
            if op in (_re_const.MAX_REPEAT, _re_const.MIN_REPEAT):
                _, high, item = av
                first = list(getattr(item, "data", item))[:1]
                if first and (first[0][0] in (_re_const.ANY, _re_const.NOT_LITERAL) or (
                        first[0][0] is _re_const.IN and first[0][1][:1] and first[0][1][0][0] is _re_const.NEGATE)):
                    widest = max(widest, high)
                stack.append(item)
            elif hasattr(av, "data"):
                stack.append(av)
            elif isinstance(av, (tuple, list)):
                for part in av:
                    if hasattr(part, "data"):
                        stack.append(part)
                    elif isinstance(part, list):
                        stack.extend(part)
    return widest


def _slow_construct(pattern: str) -> str | None:
    """A regex construct that makes every message pay, or None.

    A look-behind with a long run of any character (the ``regex`` module allows variable-width ones)
    walks back over the whole window at every position of the text: ``(?<=\bdied\b.{0,160}?)`` alone
    costs hundreds of microseconds per message. Runs of up to :data:`MAX_LOOKBEHIND` are fine.
    """
    try:
        tree = _re_parser.parse(pattern.replace("\\K", ""))
    except Exception:
        return None  # syntax only the regex module knows: nothing to measure
    stack: list[Any] = [tree]
    while stack:
        items = stack.pop()
        for op, av in getattr(items, "data", items):
            if op in (_re_const.ASSERT, _re_const.ASSERT_NOT) and av[0] == -1:
                widest = _widest_any_run(av[1])
                if widest > MAX_LOOKBEHIND:
                    size = "unbounded" if widest >= _re_const.MAXREPEAT else f"up to {widest} characters"
                    return (
                        f"look-behind with a run of any character {size} long (at most {MAX_LOOKBEHIND}): it is "
                        "re-matched at every position of every message; match forwards and keep the match "
                        "start with \\K instead ('\\bdied\\b.{0,100}?\\K\\bjoin' rather than "
                        "'(?<=\\bdied\\b.{0,100}?)\\bjoin')"
                    )
            for part in av if isinstance(av, (tuple, list)) else ():
                if hasattr(part, "data"):
                    stack.append(part)  # a sub-pattern
                elif isinstance(part, list):
                    stack.extend(part)  # the branches of an alternation
    return None


def compile_rules(
    rules: Sequence[Rule],
    *,
    define: Mapping[str, str] | None = None,
    source: str,
    root: yaml.Node | None = None,
    base_path: Sequence[str | int] = ("rules",),
) -> list[LexiconRule]:
    """Expand every phrase and compile every regex of ``rules``; errors name file, line and rule path."""
    out: list[LexiconRule] = []
    for i, rule in enumerate(rules):
        rpath = [*base_path, i]
        variants: list[tuple[int, Variant]] = []
        for j, phrase in enumerate(rule.phrases):
            try:
                for v in expand_phrase(phrase, define):
                    variants.append((j, v))
            except PhraseError as exc:
                loc = [*rpath, "phrases", j]
                raise PolicyError(str(exc), source=source, line=_line(root, loc), path=format_loc(loc)) from None
        patterns: list[regex.Pattern[str]] = []
        for j, pattern in enumerate(rule.regex):
            loc = [*rpath, "regex", j]
            try:
                compiled = regex.compile(pattern)
            except regex.error as exc:
                raise PolicyError(
                    f"invalid regex: {exc}", source=source, line=_line(root, loc), path=format_loc(loc)
                ) from None
            if compiled.search("") is not None:
                raise PolicyError(
                    "regex matches the empty string", source=source, line=_line(root, loc), path=format_loc(loc)
                )
            problem = _slow_construct(pattern)
            if problem:
                raise PolicyError(problem, source=source, line=_line(root, loc), path=format_loc(loc))
            patterns.append(compiled)
        out.append(
            LexiconRule(
                rule=rule,
                variants=tuple(variants),
                patterns=tuple(patterns),
                source=source,
                line=_line(root, rpath),
                path=format_loc(rpath),
            )
        )
    return out


def load_lexicon_file(path: Path, *, display: str | None = None) -> Lexicon:
    """Load and validate one lexicon file."""
    source = display or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read lexicon: {exc.strerror or exc}", source=str(path)) from None
    data, root = load_yaml(text, source)
    if not isinstance(data, dict):
        raise PolicyError("a lexicon file must be a mapping with 'language' and 'rules'", source=source, line=1)
    try:
        model = LexiconFile.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, source, root) from None
    for name, value in model.define.items():
        try:
            expand_phrase(value, model.define)
        except PhraseError as exc:
            loc = ["define", name]
            raise PolicyError(str(exc), source=source, line=_line(root, loc), path=format_loc(loc)) from None
    rules = compile_rules(model.rules, define=model.define, source=source, root=root)
    return Lexicon(rules, language=model.language, files=(str(path),))


def builtin_lexicon_names() -> list[str]:
    """Names of the built-in lexicons (language folders shipped with the package)."""
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(p.name for p in BUILTIN_DIR.iterdir() if p.is_dir() and any(p.glob("*.yaml")))


def _lexicon_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.name != CONTEXT_FILE)


def resolve_lexicon(source: str | Path, *, base_dir: Path | None = None) -> tuple[Path, bool]:
    """The path a lexicon reference points to, and whether it is a built-in."""
    if isinstance(source, str) and "/" not in source and "\\" not in source and not source.endswith(
        (".yaml", ".yml")
    ):
        folder = BUILTIN_DIR / source
        if folder.is_dir():
            return folder, True
        known = ", ".join(builtin_lexicon_names()) or "none"
        raise PolicyError(f"unknown built-in lexicon {source!r} (built-in: {known}; or give a path to a .yaml file)")
    path = Path(source)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.exists():
        raise PolicyError(f"lexicon not found: {path}")
    return path, False


def load_lexicon(source: str | Path, *, base_dir: Path | None = None) -> Lexicon:
    """Load a built-in lexicon by name (``"en"``: every file of ``lexicons/en/``), a file, or a folder.

    Relative paths are resolved against ``base_dir`` (the policy's folder) when given. Duplicate rule
    ids across the files are an error.
    """
    path, builtin = resolve_lexicon(source, base_dir=base_dir)
    if path.is_dir():
        files = _lexicon_files(path)
        if not files:
            raise PolicyError(f"no lexicon files (*.yaml) in {path}")
        parts = [load_lexicon_file(f, display=f.name if builtin else None) for f in files]
        languages = {p.language for p in parts}
        if len(languages) > 1:
            raise PolicyError(f"lexicon files in {path} mix languages: {', '.join(sorted(languages))}")
        return parts[0].merged(*parts[1:])
    return load_lexicon_file(path)
