"""Context for crisis findings, in the spirit of NegEx (Chapman 2001) and ConText (Harkema 2009).

The cue lists are data (``lexicons/<language>/context.yaml``, format in ``docs/lexicon-format.md``). They are
compiled as extra pseudo-rules into the same one-pass matcher as the risk rules, so finding the cues costs
no second scan; this module then decides, for each risk match, what its cues change:

negation (cancels), idiom overlap (cancels), harassment aimed at someone else (recategorises), experiencer
(someone else at risk), historical (at most low), hypothetical (one step down), framing (news, fiction,
research: at most concern) and lethal-means questions (raised with distress in the message or recent turns).
"""

from __future__ import annotations

import bisect
import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import regex
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mhguard.errors import PolicyError
from mhguard.lexicon.loader import BUILTIN_DIR, CONTEXT_FILE, LexiconRule, format_loc, load_yaml, node_at
from mhguard.lexicon.matcher import Match
from mhguard.lexicon.models import Rule
from mhguard.lexicon.phrase import PhraseError, Variant, expand_phrase
from mhguard.text.fold import fold_word
from mhguard.text.normalize import NormalizedText
from mhguard.types import Tier

__all__ = [
    "ContextFile",
    "ContextRules",
    "Judged",
    "apply_context",
    "load_context",
]

# ------------------------------------------------------------------------------------------------ models


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    phrases: list[str] = []
    examples: list[str] = []
    counter_examples: list[str] = []


class Terminators(_Section):
    #: Characters that end a clause (and so the scope of every cue).
    punctuation: str = ".!?;:\n"


class Negation(_Section):
    modifier: str = "negated"
    window: int = Field(3, ge=0, le=10)
    pseudo: list[str] = []


class Hypothetical(_Section):
    modifier: str = "hypothetical"


class Historical(_Section):
    modifier: str = "historical"
    window: int = Field(8, ge=0, le=30)
    current: list[str] = []


class OtherPerson(_Section):
    modifier: str = "other_person"
    window: int = Field(8, ge=0, le=30)
    #: single words (matched as tokens, not as phrases)
    first_person: list[str] = []
    #: first-person words that are subjects, so can introduce a quotation ("I wrote 'I want to die'")
    subject_pronouns: list[str] = ["i", "we"]
    aliases: dict[str, str] = {}
    verb_aliases: dict[str, str] = {}


class ToldTo(_Section):
    modifier: str = "told_by_others"
    category: str = "distress"
    tier: Tier = Tier.CONCERN
    window: int = Field(1, ge=0, le=5)
    #: who tells, when it is no person ("the voices"): a command hallucination, judged as itself
    not_by: list[str] = []


class Quoted(_Section):
    modifier: str = "quoted"


class Framing(_Section):
    modifier: str = "framing"


class Harassment(_Section):
    modifier: str = "aimed_at_other"
    category: str = "harassment"
    tier: Tier = Tier.CONCERN


