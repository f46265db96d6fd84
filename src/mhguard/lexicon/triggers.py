"""Cheap pre-checks for rule regexes: literal text that every match of a pattern must contain.

Calling a compiled regex with a timeout costs a few microseconds even when it finds nothing, and a message
is checked against every rule regex. Most lexicon regexes contain some literal word in every match
(``\\bi (?:keep|am) burning myself\\b`` always contains "burning myself"), so a substring test on the text
(C speed, tens of nanoseconds) can skip the call. The analysis is conservative: when in doubt (syntax only
the ``regex`` module knows, no literal that every match needs) there is no pre-check and the regex runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, Final

__all__ = ["required_literals"]

#: Literal runs shorter than this are too common to be worth a check.
MIN_LITERAL: Final = 3
#: More alternatives than this and the checks cost more than the regex call they would save.
MAX_ALTERNATIVES: Final = 12

try:  # Python 3.11+
    _parser: Any = importlib.import_module("re._parser")
    _const: Any = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover - Python 3.10
    _parser = importlib.import_module("sre_parse")
    _const = importlib.import_module("sre_constants")

_Set = frozenset[str]


def _better(a: _Set | None, b: _Set | None) -> _Set | None:
    """The more selective of two trigger sets: fewer alternatives, then longer shortest literal."""
    if a is None:
        return b
    if b is None:
        return a
    ka = (len(a), -min(len(w) for w in a))
    kb = (len(b), -min(len(w) for w in b))
    return a if ka <= kb else b


def _sequence(items: Iterable[tuple[Any, Any]]) -> _Set | None:
    best: _Set | None = None
    run: list[str] = []

    def flush() -> None:
        nonlocal best
        text = "".join(run).strip()
        run.clear()
        if len(text) >= MIN_LITERAL:
            best = _better(best, frozenset({text}))

    for op, av in items:
        if op is _const.LITERAL:
            run.append(chr(av))
            continue
        flush()
        sub: _Set | None = None
        if op is _const.SUBPATTERN:
            sub = _sequence(av[-1])
        elif op is _const.BRANCH:
            parts = [_sequence(branch) for branch in av[1]]
            if parts and all(p is not None for p in parts):
                union = frozenset().union(*(p for p in parts if p is not None))
                if len(union) <= MAX_ALTERNATIVES:
                    sub = union
        elif op in (_const.MAX_REPEAT, _const.MIN_REPEAT) or op is getattr(_const, "POSSESSIVE_REPEAT", None):
            low, _, item = av
            if low >= 1:
                sub = _sequence(item)
        elif op is getattr(_const, "ATOMIC_GROUP", None):
            sub = _sequence(av)
        best = _better(best, sub)
    flush()
    return best


def required_literals(pattern: str) -> frozenset[str] | None:
    """Literal strings of which every match of ``pattern`` contains at least one, or ``None``.

    Only patterns without flags are analysed (the lexicon's are matched on lower-case normalised text).
    """
    try:
        tree = _parser.parse(pattern)
    except Exception:  # syntax of the regex module only, or anything unexpected: no pre-check
        return None
    if tree.state.flags & ~(_const.SRE_FLAG_UNICODE | getattr(_const, "SRE_FLAG_VERBOSE", 0)):
        return None
    return _sequence(tree.data)
