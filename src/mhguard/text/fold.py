"""Spelling folds for word matching: the forms people type without accents match the written forms.

People in crisis type fast, on phones, often without accents or diacritics: "ya no aguanto mas",
"j'ai plus envie de vivre, c'est deja trop", "ich moechte nicht mehr", "اريد ان اموت" without hamza. The
lexicons are written with correct spelling, and the matcher compares words through :func:`fold_word`
applied to both sides, so either spelling matches either.

``fold_word`` (only ever called on words that are not ASCII):
- Latin/Greek/Cyrillic combining accents are dropped ("más" -> "mas", "déjà" -> "deja", "möchte" ->
  "mochte"); the German digraph spelling ("moechte") is covered by :func:`digraph_variant`, which gives
  the compiled lexicon a second form of each phrase word with an umlaut;
- Arabic: short vowels and other harakat, tatweel and the hamza seats are dropped or unified
  (أ/إ/آ -> ا, ة -> ه, ى -> ي; Persian/Urdu yeh and kaf -> Arabic ones), as informal writing does;
- Devanagari: nukta dropped, chandrabindu written as anusvara (हूँ / हूं), as both are typed;
- everything else (Han, kana: dakuten stay, they change the word) is left as it is.

Folding only merges spellings of one word in practice; the rare merges of two words ("más"/"mas" in
Spanish: "more"/"but") cost nothing, since no rule turns on that difference.
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["digraph_variant", "fold_word"]

_DROP: Final = frozenset(
    [*range(0x0300, 0x0370),  # combining diacritical marks (Latin, Greek, Cyrillic accents)
     *range(0x064B, 0x0660), 0x0670, 0x0640,  # Arabic harakat, superscript alef, tatweel
     0x093C]  # Devanagari nukta
)
_MAP: Final = str.maketrans({
    "ة": "ه", "ى": "ي", "ی": "ي", "ک": "ك", "ٱ": "ا",
    "\u0901": "\u0902",  # chandrabindu -> anusvara
})
_UMLAUTS: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})

_cache: dict[str, str] = {}
_CACHE_MAX: Final = 50_000


def fold_word(word: str) -> str:
    """The folded form of one normalised (case-folded) word; ASCII words are returned unchanged."""
    if word.isascii():
        return word
    hit = _cache.get(word)
    if hit is not None:
        return hit
    decomposed = unicodedata.normalize("NFD", word)
    kept = "".join(c for c in decomposed if ord(c) not in _DROP)
    folded = unicodedata.normalize("NFC", kept).translate(_MAP)
    if not folded:  # a word made only of marks stays itself rather than vanish
        folded = word
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[word] = folded
    return folded


def digraph_variant(word: str) -> str | None:
    """The German digraph spelling of a word with an umlaut ("möchte" -> "moechte"), folded; else None."""
    if not any(c in word for c in "äöü"):
        return None
    return fold_word(word.translate(_UMLAUTS))
