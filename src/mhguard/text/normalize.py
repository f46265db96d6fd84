"""Text normalisation shared by all filters.

``normalize(text)`` returns a :class:`NormalizedText`: the normalised string (``.text``), its word tokens
(``.tokens``) and a map from normalised offsets back to the original text (``.to_original``), so findings
can report spans in what the person actually wrote. Lexicon phrases are normalised with this same function
and matched token by token, so every rule below applies identically to messages and to phrases.

Pipeline, in order (each step says WHY it sits where it does)
-----------------------------------------------------------------
0. A missing space between two words is put back where the case shows it: after a word of 2+ lower-case
   ASCII letters that runs into a capitalised word ("woodsMaybe" -> "woods Maybe"), and before the pronoun
   "I" ("end itI have nothing" -> "end it I have"). Posts whose title runs into the body and words typed
   without a space otherwise become one unknown word. Names that start with a capital or a single letter
   stay whole ("TikTok", "YouTube", "iPhone", "eBay"). FIRST, because casefolding (step 3) erases the case
   that shows the boundary.
1. Lone surrogates -> U+FFFD, apostrophe variants (’ ‘ ‛ ` ´ ʼ ʹ ′ ＇) -> ``'``, typographic double quotes
   (“ ” „ ‟ ″ ‶ 〝 〞 〟) -> ``"``. One-to-one character swaps, so no offset bookkeeping. Right after step 0
   (which reads only ASCII letters), because NFKC would turn ``´`` into "space + combining accent"
   (splitting "don´t" into two words) and because nothing after this step must ever see a surrogate.
2. Delete invisible characters: every format character (Cf: zero-width space/joiners, bidi controls, soft
   hyphen, BOM, tags ...), every Default_Ignorable code point (variation selectors, Hangul fillers, CGJ ...)
   and every control character (Cc) that is not whitespace. BEFORE NFKC so a base letter and a combining mark
   separated by a zero-width character still compose, and before tokenising so "su\u200bicide" is one word.
   Whitespace controls (\\t \\n \\r and also \\v \\f \\x1c-\\x1f \\x85) are left for step 4.
3. NFKC + casefold (full-width letters, ligatures, superscripts, ß -> ss ...), applied per grapheme-like
   cluster (a character plus its combining marks) so offsets stay exact; NFKC is re-applied when casefold
   breaks it, so the result is NFKC-stable. AFTER deletion (see 2) and BEFORE whitespace handling, because
   NFKC turns no-break and other exotic spaces into plain spaces. A final one-to-one pass maps apostrophes
   that NFKC itself produced (full-width grave accent, triple prime ...).
4. Whitespace: every run of whitespace becomes one space; leading and trailing whitespace is removed.
5. Leetspeak ``!`` / ``@`` inside a word ("k!ll", "h@te") become ``i`` / ``a`` (one-to-one). Only when the
   character sits between word characters, one of its neighbouring letter groups is at most two characters
   long, and the right-hand group is neither a lone "i"/"a" nor a common two-letter word: "anymore!i want",
   "help!me" and "ok!so" are missing spaces, "k!ll" and "suic!de" are leetspeak.
   BEFORE the word pass, because the word pass splits words on punctuation.
6. Word pass over (a) letter-spaced runs and (b) words that may need work; everything else is copied
   untouched. A run is 4+ single letters joined by single spaces or 3+ joined by one of ``. - _ * ·`` (the
   same one throughout), optionally with one leet character between two letters ("s u 1 c 1 d e"); "u r a",
   "i m a" and "e.g." stay. A run is joined into one word ("s u i c i d e", "k.m.s" -> "suicide", "kms"),
   then goes through the same per-word steps as any word (joining first, so "d o n t" and "s u 1 c 1 d e"
   are handled like "dont" and "su1c1de"), in this order:

   a. homoglyphs: Cyrillic/Greek look-alikes -> Latin, only in a word that also contains a Latin letter
      (Russian and Greek text is left alone). First, so the other steps see Latin letters.
   b. leetspeak digits/``$`` (0 1 3 4 5 7 $ -> o i e a s t s), per letter group, only when the group has a
      real letter, no other digit (2 6 8 9 ...), is not number+unit/ordinal ("25m", "10mg", "2nd", "3am"),
      does not start or end with two digits ("30pills", "top10") and has 2+ letters after mapping. Before
      elongation ("d111e" -> "diiie" -> "diie") and before contractions ("d0nt" -> "dont" -> "do not").
   c. elongation: runs of 3+ identical letters -> 2 ("diiiie" -> "diie"); the tokens of the word get
      ``elongated=True`` and ``squeezed`` (every repeated letter collapsed to one: "die"). Not in the
      space-less scripts (a repeated Han character is not elongation).
   d. contractions -> long forms ("I'm"/"Im" -> "i am", "don't"/"dont" -> "do not", "can't"/"cannot" ->
      "can not", "idk" -> "i do not know", "gonna" -> "going to" ...). With an apostrophe: every "n't"
      form, every "'re"/"'ve"/"'ll", "'d" after a pronoun (read as "would"), "'s" after he/she/it/that/
      what/there/who/here/where/how ("is") and "let's" ("let us"); without: only the listed words, never
      ill/id/well/were/its/shell/hell/lets/wed. Last, because it needs the cleaned word, and because an
      elongated contraction ("dooont") is looked up through its squeezed form.
7. Expletive intensifiers before a word are deleted ("I'm fucking ready to die" -> "i am ready to die",
   "a freaking burden" -> "a burden"; not "freaking out"), so phrases need not list them between every two
   words. After the word pass, which makes the contractions they sit among ("im fucking done").
8. Tokens (lazy): maximal runs of letters/digits/marks, with inner ``*`` kept ("s*icide" is one token).
   Characters of scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) are one
   token each (with any combining marks that follow). A possessive ``'s`` is not a token: "people's" ->
   "people" (``.text`` keeps "people's"; other non-expanded ``'s`` too). Emoji and punctuation stay in
   ``.text`` but are not tokens.

Offsets: steps that change lengths (2, 3, 4, 6, 7) each record the regions they replaced; ``to_original``
walks those maps backwards (lazily, with bisect), so the identity case costs nothing. A region that was
replaced as a whole (a contraction, a joined letter-spaced run) maps back to the whole original region:
the token "am" of "I'm fine" maps to "I'm". Spans are clamped like slices and always satisfy
``0 <= start <= end <= len(original)``.

Speed (this runs on every message): a pure-ASCII message skips steps 1-3 (``str.lower`` only); every other
step is gated by a cheap C-level check (``isascii``, ``isprintable``, ``is_normalized``, substring tests,
one precompiled search); step 6 does not scan the words one by one in Python but runs a few cheap screens,
each a single C-level search for something rare (a digit, ``$``, ``'`` or ``*``; a character three times
in a row; a bare contraction among the split words; a single letter between two separators; a Cyrillic or
Greek look-alike next to Latin letters), and only the words they hit reach Python. A single reference regex
for the same step is kept for the tests, which check that both agree. Text without non-ASCII letters is
scanned with stdlib ``re`` (ASCII classes); other text with ``regex`` (Unicode classes), from the same
pattern templates. Tokens of ASCII-like text come from one ``split`` with offsets derived from piece lengths.
All regexes are compiled at import and linear-time; every loop visits each character a bounded number of
times, so 1 MB messages and long runs of one character take well under a second or two.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate, compress
from operator import add, sub
from typing import Any, Final, Protocol

import regex

__all__ = ["NormalizedText", "Token", "normalize"]


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # the normalised token
    start: int  # offsets in the NORMALISED text
    end: int
    elongated: bool = False  # the original word had a run of 3+ identical letters ("diiiie", "sooo")
    squeezed: str = ""  # token with every run of a repeated letter collapsed to one; "" if not elongated


class _TokenBuilder:
    """Mutable twin of :class:`Token` (same slots) whose instances turn into real ``Token`` objects.

    A frozen dataclass ``__init__`` sets each field through ``object.__setattr__`` (~1 us per token on a slow
    machine, three times a plain slot store); tokens are built for every message, so this twin stores the
    slots directly and then switches the instance's class to ``Token`` (allowed: identical slot layout).
    """

    __slots__ = ("elongated", "end", "squeezed", "start", "text")

    def __init__(self, text: str, start: int, end: int, elongated: bool = False, squeezed: str = "") -> None:
        self.text = text
        self.start = start
        self.end = end
        self.elongated = elongated
        self.squeezed = squeezed
        self.__class__ = Token  # type: ignore[assignment]


def _pick_token_factory() -> Callable[..., Token]:
    # Correctness never depends on the trick: use it only if it builds exactly what the constructor builds.
    try:
        probe: Any = _TokenBuilder("a", 0, 1, True, "a")
        if type(probe) is Token and probe == Token("a", 0, 1, True, "a"):
            return _TokenBuilder  # type: ignore[return-value]
    except TypeError:  # pragma: no cover - depends on the interpreter
        pass
    return Token  # pragma: no cover


_make_token: Final = _pick_token_factory()


# --------------------------------------------------------------------------------------------------
# Character tables
# --------------------------------------------------------------------------------------------------

_APOSTROPHES: Final = "\u2019\u2018\u201b`\u00b4\u02bc\u02b9\u2032\u2035\uff07"
_DQUOTES: Final = "\u201c\u201d\u201e\u201f\u2033\u2036\u301d\u301e\u301f"
_CHAR_TABLE: Final[dict[int, str]] = {cp: "\ufffd" for cp in range(0xD800, 0xE000)}
_CHAR_TABLE.update({ord(c): "'" for c in _APOSTROPHES})
_CHAR_TABLE.update({ord(c): '"' for c in _DQUOTES})
_CHAR_TRIGGER: Final = re.compile("[" + _APOSTROPHES + _DQUOTES + "\ud800-\udfff]")
_CHAR_RUN: Final = re.compile("[" + _APOSTROPHES + _DQUOTES + "\ud800-\udfff]+")

# Step 2 (non-ASCII): format, default-ignorable and non-whitespace control characters.
_U_DELETE: Final = regex.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\p{Cf}\p{DI}]+")
_A_DELETE: Final = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]+")
# Default-ignorable code points that str.isprintable() accepts (marks and Hangul fillers); see normalize().
_DI_PRINTABLE: Final = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]"
)
# Step 4: only the runs that actually change (a lone " " in the middle is left alone).
# step 7: an intensifier, its spaces and a following word that is not "out" ("freaking out")
_INTENSIFIER: Final = re.compile(
    r"\b(?:fucking|fuckin|fking|fkn|freaking|freakin|fricking|frickin|frigging|friggin|effing|goddamn|"
    r"goddamned|godamn)\b +(?!out\b)(?=\w)")
_INTENSIFIER_STEMS: Final = ("fuck", "fk", "freak", "frick", "frig", "effing", "goddam", "godam")
# step 0: a lower-case word running into a capitalised one, or any letter running into the pronoun "I"
_CAMEL: Final = re.compile(r"(?<![A-Za-z])[a-z]{2,}(?=[A-Z][a-z])|[a-z](?=I\b|I')")
# the pattern costs microseconds per message; a lower-case letter right before a capital ("aA" once every
# ASCII letter is mapped to its case) is found in a fraction of that, and most messages have none
_CASE_TABLE: Final = bytes(97 if 97 <= c <= 122 else 65 if 65 <= c <= 90 else 32 for c in range(256))
_WS: Final = re.compile(r"\A\s+|\s+\Z|\s{2,}|[^\S ]")

# Step 3: characters that may combine with the preceding one under NFKC: combining marks, Hangul medial and
# final jamo, half-width katakana (semi-)voiced marks.
_CONT_CLASS: Final = r"[\p{M}\u1160-\u11ff\uff9e\uff9f]"
_CONT: Final = regex.compile(_CONT_CLASS)
_NONASCII_RUN: Final = regex.compile(r"(?:[\x00-\x7f](?=" + _CONT_CLASS + r"))?[^\x00-\x7f]+")
_CLUSTER: Final = regex.compile(r"." + _CONT_CLASS + "*", regex.DOTALL)

_HOMOGLYPHS: Final[dict[str, str]] = {
    # Cyrillic (lower case: casefold has already run; "в"/"н"/"к"/"м"/"т" are the capital look-alikes)
    "а": "a", "в": "b", "е": "e", "ѕ": "s", "і": "i", "ј": "j", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l",
    "ү": "y",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
}  # fmt: skip
_HG_TABLE: Final = str.maketrans(_HOMOGLYPHS)
_HG_CLASS: Final = "[" + "".join(_HOMOGLYPHS) + "]"
_HG_CHAR: Final = regex.compile(_HG_CLASS)
_LATIN: Final = regex.compile(r"\p{Latin}")

_LEET_TABLE: Final = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "$": "s"})
_LEET_CHARS: Final = "013457$"

# --------------------------------------------------------------------------------------------------
# Contractions (step 6d)
# --------------------------------------------------------------------------------------------------

_BARE: Final[dict[str, str]] = {
    "im": "i am", "ive": "i have", "dont": "do not", "cant": "can not", "cannot": "can not",
    "wont": "will not", "didnt": "did not", "doesnt": "does not", "isnt": "is not", "wasnt": "was not",
    "arent": "are not", "werent": "were not", "havent": "have not", "hasnt": "has not", "hadnt": "had not",
    "wouldnt": "would not", "shouldnt": "should not", "couldnt": "could not", "youre": "you are",
    "theyre": "they are", "thats": "that is", "whats": "what is", "theres": "there is", "hes": "he is",
    "shes": "she is", "idk": "i do not know", "ima": "i am going to", "imma": "i am going to",
    "gonna": "going to", "wanna": "want to", "gotta": "got to", "youve": "you have", "youll": "you will",
    "youd": "you would", "theyve": "they have", "theyll": "they will", "theyd": "they would",
    "weve": "we have", "mustnt": "must not", "aint": "am not",
}  # fmt: skip
# Deliberately absent (ordinary words too): ill, id, well, were, its, shell, hell, lets, wed.

_NT_SPECIAL: Final = {"can't": "can not", "won't": "will not", "shan't": "shall not", "ain't": "am not"}
_S_BASES: Final = frozenset({"he", "she", "it", "that", "what", "there", "who", "here", "where", "how"})
_D_BASES: Final = frozenset({"i", "you", "he", "she", "it", "we", "they", "that", "there", "who"})


def _apostrophe_form(w: str) -> str | None:
    """Long form of a contraction written with an apostrophe, or None (possessives, unknown forms)."""
    if w.endswith("n't"):
        special = _NT_SPECIAL.get(w)
        if special is not None:
            return special
        base = w[:-3]
        return base + " not" if base.isalpha() else None
    i = w.rfind("'")
    base, suffix = w[:i], w[i + 1 :]
    if not base.isalpha():
        return None
    if suffix == "re":
        return base + " are"
    if suffix == "ve":
        return base + " have"
    if suffix == "ll":
        return base + " will"
    if suffix == "m":
        return "i am" if base == "i" else None
    if suffix == "d":
        return base + " would" if base in _D_BASES else None
    if suffix == "s":
        if base == "let":
            return "let us"
        return base + " is" if base in _S_BASES else None
    return None


_SQUEEZE_ANY: Final = regex.compile(r"(\p{L})\1+")
_SQUEEZE_ASCII: Final = re.compile(r"([a-z])\1+")


_SQUEEZE_CACHE: dict[str, str] = {}


def _squeeze(w: str) -> str:
    """Collapse every run of a repeated letter to one ("kill" -> "kil")."""
    cached = _SQUEEZE_CACHE.get(w)
    if cached is None:
        cached = (_SQUEEZE_ASCII if w.isascii() else _SQUEEZE_ANY).sub(r"\1", w)
        if len(w) <= 64:
            if len(_SQUEEZE_CACHE) >= 20_000:
                _SQUEEZE_CACHE.clear()
            _SQUEEZE_CACHE[w] = cached
    return cached


_EXPLICIT_APOS: Final = [
    "i'm", "don't", "doesn't", "didn't", "can't", "won't", "shan't", "ain't", "isn't", "aren't", "wasn't",
    "weren't", "haven't", "hasn't", "hadn't", "wouldn't", "shouldn't", "couldn't", "mustn't", "needn't",
    *(p + suffix for p in ("i", "you", "we", "they", "he", "she", "it", "that", "there", "who")
      for suffix in ("'re", "'ve", "'ll", "'d", "'s")),
]  # fmt: skip
# Elongated contractions ("dooont", "cannnot", "woooon't") are looked up by their squeezed form first;
# squeezing "woon't" gives "won't", whereas the 2-letter form would wrongly read as "woo" + "n't".
_SQUEEZED_CONTRACTIONS: Final[dict[str, str]] = {
    _squeeze(k): v for k, v in [*_BARE.items(), *((a, _apostrophe_form(a)) for a in _EXPLICIT_APOS)] if v is not None
}


def _trie(words: list[str]) -> str:
    """A regex alternation shaped as a trie (one branch per first letter): fast to reject."""
    tree: dict[str, Any] = {}
    for w in words:
        node = tree
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        if len(alts) == 1 and "" not in node:
            return alts[0]
        group = "(?:" + "|".join(alts) + ")"
        return group + "?" if "" in node else group

    return emit(tree)


# --------------------------------------------------------------------------------------------------
# Pattern templates: one source, compiled for "simple" text (stdlib re, ASCII classes) and for any text
# (regex, Unicode classes), so both give the same results wherever both apply
# --------------------------------------------------------------------------------------------------

_SPACELESS: Final = r"\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Thai}\p{scx=Lao}\p{scx=Khmer}\p{scx=Myanmar}"
_FILL_ASCII: Final = {"%W%": "a-z0-9", "%L%": "a-z", "%EL%": "a-z", "%M%": "", "%HG%": ""}
_FILL_UNICODE: Final = {
    "%W%": r"[[\p{L}\p{N}\p{M}]--[" + _SPACELESS + "]]",  # word characters, minus space-less scripts
    "%L%": r"\p{L}",
    "%EL%": r"[\p{L}--[" + _SPACELESS + "]]",  # letters that elongation/letter-spacing apply to
    "%M%": r"\p{M}*",
    # homoglyph trigger: the first letter group has a look-alike and a Latin letter
    "%HG%": r"|(?=[%W%$]*?" + _HG_CLASS + r")(?=[%W%$]*?\p{Latin})",
}

# Two-letter words that commonly follow a missing space ("help!me"): never read the "!" as a letter there.
_TWO_LETTER_WORDS: Final = (
    "am an as at be by do go he hi if in is it me my no of oh ok on or so to up us we ya ye yo".split()
)

# Step 5: "!"/"@" used as a letter. Starts with the character itself so the engine can skip ahead fast.
_SOFT_TEMPLATE: Final = r"""
[!@](?=[%W%$])
(?: (?<=(?<![%W%$])[%W%$][!@]) | (?<=(?<![%W%$])[%W%$][%W%$][!@])
  | (?<=[%W%$][!@])(?=[%W%$]{1,2}(?![%W%$])) )
