"""The compiled matcher: every phrase of every rule found in one pass over the words of a message.

The phrase variants of all rules go into one word trie. :meth:`CompiledLexicon.find` walks the tokens once;
at each token a dict lookup in the trie's root says whether any phrase can start there, and only then is the
trie followed (at most the length of the longest phrase, gaps included), so the cost is linear in the length
of the message. A token that matches no trie edge exactly may still match through its squeezed form
(``diiiie`` -> ``die``), an alias, or (optionally) a bounded fuzzy match (``suicde``, ``s*icide``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple

import regex

from mhguard.lexicon.fuzzy import Candidates, FuzzyIndex, squeeze
from mhguard.lexicon.loader import LexiconRule
from mhguard.lexicon.models import Rule
from mhguard.lexicon.phrase import GAP_MAX, PREFIX, WORD, Variant
from mhguard.lexicon.triggers import required_literals
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


class _Node:
    __slots__ = ("ends", "gap", "more", "prefixes", "squeezed", "words")

    def __init__(self) -> None:
        self.words: dict[str, _Node] = {}
        # first three letters of the stem -> [(stem, child)]: one dict lookup per token, not one per stem
        self.prefixes: dict[str, list[tuple[str, _Node]]] = {}
        self.squeezed: dict[str, list[_Node]] = {}
        self.gap: _Node | None = None
        self.ends: list[tuple[int, int]] = []  # (rule index, phrase index)
        self.more = False  # has word or prefix children (set when the trie is complete)

    def child(self, element: tuple[int, str]) -> _Node:
        kind, value = element
        if kind == WORD:
            node = self.words.get(value)
            if node is None:
                node = self.words[value] = _Node()
                sq = squeeze(value)
                self.squeezed.setdefault(sq, []).append(node)
            return node
        if kind == PREFIX:
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


_State = tuple["_Node", int, bool, bool]  # (node, next token, fuzzy used, alias used)
# (root child, (alias, may start a phrase), fuzzy candidates, starts a phrase other than as itself)
_Info = tuple["_Node | None", "tuple[str, bool] | None", "Candidates | None", bool]
_MISSING: Final = object()
#: Distinct token texts whose lookups are remembered; emptied when full so memory stays bounded.
_INFO_CACHE: Final = 50_000

# (token start, token end, rule index, phrase index, fuzzy, alias, char start, char end); char offsets of
# phrase matches are -1 until the end, as most raw matches are dropped as duplicates
_Raw = tuple[int, int, int, int, bool, bool, int, int]


class CompiledLexicon:
    """Rules compiled for matching. Immutable after construction and safe to share between threads.

    ``cues`` are rules matched in the same pass but reported only in a text where a rule matched too
    (context words such as "not" or "my friend": common, and of no interest on their own). ``fuzzy`` turns
    the misspelling matcher on; ``fuzzy_stopwords`` are lexicon words it never targets
    (short function words) and ``fuzzy_ignore`` real words it never rewrites (``overdone`` is not a
    misspelling of ``overdose``). ``aliases`` maps a token to another form tried as well as the token
    itself (matches made that way have ``alias=True``); ``inner_aliases`` likewise, except at the start
    of a phrase (verb forms: "wants" for "want" after "she", never as a phrase's first word).
    ``stand_ins`` maps a rule (or cue) id to a word its matches may stand in for at the start of a
    phrase: with ``{"context.other_person": "i"}``, "my sister has been cutting herself" matches "i have
    been cutting myself" (an aliased match that starts where "my sister" starts).
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
        stand_ins: Mapping[str, str] | None = None,
    ) -> None:
        # cues come after the rules, so "is this a rule" is one comparison of the rule index
        self._entries: tuple[LexiconRule, ...] = (*rules, *cues)
        self._n_rules = len(rules)
        self._all_rules: tuple[Rule, ...] = tuple(r.rule for r in self._entries)
        #: The rules, in match order (without the cues).
        self.rules: tuple[Rule, ...] = self._all_rules[: self._n_rules]
        self.fuzzy = fuzzy
        self.regex_timeout = regex_timeout
        self._root = _Node()
        vocabulary: set[str] = set()
        stems: set[str] = set()
        for ri, entry in enumerate(self._entries):
            for pi, variant in entry.variants:
                self._add(variant, ri, pi, vocabulary, stems)
        # every regex with the literals of which each match contains one: one substring test per literal
        # tells which regexes can match at all, so most messages call none
        self._regex_rules: tuple[tuple[int, regex.Pattern[str]], ...] = tuple(
            (ri, p) for ri, e in enumerate(self._entries) for p in e.patterns
        )
        always: list[int] = []
        by_literal: dict[str, list[int]] = {}
        for k, (_, p) in enumerate(self._regex_rules):
            needs = required_literals(p.pattern)
            if needs is None:
                always.append(k)
            else:
                for lit in needs:
                    by_literal.setdefault(lit, []).append(k)
        self._regex_always = tuple(always)
        self._regex_literals = tuple(by_literal)
        self._regex_by_literal = {lit: tuple(ks) for lit, ks in by_literal.items()}
        # alias -> (word, may start a phrase); inner aliases (verb forms) never start one
        self._aliases: dict[str, tuple[str, bool]] = {
            **{k: (v, False) for k, v in (inner_aliases or {}).items()},
            **{k: (v, True) for k, v in (aliases or {}).items()},
        }
        ids = {e.id: ri for ri, e in enumerate(self._entries)}
        unknown = set(stand_ins or {}) - set(ids)
        if unknown:
            raise ValueError(f"stand_ins name unknown rules: {', '.join(sorted(unknown))}")
        self._stand_ins: dict[int, str] = {ids[rid]: word for rid, word in (stand_ins or {}).items()}
        self.vocabulary: frozenset[str] = frozenset(vocabulary)
        self._infos: dict[str, _Info | None] = {}
        stack = [self._root]
        while stack:
            node = stack.pop()
            node.more = bool(node.words or node.prefixes)
            stack.extend(node.words.values())
            stack.extend(c for bucket in node.prefixes.values() for _, c in bucket)
            if node.gap is not None:
                stack.append(node.gap)
        self._fuzzy: FuzzyIndex | None = (
            FuzzyIndex(vocabulary, stems, stopwords=fuzzy_stopwords, ignore=fuzzy_ignore) if fuzzy else None
        )

    def _add(self, variant: Variant, ri: int, pi: int, vocabulary: set[str], stems: set[str]) -> None:
        node = self._root
        for element in variant:
            if element[0] == WORD:
                vocabulary.add(element[1])
            elif element[0] == PREFIX:
                stems.add(element[1])
            node = node.child(element)
        key = (ri, pi)
        if key not in node.ends:
            node.ends.append(key)

    def __len__(self) -> int:
        return self._n_rules

    def __repr__(self) -> str:
        return f"CompiledLexicon(rules={self._n_rules}, cues={len(self._entries) - self._n_rules}, fuzzy={self.fuzzy})"

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
        earliest-longest is kept. Raises ``TimeoutError`` when a rule regex runs too long (fail closed).
        """
        tokens = nt.tokens
        raw: list[_Raw] = []
        if tokens:
            self._scan(tokens, raw)
            if self._regex_rules:
                self._scan_regex(nt, raw)
        n_rules = self._n_rules
        if not raw or (n_rules < len(self._entries) and all(r[2] >= n_rules for r in raw)):
            return []
        return self._finish(raw, tokens)

    # ------------------------------------------------------------------------------------------ scan
    def _info(self, t: str) -> _Info | None:
        """What a token text may do (cached per text: the words of a conversation repeat).

        ``None`` when the token starts no phrase and has no alias and no fuzzy reading: most tokens.
        Otherwise ``(root child, alias, fuzzy candidates, starts a phrase other than as itself)``.
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
        if child is not None or special or alias is not None or cand is not None:
            result = (child, alias, cand, special)
        if len(self._infos) >= _INFO_CACHE:
            self._infos = {}
        self._infos[t] = result
        return result

    def _scan(self, tokens: Sequence[Token], raw: list[_Raw]) -> None:
        texts = [t.text for t in tokens]
        elong = [t.elongated for t in tokens]
        get = self._infos.get
        infs: list[object] = [get(t, _MISSING) for t in texts]
        root = self._root
        n = len(texts)
        for i in range(n):
            info = infs[i]
            if info is None and not elong[i]:
                continue  # the common case: a word that starts nothing
            if info is _MISSING:
                info = infs[i] = self._info(texts[i])
                if info is None and not elong[i]:
                    continue
            if not elong[i] and not info[3]:  # type: ignore[index]
                child = info[0]  # type: ignore[index]
                if child is None:
                    continue
                # an exact root word only: record its single-word phrases, then look one word ahead before
                # paying for a walk (common words start phrases that the next word does not continue)
                if child.ends:
                    for ri, pi in child.ends:
                        raw.append((i, i + 1, ri, pi, False, False, -1, -1))
                j = i + 1
                if j >= n or not (child.more or child.gap is not None):
                    continue
                if child.gap is None and not child.prefixes and not elong[j] and texts[j] not in child.words:
                    info2 = infs[j]
                    if info2 is _MISSING:
                        info2 = infs[j] = self._info(texts[j])
                    if info2 is None or not self._leads(child, info2):  # type: ignore[arg-type]
                        continue
                self._walk(i, [(child, j, False, False)], texts, infs, elong, raw, skip_first=True)
                continue
            stack: list[_State] = []
            self._step(root, i, texts, elong, False, False, stack, info)  # type: ignore[arg-type]
            if stack:
                self._walk(i, stack, texts, infs, elong, raw)
        if self._stand_ins and raw:
            for ts, te, ri, _, _, al, _, _ in list(raw):
                word = self._stand_ins.get(ri)
                if word is not None and not al and te < n:
                    child = root.words.get(word)
                    if child is not None:
                        self._walk(ts, [(child, te, False, True)], texts, infs, elong, raw)

    @staticmethod
    def _leads(node: _Node, info: _Info) -> bool:
        """Does the alias or a fuzzy reading of a token lead anywhere from ``node``?"""
        _, alias, cand, _ = info
        if alias is not None and alias[0] in node.words:
            return True
        return cand is not None and (any(w in node.words for w in cand[0]) or bool(node.prefixes and cand[1]))

    def _walk(
        self, start: int, stack: list[_State], texts: list[str], infs: list[object], elong: list[bool],
        raw: list[_Raw], skip_first: bool = False,
    ) -> None:
        """Follow every state on ``stack`` through the trie, recording the phrases that end.

        The common step (an exact next word, no alias or misspelling that leads anywhere, no elongation)
        is done inline; the rest goes through :meth:`_step`.
        """
        n = len(texts)
        leads = self._leads
        while stack:
            node, pos, fz, al = stack.pop()
            if skip_first:
                skip_first = False  # the scan loop recorded this node's ends already
            elif node.ends:
                for ri, pi in node.ends:
                    raw.append((start, pos, ri, pi, fz, al, -1, -1))
            if pos >= n:
                continue
            if node.more:
                info = infs[pos]
                if info is _MISSING:
                    info = infs[pos] = self._info(texts[pos])
                if node.prefixes or elong[pos] or (
                    info is not None
                    and (info[1] is not None or info[2] is not None)  # type: ignore[index]
                    and leads(node, info)  # type: ignore[arg-type]
                ):
                    self._step(node, pos, texts, elong, fz, al, stack, info)  # type: ignore[arg-type]
                else:
                    child = node.words.get(texts[pos])
                    if child is not None:
                        stack.append((child, pos + 1, fz, al))
            gap = node.gap
            if gap is not None:
                words = gap.words
                for p in range(pos, min(pos + GAP_MAX + 1, n)):
                    info = infs[p]
                    if info is _MISSING:
                        info = infs[p] = self._info(texts[p])
                    if gap.prefixes or elong[p] or (
                        info is not None
                        and (info[1] is not None or info[2] is not None)  # type: ignore[index]
                        and leads(gap, info)  # type: ignore[arg-type]
                    ):
                        self._step(gap, p, texts, elong, fz, al, stack, info)  # type: ignore[arg-type]
                    else:
                        child = words.get(texts[p])
                        if child is not None:
                            stack.append((child, p + 1, fz, al))

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
            _, alias, cand, _ = info
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

    def _scan_regex(self, nt: NormalizedText, raw: list[_Raw]) -> None:
        text = nt.text
        present = [lit for lit in self._regex_literals if lit in text]
        if not present and not self._regex_always:
            return
        run = set(self._regex_always)
        for lit in present:
            run.update(self._regex_by_literal[lit])
        tokens = nt.tokens
        starts = [t.start for t in tokens]
        ends = [t.end for t in tokens]
        for k in sorted(run):
            ri, pattern = self._regex_rules[k]
            for m in pattern.finditer(text, timeout=self.regex_timeout):
                s, e = m.span()
                ts = bisect.bisect_right(ends, s)  # first token ending after the match start
                te = bisect.bisect_left(starts, e)  # first token starting at or after the match end
                raw.append((ts, max(te, ts), ri, -1, False, False, s, e))

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
        for cs, nce, ri, _, pi, ts, te, fz, al in keyed:
            if cs < last_end.get(ri, -1):
                continue  # overlaps a longer or earlier match of the same rule
            last_end[ri] = -nce
            out.append(Match(rules[ri], cs, -nce, ts, te, fz, al, pi if pi < 1 << 20 else -1))
        return out
