"""The phrase syntax: parse, expand alternatives and optionals into variants, normalise literal words.

A variant is a tuple of elements, each ``(kind, value)``: ``(WORD, "die")`` one literal word,
``(PREFIX, "suicid")`` a word starting with the stem, ``(GAP, "")`` 0 to :data:`GAP_MAX` arbitrary words.
Literal words go through :func:`mhguard.text.normalize.normalize`, so a phrase is written the way people
write ("i'm", "don't") and still matches the normalised text ("i am", "do not").
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from mhguard.text.normalize import normalize

__all__ = [
    "GAP",
    "GAP_MAX",
    "MAX_VARIANTS",
    "PREFIX",
    "WORD",
    "Element",
    "PhraseError",
    "Variant",
    "expand_phrase",
]

WORD: Final = 0
PREFIX: Final = 1
GAP: Final = 2
#: A gap ``...`` stands for 0 to GAP_MAX arbitrary words.
GAP_MAX: Final = 3
#: More variants than this means the phrase should be split or use a prefix word instead.
MAX_VARIANTS: Final = 256
MIN_STEM: Final = 3

Element = tuple[int, str]
Variant = tuple[Element, ...]

_SPECIAL = frozenset("()[]|<>")
# characters that only make sense in a regular expression: a phrase using them is a mistake
_REGEX_CHARS = frozenset("?+{}^$\\")


class PhraseError(ValueError):
    """A phrase does not follow the syntax; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class _Seq:
    items: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Alt:
    options: tuple[_Seq, ...]
    optional: bool


@dataclass(frozen=True, slots=True)
class _Word:
    text: str


@dataclass(frozen=True, slots=True)
class _Gap:
    pass


@dataclass(frozen=True, slots=True)
class _Class:
    name: str


_Node: TypeAlias = "_Word | _Gap | _Class | _Alt"


def _lex(phrase: str) -> list[str]:
    out: list[str] = []
    i, n = 0, len(phrase)
    while i < n:
        c = phrase[i]
        if c.isspace():
            i += 1
        elif phrase.startswith("...", i) or c == "…":
            out.append("...")
            i += 1 if c == "…" else 3
        elif c == "<":
            j = phrase.find(">", i)
            if j < 0:
                raise PhraseError("unclosed '<' of a word class")
            out.append(phrase[i : j + 1])
            i = j + 1
        elif c in _SPECIAL:
            if c == ">":
                raise PhraseError("'>' without '<'")
            out.append(c)
            i += 1
        else:
            j = i
            while j < n and not phrase[j].isspace() and phrase[j] not in _SPECIAL and not phrase.startswith(
                "...", j
            ) and phrase[j] != "…":
                j += 1
            out.append(phrase[i:j])
            i = j
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def parse(self) -> _Seq:
        seq = self._alts(closing=None)
        if self.pos < len(self.tokens):
            tok = self.tokens[self.pos]
            raise PhraseError(f"unbalanced parenthesis: unexpected {tok!r}")
        if len(seq.options) != 1:
            raise PhraseError("'|' outside parentheses: write (a|b)")
        return seq.options[0]

    def _alts(self, closing: str | None) -> _Alt:
        options: list[_Seq] = []
        items: list[_Node] = []
        while self.pos < len(self.tokens):
            tok = self.tokens[self.pos]
            if tok in (")", "]"):
                if tok != closing:
                    raise PhraseError(f"unbalanced parenthesis: unexpected {tok!r}")
                break
            self.pos += 1
            if tok == "|":
                options.append(self._finish_option(items))
                items = []
            elif tok in ("(", "["):
                close = ")" if tok == "(" else "]"
                inner = self._alts(close)
                if self.pos >= len(self.tokens) or self.tokens[self.pos] != close:
                    raise PhraseError(f"unbalanced parenthesis: {tok!r} is never closed")
                self.pos += 1
                items.append(_Alt(inner.options, optional=tok == "["))
            elif tok == "...":
                items.append(_Gap())
            elif tok.startswith("<"):
                name = tok[1:-1].strip()
                if not name:
                    raise PhraseError("empty word class '<>'")
                items.append(_Class(name))
            else:
                items.append(_Word(tok))
        options.append(self._finish_option(items))
        return _Alt(tuple(options), optional=False)

    @staticmethod
    def _finish_option(items: list[_Node]) -> _Seq:
        if not items:
            raise PhraseError("empty alternative: use [optional words] for something that may be left out")
        return _Seq(tuple(items))


