"""Text normalisation shared by all filters (INTERFACE STUB: replaced by the full implementation).

``normalize(text)`` returns a :class:`NormalizedText`: the normalised string, its tokens, and a map from
normalised offsets back to the original text, so findings can report spans in what the person wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import regex

__all__ = ["NormalizedText", "Token", "normalize"]

_TOKEN = regex.compile(r"[\p{L}\p{N}\p{M}]+(?:\*+[\p{L}\p{N}\p{M}]+)*")


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int
    elongated: bool = False
    squeezed: str = ""


class NormalizedText:
    __slots__ = ("__dict__", "original", "text")

    def __init__(self, original: str, text: str) -> None:
        self.original = original
        self.text = text

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        return start, end

    def original_slice(self, start: int, end: int) -> str:
        s, e = self.to_original(start, end)
        return self.original[s:e]

    @cached_property
    def tokens(self) -> tuple[Token, ...]:
        return tuple(Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(self.text))


def normalize(text: str) -> NormalizedText:
    return NormalizedText(text, text.lower())
