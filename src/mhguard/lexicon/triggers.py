"""Cheap pre-checks for rule regexes: literal text that every match of a pattern must contain.

Calling a compiled regex with a timeout costs a few microseconds even when it finds nothing, and a message
is checked against every rule regex. Most lexicon regexes contain some literal word in every match
(``\\bi (?:keep|am) burning myself\\b`` always contains "burning myself"), so a substring test on the text
(C speed, tens of nanoseconds) can skip the call. The analysis is conservative: when in doubt (syntax only
the ``regex`` module knows, no literal that every match needs) there is no pre-check and the regex runs.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any, Final

__all__ = ["required_clauses", "required_literals", "required_prefixes", "trigger_strength"]

#: Literal runs shorter than this are too common to be worth a check.
MIN_LITERAL: Final = 3
#: More alternatives than this and the checks cost more than the regex call they would save.
MAX_ALTERNATIVES: Final = 12
#: The same for the further literal sets tested only once a regex's first pre-check has let it through
#: (substring tests stop at the first literal found; a regex call costs as much as dozens of them).
MAX_CLAUSE_ALTERNATIVES: Final = 40

try:  # Python 3.11+
    _parser: Any = importlib.import_module("re._parser")
    _const: Any = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover - Python 3.10
    _parser = importlib.import_module("sre_parse")
    _const = importlib.import_module("sre_constants")

_Set = frozenset[str]

# Words so common in messages that a literal made only of them is a poor pre-check ("i am", "can not").
# Only speed depends on this list (a poor pre-check runs the regex more often), never a result.
_COMMON = frozenset(
    "i me my am a an the to of and or in on at is are was were be been have has had do does did not no can "
    "will would could should what when how why who that this it its you your he she they we them from for "
    "with if so just like get go want all about out up down but as by there here then than".split()
)
# Frequent words of everyday chat: a better pre-check than a function word, a worse one than any other word
# ("how long should a note be" is better checked by "note" than by "long"). Speed only, like _COMMON.
_FREQUENT = frozenset(
    "time day days night today week year years now still even ever never always again back over off "
    "only some any every other more most much many very too also well really good bad better best new old "
    "long longer short little big great first last next same own right left way thing things something "
    "nothing everything anything someone everyone anyone people person man friend friends family mom dad "
    "home school work job life world know knew think thought feel felt make made take took come came see "
    "saw say said tell told ask asked give gave keep kept let help need try tried going gonna wanna got "
    "getting being doing having use used find found look looking call start started stop stopped mean "
    "because since while after before until through into onto yeah yes ok okay lol im ive dont cant "
    "one two three which where whom whose each both few such".split()
)


def _length(literal: str) -> int:
    """A literal's length for the MIN_LITERAL bar, a CJK character counting as two: one of them carries
    about as much as a short word ("死", "我爸" is as rare as "dad")."""
    return len(literal) + sum(1 for ch in literal if "\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")


def _strength(literal: str) -> int:
    """How rare a literal is likely to be: its rarest word's score (0 for a function word or a one-letter
    fragment, 1 for a frequent word, else the word's length plus one: a longer word is rarer)."""
    return max((_word_strength(w) for w in literal.split()), default=0)


def _word_strength(word: str) -> int:
    if word in _COMMON or len(word) < 2:
        return 0
    if word in _FREQUENT:
        return 1
    return len(word) + 1


def trigger_strength(literals: frozenset[str]) -> int:
    """How selective a pre-check is likely to be: its weakest literal's longest uncommon word."""
    return min((_strength(w) for w in literals), default=0)


def _better(a: _Set | None, b: _Set | None) -> _Set | None:
    """The more selective of two trigger sets: the rarer weakest literal, then fewer alternatives."""
    if a is None:
        return b
    if b is None:
        return a
    ka = (min(_strength(w) for w in a), -len(a))
    kb = (min(_strength(w) for w in b), -len(b))
    return a if ka >= kb else b