class Protected(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: list[str] = []
    rule_ids: list[str] = []


class FuzzyWords(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stopwords: list[str] = []
    ignore: list[str] = []


class Fillers(BaseModel):
    """Words a phrase may have between two of its words without listing them: "i am honestly ready to
    die" matches "i am ready to die". Never at a phrase's start; regex rules are not affected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    words: list[str] = []
    #: Texts that a rule matches only because a filler word is skipped (the tests check each one).
    examples: list[str] = []


class ContextFile(BaseModel):
    """The top level of a ``context.yaml`` file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str = Field(min_length=2)
    terminators: Terminators = Terminators()
    negation: Negation = Negation()
    hypothetical: Hypothetical = Hypothetical()
    historical: Historical = Historical()
    other_person: OtherPerson = OtherPerson()
    told_to: ToldTo = ToldTo()
    quoted: Quoted = Quoted()
    framing: Framing = Framing()
    harassment: Harassment = Harassment()
    protected: Protected = Protected()
    framing_categories: list[str] = []
    fuzzy: FuzzyWords = FuzzyWords()
    fillers: Fillers = Fillers()



# Cue kinds: the ids of the pseudo-rules the cue lists compile to.
TERMINATOR: Final = "context.terminator"
NEGATION: Final = "context.negation"
PSEUDO_NEGATION: Final = "context.negation.pseudo"
HYPOTHETICAL: Final = "context.hypothetical"
HISTORICAL: Final = "context.historical"
CURRENT: Final = "context.historical.current"
OTHER: Final = "context.other_person"
TOLD_TO: Final = "context.told_to"
TOLD_BY_VOICES: Final = "context.told_to.voices"
SPEECH: Final = "context.quoted"
FRAMING: Final = "context.framing"
HARASSMENT: Final = "context.harassment"

#: Cue sections that hold examples run by the tests, by name in the file.
SECTIONS: Final = (
    "terminators", "negation", "hypothetical", "historical", "other_person", "told_to", "quoted", "framing",
    "harassment",
)


@dataclass(frozen=True)
class ContextRules:
    """A loaded context file: its settings and its cue lists as pseudo-rules for the matcher."""

    model: ContextFile
    source: str
    #: the cue lists as pseudo-rules (the matcher reports them only next to a rule match)
    cue_rules: tuple[LexiconRule, ...]
    aliases: dict[str, str]
    pronoun_aliases: frozenset[str]
    sentence_re: regex.Pattern[str]
    clause_re: regex.Pattern[str]
    protected_categories: frozenset[str]
    protected_patterns: tuple[str, ...]
    framing_categories: frozenset[str]
    #: single first-person words ("i", "me"): one between a negation cue and a match starts a new statement
    first_words: frozenset[str] = frozenset()
    _protected_cache: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    _vocabulary_cache: dict[str, frozenset[str] | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def language(self) -> str:
        return self.model.language

    def gap_vocabulary(self, rule: Rule, phrase: int) -> frozenset[str] | None:
        """For a phrase with a gap ("i ... considering suicide"), the words it is written with (folded,
        both forms); None for other phrases and regexes. A negation word inside a gap match that is not
        one of these came in through the gap ("I never considered suicide"), so it negates the match like
        a cue before it would."""
        key = f"{rule.id}\x00{phrase}"
        if key in self._vocabulary_cache:
            return self._vocabulary_cache[key]
        words: frozenset[str] | None = None
        if 0 <= phrase < len(rule.phrases) and "..." in rule.phrases[phrase]:
            raw = regex.findall(r"[\p{L}\p{M}]+", rule.phrases[phrase].casefold())
            # Chinese and Japanese are tokenised a character at a time
            chars = regex.findall(r"[\p{Han}\p{Hiragana}\p{Katakana}]", rule.phrases[phrase])
            words = frozenset(raw) | frozenset(fold_word(w) for w in raw) | frozenset(chars)
        self._vocabulary_cache[key] = words
        return words

    def is_protected(self, rule: Rule) -> bool:
        """Means and method questions: never lowered by framing, hypothetical or other-person wrappers."""
        if rule.category in self.protected_categories:
            return True
        hit = self._protected_cache.get(rule.id)
        if hit is None:
            hit = any(fnmatch.fnmatchcase(rule.id, p) for p in self.protected_patterns)
            self._protected_cache[rule.id] = hit
        return hit


def _cue_rule(rule_id: str, phrases: Sequence[str], source: str, root: object, loc: Sequence[str | int]) -> LexiconRule:
    variants: list[tuple[int, Variant]] = []
    for j, phrase in enumerate(phrases):
        try:
            variants.extend((j, v) for v in expand_phrase(phrase))
        except PhraseError as exc:
            node = node_at(root, [*loc, j])  # type: ignore[arg-type]
            line = node.start_mark.line + 1 if node is not None else None
            raise PolicyError(str(exc), source=source, line=line, path=format_loc([*loc, j])) from None
    rule = Rule.model_construct(
        id=rule_id, category="context", tier=None, description="", phrases=list(phrases), regex=[],
        examples=[], counter_examples=[],
    )
    return LexiconRule(rule=rule, variants=tuple(variants), patterns=(), source=source, line=None,
                       path=format_loc(loc))


def _node_line(root: object, loc: Sequence[str | int]) -> int | None:
    node = node_at(root, loc)  # type: ignore[arg-type]
    return node.start_mark.line + 1 if node is not None else None


def _punct_re(chars: str) -> regex.Pattern[str]:
    return regex.compile("[" + regex.escape(chars) + "]")


def parse_context(text: str, source: str) -> ContextRules:
    data, root = load_yaml(text, source)
    if not isinstance(data, dict):
        raise PolicyError("a context file must be a mapping", source=source, line=1)
    try:
        model = ContextFile.model_validate(data)
        for i, word in enumerate(model.other_person.first_person):
            if not regex.fullmatch(r"[\p{L}\p{N}][\p{L}\p{M}\p{N}]*", word):
                raise PolicyError(
                    "first-person words are single words", source=source,
                    line=_node_line(root, ["other_person", "first_person", i]),
                    path=f"other_person.first_person[{i}]",
                )
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if isinstance(p, (str, int))]
        node = node_at(root, loc)
        line = node.start_mark.line + 1 if node is not None else None
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and loc:
            msg = f"unknown key {loc[-1]!r}"
        raise PolicyError(msg, source=source, line=line, path=format_loc(loc)) from None
    lists: list[tuple[str, Sequence[str], list[str | int]]] = [
        (TERMINATOR, model.terminators.phrases, ["terminators", "phrases"]),
        (NEGATION, model.negation.phrases, ["negation", "phrases"]),
        (PSEUDO_NEGATION, model.negation.pseudo, ["negation", "pseudo"]),
        (HYPOTHETICAL, model.hypothetical.phrases, ["hypothetical", "phrases"]),
        (HISTORICAL, model.historical.phrases, ["historical", "phrases"]),
        (CURRENT, model.historical.current, ["historical", "current"]),
        (OTHER, model.other_person.phrases, ["other_person", "phrases"]),
        (TOLD_TO, model.told_to.phrases, ["told_to", "phrases"]),
        (TOLD_BY_VOICES, model.told_to.not_by, ["told_to", "not_by"]),
        (SPEECH, model.quoted.phrases, ["quoted", "phrases"]),
        (FRAMING, model.framing.phrases, ["framing", "phrases"]),
        (HARASSMENT, model.harassment.phrases, ["harassment", "phrases"]),
    ]
    cue_rules = tuple(_cue_rule(rid, phrases, source, root, loc) for rid, phrases, loc in lists if phrases)
    aliases = {**model.other_person.verb_aliases, **model.other_person.aliases}
    sentence_chars = "".join(c for c in model.terminators.punctuation if c in ".!?\n。！？।؟")
    return ContextRules(
        model=model,
        source=source,
        cue_rules=cue_rules,
        aliases=aliases,
        pronoun_aliases=frozenset(model.other_person.aliases),
        sentence_re=_punct_re(sentence_chars or "\n"),
        clause_re=_punct_re(model.terminators.punctuation or "\n"),
        protected_categories=frozenset(model.protected.categories),
        protected_patterns=tuple(model.protected.rule_ids),
        framing_categories=frozenset(model.framing_categories),
        first_words=frozenset(w.strip() for w in model.other_person.first_person),
    )


_EMPTY = "language: xx\n"


def load_context(source: str | Path | None) -> ContextRules:
    """Context cues by language name (the built-in ``lexicons/<lang>/context.yaml``) or file path.

    A language without a built-in context file gets no cues (every match is taken at face value).
    """
    if source is None:
        return parse_context(_EMPTY, "<none>")
    if isinstance(source, str) and "/" not in source and not source.endswith((".yaml", ".yml")):
        path = BUILTIN_DIR / source / CONTEXT_FILE
        if not path.exists():
            return parse_context(_EMPTY.replace("xx", source), "<none>")
        return parse_context(path.read_text(encoding="utf-8"), CONTEXT_FILE)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read context file: {exc.strerror or exc}", source=str(path)) from None
    return parse_context(text, path.name)


# ------------------------------------------------------------------------------------------------ judging


@dataclass(slots=True)
class Judged:
    """A risk match with what context made of it."""

    match: Match
    category: str
    tier: Tier
    modifiers: list[str]
    notes: list[str]
    rule_id: str = ""

    @property
    def active(self) -> bool:
        return self.tier is not Tier.NONE


# a quotation: double quotes of any kind, or single quotes that are no apostrophes (not inside a word)
_QUOTES = regex.compile(
    r"[\"“”«»„]([^\"“”«»„\n]{1,400})[\"“”«»„]"
    r"|[「『]([^「」『』\n]{1,400})[」』]"
    r"|(?<![\p{L}\p{N}])['‘]([^'‘’\n]{1,400}?)['’](?![\p{L}\p{N}])"
)

# a web address, or the text of a markdown link ("[song title](https://...)"): words in them are a page's or
# a title's, not the user's statement
_LINKS = regex.compile(
    r"\b(?:https?://|www\.)[^\s<>\"]{1,2000}"
    r"|\[([^\[\]\n]{1,300})\]\((?:https?://|www\.)[^\s)]{1,2000}\)"
)

# categories that are no risk of the user's own (they do not make a means question worrying)
NOT_OWN_CATEGORIES = frozenset({"other_person", "harassment", "means_seeking"})


class _Scope:
    """Clause and sentence boundaries of one message, worked out only when a risk match needs them."""

    __slots__ = ("_clause_ends", "_sentence_ends", "_terms", "ctx", "nt", "tokens")

    def __init__(self, nt: NormalizedText, ctx: ContextRules, terminators: Sequence[Match]) -> None:
        self.nt = nt
        self.ctx = ctx
        self.tokens = nt.tokens
        self._terms = sorted(m.token_start for m in terminators)
        self._sentence_ends: list[int] | None = None
        self._clause_ends: list[int] | None = None

    def _breaks(self, clause: bool) -> list[int]:
        if clause:
            if self._clause_ends is None:
                self._clause_ends = [m.start() for m in self.ctx.clause_re.finditer(self.nt.text)]
            return self._clause_ends
        if self._sentence_ends is None:
            self._sentence_ends = [m.start() for m in self.ctx.sentence_re.finditer(self.nt.text)]
        return self._sentence_ends

    def split(self, a: int, b: int, *, clause: bool = True) -> bool:
        """Is there a boundary between token ``a`` and token ``b`` (a < b, token indexes)?"""
        if a > b:
            a, b = b, a
        if a == b:
            return False
        lo = self.tokens[a].end
        hi = self.tokens[b].start
        breaks = self._breaks(clause)
        i = bisect.bisect_left(breaks, lo)
        if i < len(breaks) and breaks[i] < hi:
            return True
        if clause and self._terms:
            j = bisect.bisect_right(self._terms, a)
            if j < len(self._terms) and self._terms[j] < b:
                return True
        return False

    def gap_text(self, a: int) -> str:
        """The characters between token ``a`` and the next token."""
        if a + 1 >= len(self.tokens):
            return self.nt.text[self.tokens[a].end :]
        return self.nt.text[self.tokens[a].end : self.tokens[a + 1].start]


def _overlaps(a: Match, b: Match) -> bool:
    return a.start < b.end and b.start < a.end


def _strictly_inside(cue: Match, m: Match) -> bool:
    """Does ``m`` contain ``cue`` and more? A rule written around a cue's words knows their context."""
    return m.start <= cue.start and cue.end <= m.end and (m.end - m.start) > (cue.end - cue.start)


def _cue_text(m: Match, nt: NormalizedText) -> str:
    return nt.text[m.start : m.end]


def apply_context(
    nt: NormalizedText,
    matches: Sequence[Match],
    ctx: ContextRules,
    history_distress: Callable[[], bool] | None = None,
) -> list[Judged]:
    """Judge every risk match of ``matches`` (which include the cue pseudo-rules' matches)."""
    risks: list[Match] = []
    idioms: list[Match] = []
    cues: dict[str, list[Match]] = {}
    for m in matches:
        rid = m.rule.id
        if m.rule.category == "context":
            if not m.alias:  # an alias stands in for a rule word, never for a cue
                cues.setdefault(rid, []).append(m)
        elif m.rule.category == "idiom":
            idioms.append(m)
        else:
            risks.append(m)
    if not risks:
        return []
    scope = _Scope(nt, ctx, cues.get(TERMINATOR, ()))
    judge = _Judge(nt, ctx, scope, cues)
    out = [judge.judge(m, idioms) for m in risks]
    _means_with_distress(out, history_distress)
    return out


def _means_with_distress(out: list[Judged], history_distress: Callable[[], bool] | None) -> None:
    means = [j for j in out if j.active and j.match.rule.category == "means_seeking"]
    if not means:
        return
    here = any(j.active and j.category not in NOT_OWN_CATEGORIES for j in out)
    where = "in this message"
    if not here and history_distress is not None and history_distress():
        here = True
        where = "in recent messages"
    if not here:
        return
    for j in means:
        if j.tier < Tier.MODERATE:
            j.tier = Tier.MODERATE
        j.modifiers.append("with_distress")
        j.notes.append(f"asked with distress or risk {where}")


class _Judge:
    def __init__(self, nt: NormalizedText, ctx: ContextRules, scope: _Scope, cues: dict[str, list[Match]]) -> None:
        self.nt = nt
        self.ctx = ctx
        self.scope = scope
        self.cues = cues
        self.tokens = nt.tokens
        self._quotes: list[tuple[int, int]] | None = None
        self._links: list[tuple[int, int]] | None = None
        pseudo = cues.get(PSEUDO_NEGATION, ())
        self.negations = [c for c in cues.get(NEGATION, ()) if not any(_overlaps(c, p) for p in pseudo)]
        others = [o for o in cues.get(OTHER, ()) if not o.alias]
        # first-person words are single words, found in the tokens (as cues they would match in almost
        # every message); those inside a third-person cue ("someone i know") do not count
        covered = {k for o in others for k in range(o.token_start, o.token_end)}
        fw = ctx.first_words
        firsts = [k for k, t in enumerate(self.tokens) if t.text in fw and k not in covered]
        # subject cues as (end, start, first person?), searched nearest-first by end
        self.subjects: list[tuple[int, int, bool]] = sorted(
            [(o.token_end, o.token_start, False) for o in others] + [(k + 1, k, True) for k in firsts]
        )
        # who speaks before a quotation: subjects only ("she texted me 'I want to die'": she, not me)
        subject_forms = frozenset(ctx.model.other_person.subject_pronouns)
        self.speakers: list[tuple[int, int, bool]] = sorted(
            [(o.token_end, o.token_start, False) for o in others]
            + [(k + 1, k, True) for k in firsts if self.tokens[k].text in subject_forms]
        )
        self.first_words = ctx.first_words
        self.subject_forms = subject_forms

    # -- helpers
    def _cue_before(self, kind: str, m: Match, window: int | None, *, clause: bool = True) -> Match | None:
        best = None
        for c in self.cues.get(kind, ()):
            if c.token_end > m.token_start:
                continue
            if window is not None and m.token_start - c.token_end > window:
                continue
            if self.scope.split(c.token_end - 1, m.token_start, clause=clause):
                continue
            if best is None or c.token_end > best.token_end:
                best = c
        return best

    def _cue_near(self, kind: str, m: Match, window: int | None, *, clause: bool = True) -> Match | None:
        before = self._cue_before(kind, m, window, clause=clause)
        if before is not None:
            return before
        for c in self.cues.get(kind, ()):
            if c.token_start < m.token_end:
                if _overlaps(c, m) and kind in (HISTORICAL, CURRENT, FRAMING):
                    return c
                continue
            if window is not None and c.token_start - m.token_end > window:
                continue
            if self.scope.split(m.token_end - 1, c.token_start, clause=clause):
                continue
            return c
        return None

    def subject_is_user(self, before: int) -> bool:
        """Is the nearest subject before token ``before`` (same clause, within the window) the user?"""
        return self.subject(before, self.ctx.model.other_person.window) is True

    def subject(self, before: int, window: int, *, speakers: bool = False) -> bool | None:
        """True: first person nearest; False: third person nearest; None: no subject found."""
        subjects = self.speakers if speakers else self.subjects
        i = bisect.bisect_right(subjects, (before, 1 << 30, True))
        while i > 0:
            i -= 1
            end, _, first = subjects[i]
            if end > before:
                continue
            if before - end > window:
                return None
            if self.scope.split(end - 1, before):
                return None
            return first
        return None

    def quotes(self) -> list[tuple[int, int]]:
        if self._quotes is None:
            spans = []
            for q in _QUOTES.finditer(self.nt.text):
                g = next(i for i in (1, 2, 3) if q.group(i) is not None)
                spans.append((q.start(g), q.end(g)))
            self._quotes = spans
        return self._quotes

    def in_link(self, m: Match) -> bool:
        """The match lies inside a web address or a markdown link's text."""
        if self._links is None:
            text = self.nt.text
            self._links = [q.span(1) if q.group(1) is not None else q.span()
                           for q in _LINKS.finditer(text)] if ("http" in text or "www." in text) else []
        return any(ls <= m.start and m.end <= le for ls, le in self._links)

    def _quoted_speaker(self, m: Match) -> bool | None:
        """For a match inside quotation marks: False when someone else is quoted, True for the user."""
        for qs, qe in self.quotes():
            if qs <= m.start and m.end <= qe:
                # the speaker before the quote ("she said 'I want to die'")
                first_tok = bisect.bisect_left([t.start for t in self.tokens], qs)
                who = self.subject(first_tok, self.ctx.model.other_person.window, speakers=True)
                if who is not None:
                    return who
                # or after it ("'I want to die,' she said")
                after = bisect.bisect_left([t.start for t in self.tokens], qe)
                for o in self.cues.get(OTHER, ()):
                    if after <= o.token_start <= after + 2:
                        return False
                return True
        return None

    def _pronoun_alias(self, m: Match) -> bool:
        if not m.alias:
            return False
        pron = self.ctx.pronoun_aliases
        return any(self.tokens[i].text in pron for i in m.token_range)

    # -- the judgement of one match
    def judge(self, m: Match, idioms: Sequence[Match]) -> Judged:
        rule = m.rule
        assert rule.tier is not None
        j = Judged(match=m, category=rule.category, tier=rule.tier, modifiers=[], notes=[], rule_id=rule.id)
        if m.fuzzy:
            j.modifiers.append("fuzzy")
        nt = self.nt
        model = self.ctx.model

        for idiom in idioms:
            if _overlaps(idiom, m) and not _strictly_inside(idiom, m):
                j.tier = Tier.NONE
                j.modifiers.append("idiom")
                j.notes.append(f"part of the idiom '{_cue_text(idiom, nt)}' ({idiom.rule.id})")
                return j

        protected = self.ctx.is_protected(rule)
        for h in self.cues.get(HARASSMENT, ()) if not protected else ():
            # "how to kill yourself" is a method question in the generic "you", never harassment; a rule
            # written around the words ("a voice says: die") knows its context better, as with idioms
            if _overlaps(h, m) and not _strictly_inside(h, m) and not self.subject_is_user(h.token_start):
                j.category = model.harassment.category
                j.tier = model.harassment.tier
                j.modifiers.append(model.harassment.modifier)
                j.notes.append(f"'{_cue_text(h, nt)}' is said to someone else: harassment, not the user's own risk")
                return j

        told = self._cue_before(TOLD_TO, m, model.told_to.window) if not protected else None
        if told is not None and self._cue_before(TOLD_BY_VOICES, told, 4) is not None:
            told = None  # "the voices keep telling me to ...": a command hallucination, not bullying
        if told is not None:
            j.notes.append(f"said to the user by someone else ('{_cue_text(told, nt)}'); the match alone is "
                           f"{rule.category} at tier {rule.tier}")
            j.category = model.told_to.category
            j.tier = model.told_to.tier
            j.modifiers.append(model.told_to.modifier)
            return j

        if rule.context.negatable:
            neg = self._negation(m)
            if neg is not None:
                j.tier = Tier.NONE
                j.modifiers.append(model.negation.modifier)
                j.notes.append(f"negated by '{_cue_text(neg, nt)}'")
                return j

        # a hypothetical governs its own "someone ... themselves": it is the user's question, one step down
        hyp = None
        if rule.context.hypothetical and not protected:
            hyp = self._cue_before(HYPOTHETICAL, m, None)

        if not protected and not rule.context.other_person and self._pronoun_alias(m):
            # a rule about what is done to the user ("mi papá me pega": its subject is someone else on
            # purpose) read through a third-person alias ("mi hermano se golpea") is someone else's
            j.notes.append(f"read through a third-person form; the match alone is {rule.category} at tier "
                           f"{rule.tier}")
            j.category = "other_person"
            j.tier = Tier.CONCERN
            j.modifiers.append(model.other_person.modifier)
            return j

        if rule.context.other_person and not protected and hyp is None:
            other, how = self._other_person(m)
            if other:
                j.notes.append(f"about someone else ({how}); the match alone is {rule.category} at tier {rule.tier}")
                j.category = "other_person"
                j.tier = Tier.CONCERN
                if how == "quoted":
                    j.modifiers.append(model.quoted.modifier)
                j.modifiers.append(model.other_person.modifier)

        if rule.context.historical and j.tier > Tier.CONCERN:
            hist = self._cue_near(HISTORICAL, m, model.historical.window)
            if hist is not None and not self._current(m):
                if j.tier > Tier.LOW:
                    j.tier = Tier.LOW
                j.modifiers.append(model.historical.modifier)
                j.notes.append(f"in the past ('{_cue_text(hist, nt)}')")

        if hyp is not None:
            if j.tier > Tier.CONCERN:
                j.tier = j.tier.lowered(1)
            j.modifiers.append(model.hypothetical.modifier)
            j.notes.append(f"hypothetical ('{_cue_text(hyp, nt)}')")

        if not protected and rule.category in self.ctx.framing_categories and j.active:
            framed: str | None = "inside a web address or a link's title" if self.in_link(m) else None
            if framed is None:
                frame = self._cue_near(FRAMING, m, None, clause=False)
                framed = f"framed as '{_cue_text(frame, nt)}'" if frame is not None else None
            if framed is not None:
                if j.tier > Tier.CONCERN:
                    j.tier = Tier.CONCERN
                j.modifiers.append(model.framing.modifier)
                j.notes.append(framed)
        return j

    def _negation(self, m: Match) -> Match | None:
        window = self.ctx.model.negation.window
        best = None
        for c in self.negations:
            if c.token_end > m.token_start or m.token_start - c.token_end > window:
                continue
            if self.scope.split(c.token_end - 1, m.token_start):
                continue
            # "no, I want to die": a cue followed by a comma is an interjection, not a negation
            if "," in self.scope.gap_text(c.token_end - 1) and c.token_end < m.token_start + 1:
                continue
            # a new first-person subject between cue and match starts a new statement
            if any(self.tokens[i].text in self.first_words for i in range(c.token_end, m.token_start)):
                continue
            if best is None or c.token_end > best.token_end:
                best = c
        return best if best is not None else self._negation_inside(m)

    def _negation_inside(self, m: Match) -> Match | None:
        """A negation cue within the match that the rule's own words do not account for (a gap took it
        in): "I never considered suicide" against "i ... considering suicide"."""
        if m.token_end - m.token_start < 3:
            return None
        own = self.ctx.gap_vocabulary(m.rule, m.phrase)
        if own is None:
            return None
        for c in self.negations:
            if c.token_start <= m.token_start or c.token_end >= m.token_end:
                continue
            if any(self.tokens[i].text in own for i in range(c.token_start, c.token_end)):
                continue
            if self.scope.split(c.token_end - 1, m.token_end - 1):
                continue
            # "I never said it but I want to die" is split above; "I never knew I wanted to die" is not
            # a denial: a first-person subject after the cue starts the statement the match is about
            if any(self.tokens[i].text in self.subject_forms for i in range(c.token_end, m.token_end)):
                continue
            return c
        return None

    def _current(self, m: Match) -> bool:
        for c in self.cues.get(CURRENT, ()):
            if c.token_end <= m.token_start:
                a, b = c.token_end - 1, m.token_start
            else:
                a, b = m.token_end - 1, c.token_start
            if _overlaps(c, m) or not self.scope.split(a, b):
                return True
        return False

    def _other_person(self, m: Match) -> tuple[bool, str]:
        quoted = self._quoted_speaker(m)
        if quoted is not None:
            return (not quoted), "quoted"
        # "my dad hits me", "I scratched my arms until they bled": the user is in the match itself
        tokens = self.tokens
        if any(tokens[k].text in self.first_words for k in m.token_range):
            return False, ""
        if self._pronoun_alias(m):
            return True, "third person"
        who = self.subject(m.token_start, self.ctx.model.other_person.window)
        if who is False:
            return True, "third-person subject"
        return False, ""
