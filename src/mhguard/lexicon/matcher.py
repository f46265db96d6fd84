"""The compiled matcher: every phrase of every rule found in one pass over the words of a message.

All phrase variants of all rules go into one word trie. :meth:`CompiledLexicon.find` looks each token up
(one dict lookup, cached per token text); only a token that starts some phrase leads to a walk down the
trie, and a walk is at most as long as the longest phrase (gaps included), so the cost is linear in the
length of the message. A token that matches no trie edge exactly may still match through its squeezed
form (``diiiie`` -> ``die``), an alias (``herself`` -> ``myself``), or a bounded fuzzy reading
(``suicde``, ``s*icide``).

Cues (context words such as "not" or "my friend") have a trie of their own, scanned only in a text where
a rule matched: common words that are of no interest on their own cost nothing in the other texts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple

import regex

from mhguard.lexicon.fuzzy import Candidates, FuzzyIndex, squeeze
from mhguard.lexicon.loader import LexiconRule
from mhguard.lexicon.models import Rule
from mhguard.lexicon.phrase import GAP, GAP_MAX, PREFIX, WORD
from mhguard.lexicon.triggers import required_clauses, required_literals, required_prefixes, trigger_strength
from mhguard.text.fold import digraph_variant, fold_word
from mhguard.text.normalize import NormalizedText, Token, normalize

__all__ = ["DEFAULT_REGEX_TIMEOUT", "CompiledLexicon", "Match"]

#: Seconds one rule regex may run on one text before the check fails (closed, by raising TimeoutError).
DEFAULT_REGEX_TIMEOUT: Final = 0.25


class Match(NamedTuple):
    """One rule found in a text. Offsets are in the NORMALISED text (``NormalizedText.text``).

    A named tuple: the matcher makes many of these (cue words included), and tuples are cheap to build.
    """

    rule: Rule
    start: int
    end: int
    token_start: int
    token_end: int  # exclusive
    #: One token of the match was a misspelling matched by the fuzzy matcher.
    fuzzy: bool = False
    #: One or more tokens matched through an alias (e.g. a third-person form mapped to the first person).
    alias: bool = False
    #: Index of the phrase in ``rule.phrases``; -1 when a regex of the rule matched.
    phrase: int = -1

    @property
    def token_range(self) -> range:
        return range(self.token_start, self.token_end)


# Shared empty containers: most of the (many) trie nodes are leaves, so they get their own dicts and lists
# only when a child or an end is added. Never mutated.
_NO_WORDS: Final[dict[str, _Node]] = {}
_NO_PREFIXES: Final[dict[str, list[tuple[str, _Node]]]] = {}
_NO_ENDS: Final[list[tuple[int, int]]] = []


class _Node:
    __slots__ = ("_squeezed", "ends", "gap", "more", "prefixes", "words")

    def __init__(self) -> None:
        self.words: dict[str, _Node] = _NO_WORDS
        # first three letters of the stem -> [(stem, child)]: one dict lookup per token, not one per stem
        self.prefixes: dict[str, list[tuple[str, _Node]]] = _NO_PREFIXES
        self.gap: _Node | None = None
        self.ends: list[tuple[int, int]] = _NO_ENDS  # (rule index, phrase index)
        self.more = False  # has word or prefix children (set when the trie is complete)
        self._squeezed: dict[str, list[_Node]] | None = None

    @property
    def squeezed(self) -> dict[str, list[_Node]]:
        """Children by the squeezed form of their word, made on first use (elongated tokens are rare)."""
        table = self._squeezed
        if table is None:
            table = {}
            for word, node in self.words.items():
                table.setdefault(squeeze(word), []).append(node)
            self._squeezed = table
        return table

    def add_end(self, end: tuple[int, int]) -> None:
        if self.ends is _NO_ENDS:
            self.ends = []
        if end not in self.ends:
            self.ends.append(end)

    def child(self, element: tuple[int, str]) -> _Node:
        kind, value = element
        if kind == WORD:
            node = self.words.get(value)
            if node is None:
                if self.words is _NO_WORDS:
                    self.words = {}
                node = self.words[value] = _Node()
            return node
        if kind == PREFIX:
            if self.prefixes is _NO_PREFIXES:
                self.prefixes = {}
            bucket = self.prefixes.setdefault(value[:3], [])
            for stem, node in bucket:
                if stem == value:
                    return node
            node = _Node()
            bucket.append((value, node))
            return node
        if self.gap is None:
            self.gap = _Node()
        return self.gap


def _spellings(variant: Sequence[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """A phrase variant with its words folded (see :mod:`mhguard.text.fold`), plus its German digraph
    spelling ("möchte" / "moechte") when a word has an umlaut."""
    folded = [(kind, fold_word(value) if kind != GAP else value) for kind, value in variant]
    out = [folded]
    if any(kind != GAP and digraph_variant(value) for kind, value in variant):
        out.append([(kind, (digraph_variant(value) or fold_word(value)) if kind != GAP else value)
                    for kind, value in variant])
    return out


def _in_one_word(literal: str) -> bool:
    """Is a literal, when in a text, always inside one token? (ASCII letters and digits only: tokens are
    the runs of those; a CJK character is a token of its own, so CJK literals span tokens.)"""
    return literal.isascii() and literal.isalnum()


_ALNUM_RUN: Final = regex.compile(r"[a-zA-Z0-9]{3,}")


def _key_piece(literal: str) -> str | None:
    """The longest run of three or more ASCII letters and digits in a literal that spans words ("the
    meaning of life" -> "meaning"), or None. When the literal is in a text, that run is inside one token
    (tokens are the runs of such characters and more), so a message none of whose tokens holds it cannot
    hold the literal."""
    runs = _ALNUM_RUN.findall(literal)
    return max(runs, key=len) if runs else None


def _mask_of(token: str, grams: set[str], by_gram: Mapping[str, tuple[tuple[str, int], ...]],
             keys: frozenset[str]) -> int:
    """The clause bits of the literals in ``by_gram`` (keyed by their first three letters) that are inside
    ``token``; ``grams`` are the token's three-letter pieces."""
    mask = 0
    for gram in grams.intersection(keys):
        for literal, bits in by_gram[gram]:
            if literal in token:
                mask |= bits
    return mask


def _word_gram(literal: str) -> str | None:
    """The first three letters or digits in a row in ``literal`` ("so long" -> "lon"); None if none."""
    for i in range(len(literal) - 2):
        piece = literal[i:i + 3]
        if piece.isascii() and piece.isalnum():  # a CJK character is a word of its own: no 3-letter piece
            return piece
    return None


def _finish_trie(root: _Node) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        node.more = bool(node.words or node.prefixes)
        stack.extend(node.words.values())
        stack.extend(c for bucket in node.prefixes.values() for _, c in bucket)
        if node.gap is not None:
            stack.append(node.gap)


_State = tuple[_Node, int, bool, bool]  # (node, next token, fuzzy used, alias used)
# What a token text may do, cached per text:
# (root child, (alias, may start a phrase), fuzzy candidates, starts a phrase other than as itself,
#  has an alias or a fuzzy reading)
_Info = tuple["_Node | None", "tuple[str, bool] | None", "Candidates | None", bool, bool]
_MISSING: Final = object()
#: Extra literal sets tested before a triggered regex runs (each a substring test or a few).
MAX_EXTRA_CLAUSES: Final = 6
#: Filler words ("really", "honestly") skipped in a row inside a phrase.
MAX_FILLERS: Final = 2
#: Regex pre-checks are looked up by the first (up to) _KEY letters of a token.
_KEY: Final = 4
#: Distinct token texts whose lookups are remembered; emptied when full so memory stays bounded.
_INFO_CACHE: Final = 50_000

# What a token text triggers: regexes by its start, literals worth a substring test (their three-letter
# piece is in the token), the further clauses its own letters satisfy, and the clauses it may help satisfy
# (bits, see ``_clause_checks``)
_TokenTriggers = tuple[tuple[int, ...], tuple[tuple[str, tuple[int, ...]], ...], int, int]
_NO_TRIGGERS: Final[_TokenTriggers] = ((), (), 0, 0)
# (token start, token end, rule index, phrase index, fuzzy, alias, char start, char end); char offsets of
# phrase matches are -1 until the end, as most raw matches are dropped as duplicates
_Raw = tuple[int, int, int, int, bool, bool, int, int]


class CompiledLexicon:
    """Rules compiled for matching. Immutable after construction and safe to share between threads.

    ``cues`` are rules reported only in a text where a rule matched too (context words such as "not" or
    "my friend": common, and of no interest on their own). ``fuzzy`` turns the misspelling matcher on;
    ``fuzzy_stopwords`` are lexicon words it never targets (short function words) and ``fuzzy_ignore``
    real words it never rewrites (``overdone`` is not a misspelling of ``overdose``). ``aliases`` maps a
    token to another form tried as well as the token itself (matches made that way have
    ``alias=True``); ``inner_aliases`` likewise, except at the start of a phrase (verb forms: "wants"
    for "want" after "she", never as a phrase's first word). With ``{"sister": "i", "herself": "myself"}``
    "my sister has been cutting herself" matches "i have been cutting myself".
    """

    def __init__(
        self,
        rules: Sequence[LexiconRule],
        *,
        fuzzy: bool = True,
        fuzzy_stopwords: Iterable[str] = (),
        fuzzy_ignore: Iterable[str] = (),
        aliases: Mapping[str, str] | None = None,
        inner_aliases: Mapping[str, str] | None = None,
        regex_timeout: float = DEFAULT_REGEX_TIMEOUT,
        cues: Sequence[LexiconRule] = (),
        fillers: Iterable[str] = (),
    ) -> None:
        # cues come after the rules, so "is this a rule" is one comparison of the rule index
        self._entries: tuple[LexiconRule, ...] = (*rules, *cues)
        self._n_rules = len(rules)
        self._all_rules: tuple[Rule, ...] = tuple(r.rule for r in self._entries)
        #: The rules, in match order (without the cues).
        self.rules: tuple[Rule, ...] = self._all_rules[: self._n_rules]
        self._idiom: tuple[bool, ...] = tuple(r.category == "idiom" for r in self._all_rules)
        self.fuzzy = fuzzy
        self.regex_timeout = regex_timeout

        self._root = _Node()
        self._cue_root = _Node()
        vocabulary: set[str] = set()
        stems: set[str] = set()
        for ri, entry in enumerate(self._entries):
            is_rule = ri < self._n_rules
            for pi, variant in entry.variants:
                for spelled in _spellings(variant):
                    node = self._root if is_rule else self._cue_root
                    for kind, value in spelled:
                        if is_rule and kind == WORD:
                            vocabulary.add(value)
                        elif is_rule and kind == PREFIX:
                            stems.add(value)
                        node = node.child((kind, value))
                    node.add_end((ri, pi))
        _finish_trie(self._root)
        _finish_trie(self._cue_root)
        self.vocabulary: frozenset[str] = frozenset(vocabulary)

        # every regex with the literals of which each match contains one: one substring test per literal
        # tells which regexes can match at all, so most messages call none
        self._regex_rules: tuple[tuple[int, regex.Pattern[str]], ...] = tuple(
            (ri, p) for ri, e in enumerate(self._entries[: self._n_rules]) for p in e.patterns
        )
        # the pre-check is the start of a token where the pattern shows one (a few dict lookups per token),
        # else a literal substring (one test per literal), else none (the regex always runs)
        always: list[int] = []
        by_prefix: dict[str, list[tuple[str, int]]] = {}
        by_literal: dict[str, list[int]] = {}
        # the other literals a match needs as well, tested only when the pre-check let the regex through
        also: list[tuple[frozenset[str], ...]] = []
        for k, (_, p) in enumerate(self._regex_rules):
            starts = required_prefixes(p.pattern)
            if starts is not None and not all(w.isascii() for w in starts):
                starts = None  # CJK words are one character each: a longer start is no token start
            needs = required_literals(p.pattern)
            clauses = required_clauses(p.pattern)
            # any required clause can be the pre-check: take the most selective ("worthless|hopeless|..."
            # rather than "i" or "feel|felt|am")
            rarest = max(clauses, key=trigger_strength, default=None)
            if rarest is not None and (needs is None or trigger_strength(rarest) > trigger_strength(needs)):
                needs = rarest
            # a rare-looking substring beats a common word ("cutting" against "i")
            if starts is not None and (needs is None or trigger_strength(starts) >= trigger_strength(needs)):
                also.append(tuple(clauses)[:MAX_EXTRA_CLAUSES])
                for w in starts:
                    by_prefix.setdefault(w[:_KEY], []).append((w, k))
                continue
            also.append(tuple(c for c in clauses if c != needs)[:MAX_EXTRA_CLAUSES])
            if needs is None:
                always.append(k)
            else:
                for lit in needs:
                    by_literal.setdefault(lit, []).append(k)
        self._regex_always = tuple(always)
        # each further clause of every regex is one bit of a Python int: a token's own letters set the bits
        # of the clauses they satisfy (worked out once per token text), OR-ed over the message. A clause
        # literal that can span words ("the meaning of life", CJK) is tested against the text, and only
        # for a regex that its pre-check let through and whose spanning clauses may be there: the longest
        # letter run of such a literal ("meaning") must be inside a token, and the tokens set a second
        # int of "may be there" bits the same way (a clause with a spanning literal without such a run,
        # "i am", may always be there)
        clause_grams: dict[str, dict[str, int]] = {}
        maybe_grams: dict[str, dict[str, int]] = {}
        offsets: list[int] = []
        fulls: list[int] = []
        rests: list[tuple[tuple[int, tuple[str, ...]], ...]] = []
        free_masks: list[int] = []
        bit = 0
        for regex_clauses in also:
            offsets.append(bit)
            fulls.append((1 << len(regex_clauses)) - 1)
            rest: list[tuple[int, tuple[str, ...]]] = []
            free = 0
            for ci, clause in enumerate(regex_clauses):
                spanning: list[str] = []
                for lit in clause:
                    gram = _word_gram(lit)
                    if gram is not None and _in_one_word(lit):
                        by_lit = clause_grams.setdefault(gram, {})
                        by_lit[lit] = by_lit.get(lit, 0) | (1 << (bit + ci))
                        continue
                    spanning.append(lit)
                    piece = _key_piece(lit)
                    if piece is None:
                        free |= 1 << ci
                    else:
                        by_piece = maybe_grams.setdefault(piece[:3], {})
                        by_piece[piece] = by_piece.get(piece, 0) | (1 << (bit + ci))
                if spanning:
                    rest.append((ci, tuple(sorted(spanning, key=len))))
            rests.append(tuple(rest))
            free_masks.append(free)
            bit += len(regex_clauses)
        self._clause_grams = {g: tuple(v.items()) for g, v in clause_grams.items()}
        self._clause_gram_keys = frozenset(clause_grams)
        self._maybe_grams = {g: tuple(v.items()) for g, v in maybe_grams.items()}
        self._maybe_gram_keys = frozenset(maybe_grams)
        #: per regex: (offset of its clause bits, all its clause bits, the clauses with spanning literals
        #: and those literals, the clauses that may always be there)
        self._clause_checks: tuple[tuple[int, int, tuple[tuple[int, tuple[str, ...]], ...], int], ...] = tuple(
            zip(offsets, fulls, rests, free_masks, strict=True))
        self._regex_by_prefix = {key: tuple(ws) for key, ws in by_prefix.items()}
        self._regex_key_lengths = tuple(sorted({len(key) for key in by_prefix}))
        #: token text -> the regexes its start triggers (tokens repeat: each is worked out once)
        self._regex_token_triggers: dict[str, _TokenTriggers] = {}
        # literals by the first three characters of their probe (the literal itself when it is inside one
        # word, else its longest letter run, which a token must hold): the text's trigrams pick the few
        # probes worth a substring test (one set intersection instead of a test per literal)
        by_gram: dict[str, list[tuple[str, str, tuple[int, ...]]]] = {}
        short: list[tuple[str, tuple[int, ...]]] = []
        for lit, ks in by_literal.items():
            probe = lit if _in_one_word(lit) else _key_piece(lit)
            if probe is None or len(probe) < 3:
                short.append((lit, tuple(ks)))
            else:
                by_gram.setdefault(probe[:3], []).append((probe, lit, tuple(ks)))
        self._regex_literal_grams = {g: tuple(v) for g, v in by_gram.items()}
        self._regex_gram_keys = frozenset(by_gram)
        self._regex_short_literals = tuple(short)

        # alias -> (word, may start a phrase); inner aliases (verb forms) never start one
        self._aliases: dict[str, tuple[str, bool]] = {
            **{fold_word(k): (fold_word(v), False) for k, v in (inner_aliases or {}).items()},
            **{fold_word(k): (fold_word(v), True) for k, v in (aliases or {}).items()},
        }
        #: words skipped between two words of a phrase ("i am honestly ready to die"); never at its start
        self._fillers: frozenset[str] = frozenset(fold_word(w) for w in fillers)
        self._infos: dict[str, _Info | None] = {}
        self._fuzzy: FuzzyIndex | None = (
            FuzzyIndex(vocabulary, stems, stopwords=fuzzy_stopwords, ignore=fuzzy_ignore) if fuzzy else None
        )

    def __len__(self) -> int:
        return self._n_rules

    def __repr__(self) -> str:
        cues = len(self._entries) - self._n_rules
        return f"CompiledLexicon(rules={self._n_rules}, cues={cues}, fuzzy={self.fuzzy})"

    @property
    def entries(self) -> tuple[LexiconRule, ...]:
        """The rules (then the cues) with their sources (file, line), in match order."""
        return self._entries

    def find_text(self, text: str) -> list[Match]:
        """Normalise ``text`` and :meth:`find` in it (convenience for tests and tools)."""
        return self.find(normalize(text))

    def find(self, nt: NormalizedText) -> list[Match]:
        """All matches of all rules, ordered by start, longest first, then rule order.

        Overlapping matches of different rules are all kept; of one rule's overlapping matches the
        earliest-longest is kept. Cue matches are included when a rule matched. Raises ``TimeoutError``
        when a rule regex runs too long (fail closed).
        """
        raw: list[_Raw] = []
        texts = spelled = list(nt.token_texts)
        if not texts:
            return []
        if not nt.text.isascii():  # accents and diacritics typed or not: compare folded words
            texts = list(map(fold_word, texts))
        elong = [t.elongated for t in nt.tokens] if nt.has_elongation else [False] * len(texts)
        get = self._infos.get
        infs: list[_Info | None] = [get(t, _MISSING) for t in texts]  # type: ignore[arg-type]
        if _MISSING in infs:
            for k, info in enumerate(infs):
                if info is _MISSING:
                    infs[k] = self._info(texts[k])
        # positions where more than the exact word may match: an alias, a misspelling, an elongation
        spec = [i is not None and i[4] for i in infs]
        if True in elong:
            spec = [a or b for a, b in zip(spec, elong, strict=True)]
        self._scan(texts, elong, infs, spec, raw)
        if self._regex_rules:
            self._scan_regex(nt, spelled, raw)  # regexes run on the text as normalised, unfolded
        if not raw:
            return []
        if self._n_rules < len(self._entries) and not all(self._idiom[r[2]] for r in raw):
            self._scan_cues(texts, elong, raw)  # context for a risk match (an idiom alone needs none)
        return self._finish(raw, nt.tokens)

    # ------------------------------------------------------------------------------------------ scan
    def _info(self, t: str) -> _Info | None:
        """What a token text may do (cached per text: the words of a conversation repeat).

        ``None`` when the token starts no phrase and has no alias and no fuzzy reading: most tokens.
        """
        info = self._infos.get(t, _MISSING)
        if info is not _MISSING:
            return info  # type: ignore[return-value]
        root = self._root
        child = root.words.get(t)
        alias = self._aliases.get(t)
        cand = self._fuzzy.lookup(t) if self._fuzzy is not None else None
        special = any(t.startswith(s) for s, _ in root.prefixes.get(t[:3], ()))
        if alias is not None and alias[1] and alias[0] in root.words:
            special = True
        if cand is not None and (
            any(w in root.words for w in cand[0]) or any(st[:3] in root.prefixes for st in cand[1])
        ):
            special = True
        result: _Info | None = None
        filler = t in self._fillers
        if child is not None or special or alias is not None or cand is not None or filler:
            result = (child, alias, cand, special, alias is not None or cand is not None or filler)
        if len(self._infos) >= _INFO_CACHE:
            self._infos = {}
        self._infos[t] = result
        return result

    def _scan(
        self, texts: list[str], elong: list[bool], infs: list[_Info | None], spec: list[bool], raw: list[_Raw]
    ) -> None:
        n = len(texts)
        root = self._root
        for i in range(n):
            info = infs[i]
            if info is None:
                if not elong[i]:
                    continue  # the common case: a word that starts nothing
            elif not info[3] and not elong[i]:
                child = info[0]
                if child is None:
                    continue
                # an exact root word only: record its single-word phrases, then look one word ahead
                # before paying for a walk (common words start phrases the next word does not continue)
                if child.ends:
                    for ri, pi in child.ends:
                        raw.append((i, i + 1, ri, pi, False, False, -1, -1))
                j = i + 1
                if j >= n:
                    continue
                if child.gap is None and not child.prefixes and not spec[j]:
                    nxt = child.words.get(texts[j])
                    if nxt is not None:
                        self._walk(i, [(nxt, j + 1, False, False)], texts, infs, elong, spec, raw)
                    continue
                stack: list[_State] = []
                self._expand(child, j, texts, infs, elong, spec, False, False, stack)
                if stack:
                    self._walk(i, stack, texts, infs, elong, spec, raw)
                continue
            stack = []
            self._step(root, i, texts, elong, False, False, stack, info)
            if stack:
                self._walk(i, stack, texts, infs, elong, spec, raw)

    def _scan_cues(self, texts: list[str], elong: list[bool], raw: list[_Raw]) -> None:
        """Find the cues (exact words, no aliases, no misspellings)."""
        root = self._cue_root
        words = root.words
        prefixes = root.prefixes
        n = len(texts)
        plain: list[_Info | None] = [None] * n  # cues take no aliases and no misspellings
        for i in range(n):
            t = texts[i]
            if t not in words and not elong[i] and not (prefixes and t[:3] in prefixes):
                continue
            stack: list[_State] = []
            self._step(root, i, texts, elong, False, False, stack, None)
            if stack:
                self._walk(i, stack, texts, plain, elong, elong, raw)

    def _walk(
        self, start: int, stack: list[_State], texts: list[str], infs: list[_Info | None], elong: list[bool],
        spec: list[bool], raw: list[_Raw],
    ) -> None:
        """Follow every state on ``stack`` through the trie, recording the phrases that end."""
        n = len(texts)
        while stack:
            node, pos, fz, al = stack.pop()
            if node.ends:
                for ri, pi in node.ends:
                    raw.append((start, pos, ri, pi, fz, al, -1, -1))
            if pos < n:
                self._expand(node, pos, texts, infs, elong, spec, fz, al, stack)

    def _expand(
        self, node: _Node, pos: int, texts: list[str], infs: list[_Info | None], elong: list[bool],
        spec: list[bool], fz: bool, al: bool, stack: list[_State],
    ) -> None:
        """Push the states token ``pos`` (or one after a gap of up to GAP_MAX words) leads to.

        The common step (the exact next word, at a position where nothing else can match) is inline;
        the rest goes through :meth:`_step`.
        """
        # a word with no alias, misspelling or elongation (spec) whose first letters start no stem of the
        # node can only follow an exact edge: one dict lookup instead of a _step call (a filler is skipped
        # after a node with stems even where it is not spec: the cue scan passes no spec for fillers)
        if node.more:
            t = texts[pos]
            if spec[pos] or (node.prefixes and (t[:3] in node.prefixes or t in self._fillers)):
                self._step(node, pos, texts, elong, fz, al, stack, infs[pos])
                if t in self._fillers:
                    self._skip_fillers(node, pos + 1, texts, infs, elong, spec, fz, al, stack)
            else:
                child = node.words.get(t)
                if child is not None:
                    stack.append((child, pos + 1, fz, al))
        gap = node.gap
        if gap is not None:
            words = gap.words
            for p in range(pos, min(pos + GAP_MAX + 1, len(texts))):
                if spec[p] or (gap.prefixes and texts[p][:3] in gap.prefixes):
                    self._step(gap, p, texts, elong, fz, al, stack, infs[p])
                else:
                    child = words.get(texts[p])
                    if child is not None:
                        stack.append((child, p + 1, fz, al))

    def _skip_fillers(
        self, node: _Node, pos: int, texts: list[str], infs: list[_Info | None], elong: list[bool],
        spec: list[bool], fz: bool, al: bool, stack: list[_State],
    ) -> None:
        """Continue ``node`` at the word after a filler (and after up to MAX_FILLERS fillers in a row)."""
        for p in range(pos, min(pos + MAX_FILLERS, len(texts))):
            if spec[p] or (node.prefixes and texts[p][:3] in node.prefixes):
                self._step(node, p, texts, elong, fz, al, stack, infs[p])
            else:
                child = node.words.get(texts[p])
                if child is not None:
                    stack.append((child, p + 1, fz, al))
            if texts[p] not in self._fillers:
                break

    def _step(
        self,
        node: _Node,
        pos: int,
        texts: list[str],
        elong: list[bool],
        fz: bool,
        al: bool,
        stack: list[_State],
        info: _Info | None,
    ) -> None:
        """Push the children of ``node`` that token ``pos`` leads to."""
        t = texts[pos]
        nxt = pos + 1
        child = node.words.get(t)
        if child is not None:
            stack.append((child, nxt, fz, al))
        if node.prefixes:
            for stem, c in node.prefixes.get(t[:3], ()):
                if t.startswith(stem):
                    stack.append((c, nxt, fz, al))
        if info is not None:
            _, alias, cand, _, _ = info
            # an alias is tried even when the token matched as itself: "she" is a cue word and an alias
            if alias is not None and (alias[1] or node is not self._root):
                c2 = node.words.get(alias[0])
                if c2 is not None and c2 is not child:
                    stack.append((c2, nxt, fz, True))
            if cand is not None and not fz:
                cwords, cstems = cand
                for w in cwords:
                    c3 = node.words.get(w)
                    if c3 is not None:
                        stack.append((c3, nxt, True, al))
                if node.prefixes:
                    for stem in cstems:
                        for s, c4 in node.prefixes.get(stem[:3], ()):
                            if s == stem:
                                stack.append((c4, nxt, True, al))
        if child is None and elong[pos]:
            sq = squeeze(t)
            for c in node.squeezed.get(sq, ()):
                stack.append((c, nxt, fz, al))
            if node.prefixes:
                for stem, c in node.prefixes.get(sq[:3], ()):
                    if sq.startswith(stem) and not t.startswith(stem):
                        stack.append((c, nxt, fz, al))

    def _scan_regex(self, nt: NormalizedText, texts: list[str], raw: list[_Raw]) -> None:
        text = nt.text
        run = set(self._regex_always)
        cache = self._regex_token_triggers
        literals: set[tuple[str, tuple[int, ...]]] = set()
        bits = maybe = 0
        for t in set(texts):
            hit = cache.get(t)
            if hit is None:
                hit = self._token_triggers(t)
                if len(cache) >= _INFO_CACHE:
                    cache.clear()
                cache[t] = hit
            if hit is _NO_TRIGGERS:
                continue  # most words
            if hit[0]:
                run.update(hit[0])
            if hit[1]:
                literals.update(hit[1])
            bits |= hit[2]
            maybe |= hit[3]
        for lit, ks in (*literals, *self._regex_short_literals):
            if lit in text:
                run.update(ks)
        if run:
            checks = self._clause_checks
            possible = bits | maybe
            passed = set()
            for k in run:
                offset, full, rest, free = checks[k]
                have = (bits >> offset) & full
                if have != full:
                    if ((possible >> offset) & full) | free != full:
                        continue  # a clause is missing: no token holds a literal or a letter run of it
                    # the clauses still open need a literal that may span words; the first one missing
                    # settles it
                    for ci, lits in rest:
                        if not have >> ci & 1:
                            for lit in lits:
                                if lit in text:
                                    have |= 1 << ci
                                    break
                            else:
                                break
                    if have != full:
                        continue
                passed.add(k)
            run = passed
        if not run:
            return
        tokens = nt.tokens
        starts: list[int] = []
        ends: list[int] = []
        for k in sorted(run):
            ri, pattern = self._regex_rules[k]
            for m in pattern.finditer(text, timeout=self.regex_timeout):
                if not ends:  # token offsets, only once some regex matched
                    starts = [t.start for t in tokens]
                    ends = [t.end for t in tokens]
                s, e = m.span()
                ts = bisect.bisect_right(ends, s)  # first token ending after the match start
                te = bisect.bisect_left(starts, e)  # first token starting at or after the match end
                raw.append((ts, max(te, ts), ri, -1, False, False, s, e))

    def _token_triggers(self, t: str) -> _TokenTriggers:
        """What one token (a word of the text) tells the regex pre-checks, worked out once per token text.

        A literal made only of ASCII letters and digits is in the text exactly when it is inside one of
        its words, so it is settled here, per word; a literal spanning words ("so long") is only a candidate
        (its longest letter run is in this word) to test against the whole text.
        """
        hits: set[int] = set()
        by_prefix = self._regex_by_prefix
        for length in self._regex_key_lengths:
            found = by_prefix.get(t[:length])
            if found is not None:
                hits.update(k for w, k in found if t.startswith(w))
        pieces = {t[i:i + 3] for i in range(len(t) - 2)}
        lits: list[tuple[str, tuple[int, ...]]] = []
        for gram in pieces.intersection(self._regex_gram_keys):
            for probe, lit, ks in self._regex_literal_grams[gram]:
                if probe in t:
                    if probe is lit:
                        hits.update(ks)
                    else:
                        lits.append((lit, ks))  # a literal spanning words: tested against the text
        bits = _mask_of(t, pieces, self._clause_grams, self._clause_gram_keys)
        maybe = _mask_of(t, pieces, self._maybe_grams, self._maybe_gram_keys)
        if not (hits or lits or bits or maybe):
            return _NO_TRIGGERS
        return (tuple(hits), tuple(lits), bits, maybe)

    def _finish(self, raw: list[_Raw], tokens: Sequence[Token]) -> list[Match]:
        keyed = []
        for ts, te, ri, pi, fz, al, cs, ce in raw:
            if cs < 0:
                cs, ce = tokens[ts].start, tokens[te - 1].end
            # an exact match sorts before a fuzzy or aliased one of the same rule and span, and wins
            keyed.append((cs, -ce, ri, fz or al, pi if pi >= 0 else 1 << 20, ts, te, fz, al))
        keyed.sort()
        last_end: dict[int, int] = {}
        out: list[Match] = []
        rules = self._all_rules
        n_rules = self._n_rules
        for cs, nce, ri, _, pi, ts, te, fz, al in keyed:
            if ri < n_rules:
                if cs < last_end.get(ri, -1):
                    continue  # overlaps a longer or earlier match of the same rule
                last_end[ri] = -nce
            out.append(Match(rules[ri], cs, -nce, ts, te, fz, al, pi if pi < 1 << 20 else -1))
        return out