def _sequence(items: Iterable[tuple[Any, Any]], min_literal: int = MIN_LITERAL) -> _Set | None:
    best: _Set | None = None
    run: list[str] = []

    def flush() -> None:
        nonlocal best
        text = "".join(run).strip()
        run.clear()
        if _length(text) >= min_literal:
            best = _better(best, frozenset({text}))

    for op, av in items:
        if op is _const.LITERAL:
            run.append(chr(av))
            continue
        flush()
        sub: _Set | None = None
        if op is _const.SUBPATTERN:
            sub = _sequence(av[-1], min_literal)
        elif op is _const.BRANCH:
            parts = [_sequence(branch, min_literal) for branch in av[1]]
            if parts and all(p is not None for p in parts):
                union = frozenset().union(*(p for p in parts if p is not None))
                if len(union) <= MAX_ALTERNATIVES:
                    sub = union
        elif op in (_const.MAX_REPEAT, _const.MIN_REPEAT) or op is getattr(_const, "POSSESSIVE_REPEAT", None):
            low, _, item = av
            if low >= 1:
                sub = _sequence(item, min_literal)
        elif op is getattr(_const, "ATOMIC_GROUP", None):
            sub = _sequence(av, min_literal)
        elif op is _const.ASSERT:  # a positive look-around's text is in the text too
            sub = _sequence(av[1], min_literal)
        best = _better(best, sub)
    flush()
    return best


def _clauses(items: Iterable[tuple[Any, Any]]) -> list[_Set]:
    """Every literal set that a match needs (all of them), where :func:`_sequence` keeps the best one.
    Short literals count here ("od", "i am"): these sets are tested only after the first pre-check."""
    out: list[_Set] = []
    run: list[str] = []

    def flush() -> None:
        text = "".join(run).strip()
        run.clear()
        if len(text) >= 2:
            out.append(frozenset({text}))

    for op, av in items:
        if op is _const.LITERAL:
            run.append(chr(av))
            continue
        flush()
        if op is _const.SUBPATTERN:
            out.extend(_clauses(av[-1]))
        elif op is _const.BRANCH:
            parts = [_sequence(branch, min_literal=2) for branch in av[1]]
            if parts and all(p is not None for p in parts):
                union = frozenset().union(*(p for p in parts if p is not None))
                if len(union) <= MAX_CLAUSE_ALTERNATIVES:
                    out.append(union)
        elif op in (_const.MAX_REPEAT, _const.MIN_REPEAT) or op is getattr(_const, "POSSESSIVE_REPEAT", None):
            low, _, item = av
            if low >= 1:
                out.extend(_clauses(item))
        elif op is getattr(_const, "ATOMIC_GROUP", None):
            out.extend(_clauses(av))
        elif op is _const.ASSERT:
            out.extend(_clauses(av[1]))
    flush()
    return out


# A Unicode property (\p{L}, \P{Mn}), which only the regex module knows, stands for a set of characters and
# never for literal text, so for finding literals it may be read as any other class (\w); Python's parser
# then reads the pattern instead of giving up on it. An escaped backslash before it ("\\p{") is kept.
_PROPERTY: Final = re.compile(r"(?<!\\)((?:\\\\)*)\\[pP]\{[^{}]*\}")


def _parse(pattern: str) -> Any | None:
    """Python's parse tree of ``pattern``, or ``None`` when it cannot be analysed: syntax only the regex
    module knows, or flags (the lexicon's patterns run on lower-case normalised text without any)."""
    try:
        # \K (keep the match from here) changes no required text; Python's parser does not know it
        tree = _parser.parse(pattern.replace("\\K", ""))
    except Exception:
        return None
    if tree.state.flags & ~(_const.SRE_FLAG_UNICODE | getattr(_const, "SRE_FLAG_VERBOSE", 0)):
        return None
    return tree


def _parse_for_literals(pattern: str) -> Any | None:
    return _parse(_PROPERTY.sub(r"\1\\w", pattern))