def parse_phrase(phrase: str) -> _Seq:
    """Parse a phrase into its syntax tree; :class:`PhraseError` on a syntax error."""
    tokens = _lex(phrase)
    if not tokens:
        raise PhraseError("empty phrase")
    return _Parser(tokens).parse()


Normalizer = Callable[[str], tuple[str, ...]]


@functools.lru_cache(maxsize=65536)
def _default_words(word: str) -> tuple[str, ...]:
    # the same few thousand words recur across phrases and word classes: normalise each once
    return tuple(t.text for t in normalize(word).tokens)


class _Expander:
    def __init__(self, define: Mapping[str, str], words: Normalizer) -> None:
        self.define = define
        self.words = words
        self.classes: dict[str, list[Variant]] = {}
        self.active: set[str] = set()

    def seq(self, seq: _Seq) -> list[Variant]:
        variants: list[Variant] = [()]
        for item in seq.items:
            parts = self.node(item)
            if len(variants) * len(parts) > MAX_VARIANTS:
                raise PhraseError(f"expands to more than {MAX_VARIANTS} variants; split it or use word*")
            variants = [v + p for v in variants for p in parts]
        return variants

    def node(self, node: _Node) -> list[Variant]:
        if isinstance(node, _Word):
            return [self.word(node.text)]
        if isinstance(node, _Gap):
            return [((GAP, ""),)]
        if isinstance(node, _Class):
            return self.word_class(node.name)
        out: list[Variant] = [()] if node.optional else []
        for option in node.options:
            out.extend(self.seq(option))
            if len(out) > MAX_VARIANTS:
                raise PhraseError(f"expands to more than {MAX_VARIANTS} variants; split it or use word*")
        return out

    def word(self, text: str) -> Variant:
        prefix = text.endswith("*")
        body = text.rstrip("*") if prefix else text
        if "*" in body:
            raise PhraseError(f"{text!r}: '*' may only end a word (word* = any word starting with word)")
        if any(c in body for c in _REGEX_CHARS):
            raise PhraseError(
                f"{text!r} looks like regex syntax: phrases use [optional words], (a|b) and word*; "
                "put regular expressions under 'regex:'"
            )
        words = self.words(body)
        if not words:
            raise PhraseError(f"{text!r} has no letters or digits")
        if not prefix:
            return tuple((WORD, w) for w in words)
        if len(words[-1]) < MIN_STEM:
            raise PhraseError(f"{text!r}: a prefix word needs at least {MIN_STEM} letters before '*'")
        return (*((WORD, w) for w in words[:-1]), (PREFIX, words[-1]))

    def word_class(self, name: str) -> list[Variant]:
        cached = self.classes.get(name)
        if cached is not None:
            return cached
        if name not in self.define:
            known = ", ".join(sorted(self.define)) or "none defined"
            raise PhraseError(f"unknown word class <{name}> (known: {known})")
        if name in self.active:
            raise PhraseError(f"word class <{name}> refers to itself")
        self.active.add(name)
        try:
            variants = self.seq(parse_phrase(self.define[name]))
        except PhraseError as exc:
            raise PhraseError(f"in word class <{name}>: {exc}") from None
        finally:
            self.active.discard(name)
        self.classes[name] = variants
        return variants


def expand_phrase(
    phrase: str, define: Mapping[str, str] | None = None, *, words: Normalizer | None = None
) -> list[Variant]:
    """All word sequences a phrase stands for, each literal word normalised.

    Raises :class:`PhraseError` for a syntax error, an unknown word class, a phrase that starts or ends
    with a gap (a leading gap would make every word a possible start), or more than
    :data:`MAX_VARIANTS` variants.
    """
    expander = _Expander(define or {}, words or _default_words)
    variants = expander.seq(parse_phrase(phrase))
    out: list[Variant] = []
    seen: set[Variant] = set()
    for variant in variants:
        if not variant:
            raise PhraseError("a variant of the phrase is empty (everything in it is optional)")
        if variant[0][0] == GAP:
            raise PhraseError("a phrase must start with a word, not a gap '...'")
        if variant[-1][0] == GAP:
            raise PhraseError("a phrase must not end with a gap '...'")
        for a, b in itertools.pairwise(variant):
            if a[0] == GAP and b[0] == GAP:
                raise PhraseError("two gaps '...' in a row")
        if variant not in seen:
            seen.add(variant)
            out.append(variant)
    return out
