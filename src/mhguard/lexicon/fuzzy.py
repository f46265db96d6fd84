"""Bounded fuzzy matching of misspelt and censored words (``suicde``, ``kil``, ``s*icide``).

Only a token that is no word of the lexicon is looked at, and only lexicon words of 4 letters or more that
are not stopwords are targets. A target of 4-7 letters may be one edit away, one of 8 or more two edits
(optimal string alignment, so a swapped pair of letters is one edit), and must share the token's first
letter, except when the token has a ``*`` standing for censored letters. Results are cached per token text
(most words of a conversation repeat), so a message costs a few dict lookups once the cache is warm.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Final

from rapidfuzz import process
from rapidfuzz.distance import OSA

__all__ = ["FuzzyIndex", "max_edits", "squeeze"]

MIN_TARGET: Final = 4
#: Distinct token texts remembered; the cache is emptied when full, which keeps memory bounded.
CACHE_SIZE: Final = 50_000
#: A token this much longer than the longest target cannot be within reach: skip without computing.
_SLACK: Final = 2


Candidates = tuple[tuple[str, ...], tuple[str, ...]]  # (whole words, prefix stems)


def squeeze(word: str) -> str:
    """Collapse runs of a repeated character: ``diiiie`` -> ``die``, ``kill`` -> ``kil``."""
    out = []
    last = ""
    for c in word:
        if c != last:
            out.append(c)
            last = c
    return "".join(out)


def max_edits(target: str) -> int:
    """Edits allowed between a token and the lexicon word ``target``."""
    return 2 if len(target) >= 8 else 1


def _wildcard_equal(token: str, word: str) -> bool:
    return len(token) == len(word) and all(a == "*" or a == b for a, b in zip(token, word, strict=True))


class FuzzyIndex:
    """Lexicon words grouped by first letter, with a per-token cache of what a token may stand for."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        stems: Iterable[str] = (),
        *,
        stopwords: Iterable[str] = (),
        ignore: Iterable[str] = (),
    ) -> None:
        vocab = set(vocabulary)
        stop = set(stopwords)
        # targets by (first letter, length): a token is compared only with words it can be within reach of
        self._words: dict[tuple[str, int], list[str]] = {}
        self._all_words: list[str] = []
        for w in sorted(vocab):
            if len(w) >= MIN_TARGET and w not in stop and w.isalpha():
                self._words.setdefault((w[0], len(w)), []).append(w)
                self._all_words.append(w)
        self._stems: dict[str, list[str]] = {}
        self._all_stems: list[str] = []
        for s in sorted(set(stems)):
            if len(s) >= MIN_TARGET and s not in stop and s.isalpha():
                self._stems.setdefault(s[0], []).append(s)
                self._all_stems.append(s)
        longest = max((len(w) for w in self._all_words + self._all_stems), default=0)
        self._max_len = longest + _SLACK
        # exact lexicon words and ignored words never go through the fuzzy matcher
        self._fixed: dict[str, Candidates | None] = dict.fromkeys(vocab | set(ignore) | stop)
        self._cache: dict[str, Candidates | None] = dict(self._fixed)
        self._lock = threading.Lock()

    def lookup(self, token: str) -> Candidates | None:
        """Lexicon words and stems ``token`` may be a misspelling of, or ``None``."""
        try:
            return self._cache[token]
        except KeyError:
            pass
        result = self._compute(token)
        with self._lock:
            if len(self._cache) >= CACHE_SIZE + len(self._fixed):
                self._cache = dict(self._fixed)
            self._cache[token] = result
        return result

    def _compute(self, token: str) -> Candidates | None:
        n = len(token)
        if n < MIN_TARGET - 1 or n > self._max_len or not token.replace("*", "").isalpha():
            return None
        starred = "*" in token
        if starred:
            if token.count("*") * 2 > n:
                return None  # mostly stars: too little left to tell what the word was
            words = self._all_words
            stems = self._all_stems
        else:
            words = [w for k in range(n - 2, n + 3) for w in self._words.get((token[0], k), ())]
            stems = [st for st in self._stems.get(token[0], ()) if len(st) <= n + 1]
        found: list[str] = []
        if words:
            for w, dist, _ in process.extract(token, words, scorer=OSA.distance, score_cutoff=2, limit=None):
                if dist <= max_edits(w) and abs(len(w) - n) <= dist:
                    found.append(w)
            if starred:
                found.extend(w for w in words if w not in found and _wildcard_equal(token, w))
        found_stems: list[str] = []
        for s in stems:
            k = len(s)
            if n < k - 1:
                continue
            limit = max_edits(s)
            best = min(OSA.distance(token[:m], s, score_cutoff=limit) for m in (k - 1, k, k + 1) if m <= n)
            if best <= limit or (starred and _wildcard_equal(token[:k], s)):
                found_stems.append(s)
        if not found and not found_stems:
            return None
        return tuple(found), tuple(found_stems)

    def reachable(self, words: Iterable[str]) -> list[str]:
        """The ``words`` the fuzzy matcher would read as misspellings of lexicon words.

        Run it over a dictionary of real words to write a language's ``fuzzy.ignore`` list: a real word
        is never a misspelling.
        """
        out = []
        for w in words:
            if w in self._fixed:
                continue
            if self._compute(w) is not None:
                out.append(w)
        return sorted(set(out))