def required_clauses(pattern: str) -> list[frozenset[str]]:
    """Literal sets of which every match of ``pattern`` contains one literal EACH (a conjunction):
    ``(?=.*\bpills\b)(?=.*\btonight\b)`` needs "pills" and "tonight". Empty when none can be shown."""
    tree = _parse_for_literals(pattern)
    return [] if tree is None else list(dict.fromkeys(_clauses(tree.data)))


def required_literals(pattern: str) -> frozenset[str] | None:
    """Literal strings of which every match of ``pattern`` contains at least one, or ``None``.

    Only patterns without flags are analysed (the lexicon's are matched on lower-case normalised text).
    Of the possible sets the one with the rarest-looking literals is returned.
    """
    tree = _parse_for_literals(pattern)
    return None if tree is None else _sequence(tree.data)


def _edge(item: tuple[Any, Any] | None, inherited: bool, side: int) -> bool:
    """Is there a word edge between a literal and this neighbouring parse item?

    ``\b``, the start or end of the text, or a literal space next to it; at the end of a group, what the
    group's own neighbour says (``inherited``). ``side`` is -1 for the item before, 1 for the one after.
    """
    if item is None:
        return inherited
    op, av = item
    if op is _const.AT:
        return bool(av in (_const.AT_BOUNDARY, _const.AT_BEGINNING, _const.AT_BEGINNING_STRING,
                           _const.AT_END, _const.AT_END_STRING))
    return op is _const.LITERAL and av == ord(" ")


def _words_of_run(run: str, left: bool, right: bool) -> _Set | None:
    """The word starts of a literal run (as the tokeniser cuts words): the rarest-looking one.

    A part counts when its left edge is a word edge: every match then has a token starting with it.
    """
    parts = run.split(" ")
    complete: list[str] = []
    for i, part in enumerate(parts):
        if not part or not part.isalnum():
            continue
        if i > 0 or left:
            complete.append(part)
    if not complete:
        return None
    return frozenset({max(complete, key=lambda w: (w not in _COMMON, len(w)))})


def _word_sequence(items: list[tuple[Any, Any]], left: bool, right: bool) -> _Set | None:
    best: _Set | None = None
    k = 0
    n = len(items)
    while k < n:
        op, av = items[k]
        before = _edge(items[k - 1] if k > 0 else None, left, -1)
        if op is _const.LITERAL:
            j = k
            while j < n and items[j][0] is _const.LITERAL:
                j += 1
            run = "".join(chr(a) for _, a in items[k:j])
            after = _edge(items[j] if j < n else None, right, 1)
            best = _better(best, _words_of_run(run, before, after))
            k = j
            continue
        after = _edge(items[k + 1] if k + 1 < n else None, right, 1)
        sub: _Set | None = None
        if op is _const.SUBPATTERN:
            sub = _word_sequence(list(av[-1]), before, after)
        elif op is _const.BRANCH:
            parts = [_word_sequence(list(branch), before, after) for branch in av[1]]
            if parts and all(p is not None for p in parts):
                union = frozenset().union(*(p for p in parts if p is not None))
                if len(union) <= MAX_ALTERNATIVES:
                    sub = union
        elif op in (_const.MAX_REPEAT, _const.MIN_REPEAT) or op is getattr(_const, "POSSESSIVE_REPEAT", None):
            low, high, item = av
            if low >= 1 and high == 1:  # a repeated group's own edges are not its neighbours'
                sub = _word_sequence(list(item), before, after)
        best = _better(best, sub)
        k += 1
    return best


def required_prefixes(pattern: str) -> frozenset[str] | None:
    """Word starts of which every match of ``pattern`` has one as the start of a token of the text.

    A literal counts only where the pattern itself fixes its left edge (``\b``, a space, the start of
    the text): ``\bi am cutting(?=...)`` needs a token starting with "cutting". ``None`` when no such
    set can be shown.
    """
    tree = _parse(pattern)
    return None if tree is None else _word_sequence(list(tree.data), False, False)