(?: (?<=[%L%013457$][!@]) | (?=[%L%013457$]) )
(?!(?:[ia]|%TWO%)(?![%W%$]|[!@][%W%$]))
"""

# Step 6: a letter-spaced run: 4+ single letters joined by single spaces, or 3+ joined by one of . - _ * ·
# (the same one throughout); a single leet character may stand between two letters ("s u 1 c 1 d e").
# With "*" every shorter prefix of a run ends before a "*" + letter, so none can succeed where the longest
# failed: that repetition is made atomic (look-ahead + back-reference), sparing the `regex` engine a long,
# useless backtrack (quadratic there) on "a*b*c*...*xy".
_RUN_TEMPLATE: Final = r"""
  (?<![%W%$'*])[%EL%]%M%(?:\ (?:[013457$@]\ )?[%EL%]%M%){3,}(?![%W%$'*])
 |(?<![%W%$'*])[%EL%]%M%(?P<sep>[._·-])(?:[013457$@](?P=sep))?[%EL%]%M%
    (?:(?P=sep)(?:[013457$@](?P=sep))?[%EL%]%M%)+(?![%W%$'*])
 |(?<![%W%$'*])[%EL%]%M%(?P<star>\*)
    (?=(?P<rest>(?:[013457$@]\*)?[%EL%]%M%(?:\*(?:[013457$@]\*)?[%EL%]%M%)+))(?P=rest)(?![%W%$'*])
"""

# Reference implementation of the step 6 scan, as ONE regex: a letter-spaced run, or a word (letters/digits/$
# joined by ' or *) whose first letter group contains something to fix. ``normalize`` finds the same spans
# faster with cheap screens (see _collect_spans); the tests check that both agree.
_REFERENCE_TEMPLATE: Final = (
    r"(?P<run>"
    + _RUN_TEMPLATE
    + r""")
|(?P<w>
  (?<![%W%$])
  (?= (?:%BARE%)(?![%W%$]|['*][%W%$])
    | [%W%$]*?(?:[0-9$]|['*]+[%W%$]|(?P<el>[%EL%])(?P=el)(?P=el))
    %HG% )
  [%W%$]+(?:['*]+[%W%$]+)*
)
"""
)

_TOKEN_TEMPLATE: Final = r"[%W%]+(?:\*+[%W%]+)*(?<![%W%]'s)"


def _fill(template: str, fill: dict[str, str]) -> str:
    out = template.replace("%HG%", fill["%HG%"]).replace("%BARE%", _trie(sorted(_BARE)))
    out = out.replace("%TWO%", _trie(_TWO_LETTER_WORDS))
    for key, value in fill.items():
        out = out.replace(key, value)
    return out


class _Pattern(Protocol):
    def finditer(self, string: str) -> Iterator[Any]: ...
    def sub(self, repl: Any, string: str) -> str: ...
    def search(self, string: str, pos: int = ...) -> Any: ...
    def match(self, string: str, pos: int = ...) -> Any: ...


def _compile_pair(template: str, flags: int = 0) -> tuple[_Pattern, _Pattern]:
    a = re.compile(_fill(template, _FILL_ASCII), flags)
    u = regex.compile(_fill(template, _FILL_UNICODE), regex.V1 | flags)
    return a, u


_A_SOFT, _U_SOFT = _compile_pair(_SOFT_TEMPLATE, re.VERBOSE)
_A_RUN, _U_RUN = _compile_pair(_RUN_TEMPLATE, re.VERBOSE)
_U_TOKEN: Final = regex.compile(
    r"[[\p{L}\p{N}]&&[" + _SPACELESS + r"]]\p{M}*|" + _fill(_TOKEN_TEMPLATE, _FILL_UNICODE), regex.V1
)
# Same as _U_TOKEN on text without combining marks or space-less scripts (str.isalnum == \p{L}|\p{N}).
_R_TOKEN: Final = re.compile(r"[^\W_]+(?:\*+[^\W_]+)*(?<![^\W_]'s)")
_SOFT_MAP: Final = {"!": "i", "@": "a"}

# Screens for step 6 (each finds a superset of what needs work; see _collect_spans).
_RARE: Final = re.compile(r"[0-9$'*]")
_TRIPLE_SCREEN: Final = re.compile(r"(.)\1\1", re.DOTALL)  # faster than ([a-z])\1\1
# Every run has a letter between two separators of its kind (letters 2-4 for spaces, after a space, the
# last one not followed by a letter or digit): looking for that is much cheaper than for the run itself.
_A_SPACE_RUN_SCREEN: Final = re.compile(r" [a-z] (?:[013457$@] )?[a-z] (?:[013457$@] )?[a-z](?![a-z0-9])")
_A_PUNCT_RUN_SCREEN: Final = re.compile(r"([._*·-])[a-z]\1")
_U_RUN_SCREEN: Final = regex.compile(
    r" \p{L}\p{M}* (?:[013457$@] )?\p{L}\p{M}* (?:[013457$@] )?\p{L}\p{M}*(?![\p{L}\p{N}])"
    r"|([._*·-])\p{L}\p{M}*\1",
    regex.V1,
)
_BARE_SET: Final = frozenset(_BARE)
_A_LETTER: Final = re.compile(r"[a-z]")
# a Latin letter next to (combining marks aside) a letter or non-ASCII digit of another script
_SCRIPT_MIX: Final = regex.compile(
    r"\p{Latin}\p{M}*[[\p{L}\p{N}]--[\p{Latin}0-9]]|[[\p{L}\p{N}]--[\p{Latin}0-9]]\p{M}*\p{Latin}", regex.V1
)
_JOINER_RUN: Final = re.compile(r"['*]*")

# Per-word helpers (step 6), used on one word at a time.
_JOINERS: Final = regex.compile(r"(['*]+)")
_LETTER: Final = regex.compile(r"\p{L}")
_LEET_ANY: Final = re.compile(r"[013457$]")
_OTHER_DIGIT: Final = regex.compile(r"[\p{N}--[013457]]", regex.V1)
_EDGE_DIGITS: Final = re.compile(r"\A\$?[0-9]{2}|[0-9]{2}\Z")
_UNITS: Final = (
    "st|nd|rd|th|s|k|m|b|bn|mil|g|kg|mg|mcg|ug|lb|lbs|oz|ml|l|cl|dl|mm|cm|km|ft|in|yd|mi|h|hr|hrs|min|mins|"
    "sec|secs|ms|am|pm|x|d|w|wk|wks|mo|mos|y|yr|yrs|yo|kcal|cal|gb|mb|kb|tb|mph|kph|kmh|hz|v|kw|iu|c|f|p|"
    "px|ish|day|days|week|weeks|month|months|year|years|hour|hours|minute|minutes|second|seconds|time|times"
)
_NUMBER_UNIT: Final = re.compile(r"\$?[0-9]+(?:" + _UNITS + r")")
_A_TRIPLE: Final = re.compile(r"([a-z])\1{2,}")
_U_TRIPLE: Final = regex.compile(r"([\p{L}--[" + _SPACELESS + r"]])\1{2,}", regex.V1)

# Region = (out_start, out_end, in_start, in_end): out[out_start:out_end] replaced in[in_start:in_end].
_Region = tuple[int, int, int, int]
_WordFix = tuple[str, bool, tuple[_Region, ...] | None]  # new text, elongated, relative regions/None=whole
_Span = tuple[int, int, str | None]  # start, end, separator of a letter-spaced run (None: a single word)


# --------------------------------------------------------------------------------------------------
# Character classes, cached per character (decided with the `regex` module's Unicode tables, so they
# agree with the Unicode patterns above)
# --------------------------------------------------------------------------------------------------

_F_WORD: Final = 1  # letter/digit/mark outside the space-less scripts: part of words
_F_ANY: Final = 2  # any letter/digit/mark (the text is not "simple")
_F_MARK: Final = 4  # combining mark
_F_SPACELESS: Final = 8  # letter/digit/mark of a space-less script
_F_ODD: Final = 16  # Python's str.isalnum disagrees with the regex module (newer Unicode): no stdlib re
_F_LATIN: Final = 32  # non-ASCII Latin letter
_F_HOMOGLYPH: Final = 64  # Cyrillic/Greek look-alike of a Latin letter
_IS_LNM: Final = regex.compile(r"[\p{L}\p{N}\p{M}]")
_IS_LN: Final = regex.compile(r"[\p{L}\p{N}]")
_IS_M: Final = regex.compile(r"\p{M}")
_IS_SPACELESS: Final = regex.compile("[" + _SPACELESS + "]")
_NONASCII: Final = re.compile(r"[^\x00-\x7f]")


def _char_flags(ch: str) -> int:
    if ch.isascii():
        return _F_WORD | _F_ANY if ch.isalnum() or ch == "$" else 0
    flags = 0
    if _IS_LNM.match(ch):
        flags = _F_ANY | (_F_SPACELESS if _IS_SPACELESS.match(ch) else _F_WORD)
        if _IS_M.match(ch):
            flags |= _F_MARK
    if ch.isalnum() != bool(_IS_LN.match(ch)):
        flags |= _F_ODD
    if _LATIN.match(ch):
        flags |= _F_LATIN
    if ch in _HOMOGLYPHS:
        flags |= _F_HOMOGLYPH
    return flags


class _FlagTable(dict[str, int]):
    def __missing__(self, key: str) -> int:
        if len(self) >= 100_000:
            self.clear()
        value = self[key] = _char_flags(key)
        return value


_FLAGS: Final = _FlagTable()


_ASCII_CHARS: Final = frozenset(map(chr, range(128)))


def _text_flags(t: str) -> int:
    """OR of the flags of the non-ASCII characters of ``t`` (0 for ASCII text)."""
    if t.isascii():
        return 0
    # a few non-ASCII characters (emoji, quotes): find them; many (another script): take the set of all
    few = len(t) - len(t.encode("ascii", "ignore")) < 24
    chars = set(_NONASCII.findall(t)) if few else set(t).difference(_ASCII_CHARS)
    flags = 0
    table = _FLAGS
    for ch in chars:
        flags |= table[ch]
    return flags


# --------------------------------------------------------------------------------------------------
# Step 6: per-word fixes
# --------------------------------------------------------------------------------------------------


def _leet_group(g: str) -> str:
    if (
        _LEET_ANY.search(g) is None
        or _LETTER.search(g) is None
        or _OTHER_DIGIT.search(g) is not None
        or _NUMBER_UNIT.fullmatch(g) is not None
        or _EDGE_DIGITS.search(g) is not None
    ):
        # An unmapped '$' separates tokens, so judge the pieces as the tokens they become ("a0$00": "ao", "00").
        return "$".join(_leet_group(part) for part in g.split("$")) if "$" in g else g
    mapped = g.translate(_LEET_TABLE)
    return mapped if len(_LETTER.findall(mapped)) >= 2 else g


def _homoglyphs(w: str) -> str:
    if not w.isascii() and _HG_CHAR.search(w) and _LATIN.search(w):
        return w.translate(_HG_TABLE)
    return w


def _fix_word(word: str) -> _WordFix | None:
    """Steps 6a-6d for one word; None when nothing changes."""
    w = _homoglyphs(word)
    if _LEET_ANY.search(w):
        w = "".join(_leet_group(part) for part in _JOINERS.split(w))
        w = _homoglyphs(w)  # leetspeak can bring the first Latin letter ("ω$" -> "ωs")
    regions: list[_Region] = []
    elongated = False
    triple = _A_TRIPLE if w.isascii() else _U_TRIPLE
    if triple.search(w):
        elongated = True
        pieces: list[str] = []
        pos = out_len = 0
        for m in triple.finditer(w):
            s, e = m.span()
            pieces.append(w[pos:s])
            out_len += s - pos
            pieces.append(w[s : s + 2])
            regions.append((out_len, out_len + 2, s, e))
            out_len += 2
            pos = e
        pieces.append(w[pos:])
        w = "".join(pieces)
    long_form: str | None = None
    if elongated:
        long_form = _SQUEEZED_CONTRACTIONS.get(_squeeze(w))
    if long_form is None:
        long_form = _BARE.get(w)
        if long_form is None and "'" in w:
            long_form = _apostrophe_form(w)
            if long_form is None and elongated:
                long_form = _apostrophe_form(_squeeze(w))
    if long_form is None and ("$" in w or "*" in w):
        # an unmapped "$" or an outer "*" splits the word into tokens ("00$dont", "$*dont"): a contraction
        # among them is a word of its own, as when it stands alone
        out: list[str] = []
        pos = 0
        for m in (_A_TOKEN if w.isascii() else _U_TOKEN).finditer(w):
            long_piece = _BARE.get(m.group())
            if long_piece is not None:
                out.append(w[pos:m.start()])
                out.append(long_piece)
                pos = m.end()
        if out:
            long_form = "".join(out) + w[pos:]
    if long_form is not None:
        return long_form, elongated, None
    if w == word:
        return None
    return w, elongated, tuple(regions)


_WORD_CACHE: dict[str, _WordFix | None] = {}
_WORD_CACHE_MAX: Final = 20_000
_CACHED_LENGTH: Final = 64


def _word_span(t: str, i: int) -> tuple[int, int] | None:
    """The word (letters/digits/$ groups joined by ' or *) containing ``t[i]``, or that a joiner at ``i``
    follows; None if there is none. Same grammar as the reference regex."""
    flags = _FLAGS
    n = len(t)
    s = i
    while True:
        while s > 0 and flags[t[s - 1]] & _F_WORD:
            s -= 1
        j = s
        while j > 0 and t[j - 1] in "'*":
            j -= 1
        if j < s and j > 0 and flags[t[j - 1]] & _F_WORD:
            s = j - 1
            continue
        break
    if s >= n or not flags[t[s]] & _F_WORD:
        return None
    e = s
    while True:
        while e < n and flags[t[e]] & _F_WORD:
            e += 1
        j = e
        while j < n and t[j] in "'*":
            j += 1
        if j > e and j < n and flags[t[j]] & _F_WORD:
            e = j
            continue
        break
    return s, e


def _collect_spans(t: str, text_flags: int, pieces: list[str]) -> list[_Span]:
    """Every letter-spaced run, and every word that might change, in order and without overlaps.

    Each screen is a cheap C-level scan that finds a superset of the places needing work (a word with a
    digit/$/'/*, a triple letter, a bare contraction, a homoglyph mix, a single letter between separators);
    ``_fix_word`` then decides. Equivalent to scanning with the reference regex (tested), several times
    faster because most positions of a message are never looked at from Python.
    """
    simple = not text_flags & _F_ANY
    words: dict[int, int] = {}
    flags = _FLAGS
    n = len(t)
    # every word holding a digit, "$" or an inner joiner (each word and each run of joiners is scanned once)
    pos = 0
    search = _RARE.search
    skip_joiners = _JOINER_RUN.match
    while (m := search(t, pos)) is not None:
        i = m.start()
        span = _word_span(t, i)
        if span is None:
            pos = i + 1
        else:
            words[span[0]] = span[1]
            pos = max(span[1], i + 1)
        pos = skip_joiners(t, pos).end()  # type: ignore[union-attr]  # ['*]* always matches
    # every word with a letter three times in a row
    pos = 0
    search = _TRIPLE_SCREEN.search
    while (m := search(t, pos)) is not None:
        i = m.start()
        span = _word_span(t, i) if flags[t[i]] & _F_WORD else None
        if span is None:  # three identical non-word characters: no word triple can overlap them
            pos = m.end()
        else:
            words[span[0]] = span[1]
            pos = max(span[1], m.end())
    # every bare contraction that is a whole word (pieces: t split on every non-ASCII-alphanumeric character)
    present = _BARE_SET.intersection(pieces)
    if present:
        found = sorted(words.items())
        found_starts = [s for s, _ in found]
        for w in present:
            size = len(w)
            i = t.find(w)
            while i >= 0:
                e = i + size
                # not glued to a letter/digit/$; a word with an inner joiner or digit was registered above
                if (i == 0 or not flags[t[i - 1]] & _F_WORD) and (e == n or not flags[t[e]] & _F_WORD):
                    k = bisect_right(found_starts, i) - 1
                    if k < 0 or found[k][1] <= i:
                        words[i] = e
                i = t.find(w, i + 1)
    # every word where a Latin letter touches another script's letter (a look-alike mix such as "kіll" has
    # one; a mix separated by a digit, "$" or a joiner was registered above)
    if text_flags & _F_HOMOGLYPH and (text_flags & _F_LATIN or _A_LETTER.search(t)):
        pos = 0
        while (mix := _SCRIPT_MIX.search(t, pos)) is not None:
            span = _word_span(t, mix.start())
            if span is None:
                pos = mix.start() + 1
            else:
                words[span[0]] = span[1]
                pos = max(span[1], mix.start() + 1)
    runs: list[_Span] = []
    if simple:
        runs = _ascii_runs(t)
    elif _U_RUN_SCREEN.search(t):
        runs = [(r.start(), r.end(), _run_separator(r)) for r in _U_RUN.finditer(t)]
    spans: list[_Span] = [(s, e, None) for s, e in sorted(words.items())]
    if runs:
        # a run and a word never partly overlap (both end at non-word characters): drop words inside runs
        merged: list[_Span] = []
        k = 0
        for word in spans:
            while k < len(runs) and runs[k][1] <= word[0]:
                merged.append(runs[k])
                k += 1
            if k == len(runs) or word[0] < runs[k][0]:
                merged.append(word)
        merged.extend(runs[k:])
        spans = merged
    return spans


def _ascii_runs(t: str) -> list[_Span]:
    """The letter-spaced runs of a "simple" text, as ``_A_RUN.finditer`` would find them, but trying the run
    pattern only next to a screen hit: every run starts at most 3 characters before the hit of its second
    letter (or 1 after a hit on a preceding space), so a window of positions around each hit suffices."""
    runs: list[_Span] = []
    space_search = _A_SPACE_RUN_SCREEN.search
    punct_search = _A_PUNCT_RUN_SCREEN.search
    space_hit = space_search(t)
    punct_hit = punct_search(t)
    pos = 0
    n = len(t)
    while space_hit is not None or punct_hit is not None:
        if punct_hit is None or (space_hit is not None and space_hit.start() <= punct_hit.start()):
            h = space_hit.start()  # type: ignore[union-attr]
        else:
            h = punct_hit.start()
        for p in range(max(pos, h - 4), min(n, h + 3)):
            m = _A_RUN.match(t, p)
            if m is not None:
                runs.append((m.start(), m.end(), _run_separator(m)))
                pos = m.end()
                break
        else:
            pos = max(pos, h + 1)
        if space_hit is not None and space_hit.start() < pos:
            space_hit = space_search(t, pos)
        if punct_hit is not None and punct_hit.start() < pos:
            punct_hit = punct_search(t, pos)
    return runs


def _run_separator(m: Any) -> str:
    return str(m.group("sep") or m.group("star") or " ")


def _reference_spans(t: str, text_flags: int, pieces: list[str]) -> list[_Span]:
    """Step 6 spans found by the single reference regex (for tests; slow)."""
    pattern = _reference_pattern(not text_flags & _F_ANY)
    return [(m.start(), m.end(), None if m.lastgroup == "w" else _run_separator(m)) for m in pattern.finditer(t)]


@functools.cache
def _reference_pattern(simple: bool) -> _Pattern:
    if simple:
        return re.compile(_fill(_REFERENCE_TEMPLATE, _FILL_ASCII), re.VERBOSE)
    return regex.compile(_fill(_REFERENCE_TEMPLATE, _FILL_UNICODE), regex.V1 | regex.VERBOSE)


def _word_stage(t: str, spans: list[_Span]) -> tuple[str, list[_Region], list[tuple[int, int]]]:
    """Apply step 6 to the given spans: returns the new text, its regions and the elongated word ranges."""
    out: list[str] = []
    regions: list[_Region] = []
    elongated: list[tuple[int, int]] = []
    pos = 0
    shift = 0  # len(output so far) - len(input consumed so far)
    cache = _WORD_CACHE
    for s, e, sep in spans:
        g = t[s:e] if sep is None else t[s:e].replace(sep, "")  # a letter-spaced run is joined first
        try:
            fix = cache[g]
        except KeyError:
            fix = _fix_word(g)
            if len(g) <= _CACHED_LENGTH:  # bounded memory: few entries, short keys
                if len(cache) >= _WORD_CACHE_MAX:
                    cache.clear()
                cache[g] = fix
        rel: tuple[_Region, ...] | None
        if sep is None:
            if fix is None:
                continue
            new, elong, rel = fix
        else:  # the joined word maps back to the whole run
            new, elong, rel = (g, False, None) if fix is None else (fix[0], fix[1], None)
        out.append(t[pos:s])
        o = s + shift
        if rel is None:
            regions.append((o, o + len(new), s, e))
        else:
            regions.extend((o + a, o + b, s + c, s + d) for a, b, c, d in rel)
        if elong:
            elongated.append((o, o + len(new)))
        out.append(new)
        shift += len(new) - (e - s)
        pos = e
    if not out:
        return t, regions, elongated
    out.append(t[pos:])
    return "".join(out), regions, elongated


# --------------------------------------------------------------------------------------------------
# Character-level stages with offset regions
# --------------------------------------------------------------------------------------------------


def _edit(t: str, pattern: _Pattern, repl: Callable[[Any, int], str]) -> tuple[str, list[_Region]]:
    out: list[str] = []
    regions: list[_Region] = []
    pos = 0
    shift = 0
    n = len(t)
    for m in pattern.finditer(t):
        s, e = m.span()
        new = repl(m, n)
        out.append(t[pos:s])
        out.append(new)
        if len(new) != e - s or e - s != 1:
            regions.append((s + shift, s + shift + len(new), s, e))
        shift += len(new) - (e - s)
        pos = e
    out.append(t[pos:])
    return "".join(out), regions


def _space_after_repl(m: Any, n: int) -> str:
    return str(m.group()) + " "


def _ws_repl(m: Any, n: int) -> str:
    return "" if m.start() == 0 or m.end() == n else " "


def _delete_repl(m: Any, n: int) -> str:
    return ""


def _fold(s: str) -> str:
    """NFKC + casefold, repeated until stable (casefold can un-normalise a few characters)."""
    r = unicodedata.normalize("NFKC", s).casefold()
    for _ in range(4):
        n = unicodedata.normalize("NFKC", r).casefold()
        if n == r:
            break
        r = n
    return unicodedata.normalize("NFKC", r)


class _FoldTable(dict[int, str]):
    """``str.translate`` table that folds each character on first sight and remembers it."""

    def __missing__(self, key: int) -> str:
        if len(self) >= 100_000:
            self.clear()
        value = self[key] = _fold(chr(key))
        return value


_FOLD_TABLE: Final = _FoldTable()
_CLUSTER_CACHE: dict[str, str] = {}


def _fold_stage(t: str) -> tuple[str, list[_Region]]:
    if unicodedata.is_normalized("NFKC", t):
        c = t.casefold()
        # casefold never maps a character to nothing, so equal length means one-to-one
        if len(c) == len(t) and unicodedata.is_normalized("NFKC", c):
            return c, []
    out: list[str] = []
    regions: list[_Region] = []
    pos = out_len = 0
    table = _FOLD_TABLE
    for m in _NONASCII_RUN.finditer(t):
        s, e = m.span()
        if s > pos:
            out.append(t[pos:s].lower())
            out_len += s - pos
        run = m.group()
        if _CONT.search(run) is None:
            folded = run.translate(table)
            out.append(folded)
            if len(folded) != len(run):
                o = out_len
                for i, ch in enumerate(run):
                    f = table[ord(ch)]
                    if len(f) != 1:
                        regions.append((o, o + len(f), s + i, s + i + 1))
                    o += len(f)
            out_len += len(folded)
        else:
            for cm in _CLUSTER.finditer(run):
                c = cm.group()
                if len(c) == 1:
                    f = table[ord(c)]
                else:
                    cached = _CLUSTER_CACHE.get(c)
                    if cached is None:
                        cached = _fold(c)
                        if len(c) <= 16:
                            if len(_CLUSTER_CACHE) >= 20_000:
                                _CLUSTER_CACHE.clear()
                            _CLUSTER_CACHE[c] = cached
                    f = cached
                if len(f) != 1 or len(c) != 1:
                    cs, ce = cm.span()
                    regions.append((out_len, out_len + len(f), s + cs, s + ce))
                out.append(f)
                out_len += len(f)
        pos = e
    out.append(t[pos:].lower())
    result = "".join(out)
    if not unicodedata.is_normalized("NFKC", result):  # pragma: no cover - defensive, never seen
        result = _fold(t)
        regions = [(0, len(result), 0, len(t))]
    return result, regions


# --------------------------------------------------------------------------------------------------
# Offsets
# --------------------------------------------------------------------------------------------------


class _OffsetMap:
    """Regions of one stage; positions between regions shift by a constant (identity otherwise)."""

    __slots__ = ("_starts", "regions")

    def __init__(self, regions: list[_Region]) -> None:
        self.regions = regions
        self._starts: list[int] | None = None

    def span(self, s: int, e: int) -> tuple[int, int]:
        starts = self._starts
        if starts is None:
            starts = self._starts = [r[0] for r in self.regions]
        regions = self.regions
        i = bisect_right(starts, s) - 1  # last region starting at or before s
        if i >= 0:
            _, o1, i0, i1 = regions[i]
            s = i0 if s < o1 else s - o1 + i1
        j = bisect_left(starts, e) - 1  # last region starting before e
        if j >= 0:
            _, o1, i0, i1 = regions[j]
            e = i1 if e <= o1 else e - o1 + i1
        return s, e


class NormalizedText:
    """A normalised message: ``.text``, lazy ``.tokens``, and offsets back to ``.original``.

    Build it with :func:`normalize`. ``NormalizedText(original, text)`` also works (identity offsets, clamped);
    the keyword-only arguments are internal (offset maps and what normalize() already computed).
    """

    __slots__ = ("__dict__", "_elongated", "_flags", "_maps", "_pieces", "original", "text")

    def __init__(
        self,
        original: str,
        text: str,
        *,
        maps: tuple[_OffsetMap, ...] = (),
        elongated: tuple[tuple[int, int], ...] | list[tuple[int, int]] = (),
        pieces: list[str] | None = None,
        flags: int | None = None,
    ) -> None:
        self.original = original
        self.text = text
        self._maps = maps  # in pipeline order; to_original applies them last to first
        self._elongated = elongated  # sorted (start, end) ranges of .text that came from elongated words
        self._pieces = pieces  # _token_pieces(text), when normalize() already computed it
        self._flags = flags  # _text_flags(text) or a superset of it, when normalize() already computed it

    def __repr__(self) -> str:
        return f"NormalizedText(original={self.original!r}, text={self.text!r})"

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Smallest span of ``original`` that covers ``text[start:end]`` (indices clamped like slicing)."""
        n = len(self.text)
        s = 0 if start < 0 else (n if start > n else start)
        e = 0 if end < 0 else (n if end > n else end)
        if e < s:
            e = s
        for m in reversed(self._maps):
            s, e = m.span(s, e)
        n = len(self.original)
        s = 0 if s < 0 else (n if s > n else s)
        e = 0 if e < 0 else (n if e > n else e)
        return (s, e) if s <= e else (s, s)

    def original_slice(self, start: int, end: int) -> str:
        s, e = self.to_original(start, end)
        return self.original[s:e]

    @property
    def has_elongation(self) -> bool:
        """Did some word of the text come from an elongated one ("soooo")? (Then some token has
        ``elongated`` set; otherwise none has.)"""
        return bool(self._elongated)

    @cached_property
    def token_texts(self) -> tuple[str, ...]:
        """The texts of :attr:`tokens`, in order. For a plain text they come straight from the split, without
        building the ``Token`` objects (most messages match nothing and never need the offsets)."""
        if "tokens" not in self.__dict__:
            pieces = self._plain_pieces()
            if pieces is not None:
                return tuple(filter(None, pieces))  # the non-empty pieces
        return tuple(t.text for t in self.tokens)

    def _plain_pieces(self) -> list[str] | None:
        """The text split at every character but ASCII letters and digits, when that split is its tokens
        (no non-ASCII letters or marks, no "'s", no "*"); else None."""
        text = self.text
        flags = _text_flags(text) if self._flags is None else self._flags
        if not flags & _F_ANY and "'s" not in text and "*" not in text:
            return self._pieces or _token_pieces(text)
        return None

    @cached_property
    def tokens(self) -> tuple[Token, ...]:
        text = self.text
        flags = _text_flags(text) if self._flags is None else self._flags
        texts: Iterable[str]
        starts: Iterable[int]
        ends: Iterable[int]
        pieces = self._plain_pieces()
        if pieces is not None:
            texts, starts, ends = _split_spans(pieces)
        else:
            if not flags & _F_ANY:
                pattern: _Pattern = _A_TOKEN
            elif not flags & (_F_MARK | _F_SPACELESS | _F_ODD):
                pattern = _R_TOKEN
            else:
                pattern = _U_TOKEN
            matches = list(pattern.finditer(text))
            if not matches:
                return ()
            match_type = type(matches[0])  # unbound methods, mapped in C: no Python loop over the matches
            texts = map(match_type.group, matches)
            starts = map(match_type.start, matches)
            ends = map(match_type.end, matches)
        if not self._elongated:
            return tuple(map(_make_token, texts, starts, ends))
        # mark the tokens that overlap a word that was elongated (few): walk the ranges, not the tokens
        texts, starts, ends = list(texts), list(starts), list(ends)
        elongated = [False] * len(texts)
        squeezed = [""] * len(texts)
        for s, e in self._elongated:
            i = bisect_right(ends, s)  # first token ending after s
            while i < len(texts) and starts[i] < e:
                elongated[i] = True
                squeezed[i] = _squeeze(texts[i])
                i += 1
        return tuple(map(_make_token, texts, starts, ends, elongated, squeezed))


_A_TOKEN: Final = re.compile(r"[a-zA-Z0-9]+(?:\*+[a-zA-Z0-9]+)*(?<![a-zA-Z0-9]'s)")
_TOKEN_SPLIT_TABLE: Final = bytes(
    c if chr(c) in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" else 32 for c in range(256)
)


def _token_pieces(text: str) -> list[str]:
    """``text`` with every character but ASCII letters/digits blanked, split on single spaces (so piece
    offsets follow from piece lengths). Latin-1 with "replace" keeps one byte per character."""
    return text.encode("latin-1", "replace").translate(_TOKEN_SPLIT_TABLE).decode("ascii").split(" ")


def _split_spans(pieces: list[str]) -> tuple[Iterator[str], Iterator[int], Iterator[int]]:
    """Token texts, starts and ends of a text without non-ASCII letters/digits/marks, "'s" or "*", from its
    _token_pieces(), with C-level calls only."""
    lengths = list(map(len, pieces))
    ends = list(map(add, accumulate(lengths), range(len(lengths))))
    starts = map(sub, ends, lengths)
    return compress(pieces, lengths), compress(starts, lengths), compress(ends, lengths)


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------


def _soft_repl(m: Any) -> str:
    return _SOFT_MAP[m.group()]


def _char_repl(m: Any) -> str:
    return str(m.group()).translate(_CHAR_TABLE)


def normalize(text: str) -> NormalizedText:
    """Normalise one message (see the module docstring for the steps and their order)."""
    return _normalize(text, _collect_spans)


def _normalize(text: str, find_spans: Callable[[str, int, list[str]], list[_Span]]) -> NormalizedText:
    maps: list[_OffsetMap] = []  # one per length-changing step, in order
    t = text
    if b"aA" in t.encode("latin-1", "replace").translate(_CASE_TABLE) and _CAMEL.search(t):  # step 0
        t, regions = _edit(t, _CAMEL, _space_after_repl)
        maps.append(_OffsetMap(regions))
    if t.isascii():
        # ASCII fast path: no surrogates, nothing for NFKC, casefold == lower, only ` as an apostrophe.
        t = t.lower()
        printable = t.isprintable()
        if not printable and _A_DELETE.search(t):  # step 2 (control characters)
            t, regions = _edit(t, _A_DELETE, _delete_repl)
            maps.append(_OffsetMap(regions))
        if "`" in t:  # step 1
            t = t.replace("`", "'")
        flags = 0
    else:
        if _CHAR_TRIGGER.search(t):  # step 1, before NFKC (which would split "´" into space + accent)
            t = _CHAR_RUN.sub(_char_repl, t)
        # step 2, before NFKC (so marks separated by invisible characters still compose).
        # str.isprintable() is False for every Cc/Cf (and surrogate); the other default-ignorables are listed
        if (not t.isprintable() or _DI_PRINTABLE.search(t)) and _U_DELETE.search(t):
            t, regions = _edit(t, _U_DELETE, _delete_repl)
            maps.append(_OffsetMap(regions))
        t, regions = _fold_stage(t)  # step 3, before whitespace (NFKC turns exotic spaces into " ")
        if regions:
            maps.append(_OffsetMap(regions))
        if _CHAR_TRIGGER.search(t):  # apostrophes/quotes produced by NFKC itself
            t = _CHAR_RUN.sub(_char_repl, t)
        printable = t.isprintable()
        # later steps only remove characters or turn them into ASCII: these flags stay valid (a superset)
        flags = _text_flags(t)
    simple = not flags & _F_ANY
    if not printable or "  " in t or t[:1] == " " or t[-1:] == " ":  # step 4
        t, regions = _edit(t, _WS, _ws_repl)
        if regions:
            maps.append(_OffsetMap(regions))
    if "!" in t or "@" in t:  # step 5, before step 6 splits words at punctuation
        t = (_A_SOFT if simple else _U_SOFT).sub(_soft_repl, t)
    pieces = _token_pieces(t)
    spans = find_spans(t, flags, pieces)  # step 6: runs and words that may change
    if not spans:
        if not any(stem in t for stem in _INTENSIFIER_STEMS):  # the text is final: its pieces serve the tokens
            return NormalizedText(text, t, maps=tuple(maps), pieces=pieces, flags=flags)
        elongated: list[tuple[int, int]] = []
    else:
        t, regions, elongated = _word_stage(t, spans)
        if regions:
            maps.append(_OffsetMap(regions))
    if any(stem in t for stem in _INTENSIFIER_STEMS):  # step 7
        t, regions = _edit(t, _INTENSIFIER, _delete_repl)
        if regions:
            maps.append(_OffsetMap(regions))
            elongated = _shift_ranges(elongated, regions)
    return NormalizedText(text, t, maps=tuple(maps), elongated=elongated, flags=flags)


def _shift_ranges(ranges: list[tuple[int, int]], deleted: list[_Region]) -> list[tuple[int, int]]:
    """Ranges of a text after the deletions ``deleted`` (regions of an _edit that deleted them)."""
    out = []
    for s, e in ranges:
        cut = sum(i1 - i0 for _, _, i0, i1 in deleted if i1 <= s)
        out.append((s - cut, e - cut))
    return out
