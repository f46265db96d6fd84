"""``crisis``: suicide, self-harm and other crisis risk in user messages, with context.

The rules are lexicons (``lexicons/<lang>/*.yaml``), the context cues ``lexicons/<lang>/context.yaml``; both
compile into one matcher that finds rules and cues in a single pass over the words of a message. Context
(:mod:`mhguard.filters.crisis_context`) then turns each match into a finding: cancelled by negation or an
overlapping idiom (kept with tier ``none`` for review), lowered for the past, hypotheticals and framing,
re-categorised as ``other_person`` when someone else is at risk, raised for a lethal-means question asked
with distress in the message or in the last ``history_turns`` user turns.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from mhguard.errors import PolicyError
from mhguard.filters.base import Filter, FilterConfig, FilterContext
from mhguard.filters.crisis_context import ContextRules, Judged, apply_context, load_context
from mhguard.lexicon.loader import Lexicon, compile_rules, load_lexicon, resolve_lexicon
from mhguard.lexicon.matcher import DEFAULT_REGEX_TIMEOUT, CompiledLexicon
from mhguard.lexicon.models import Rule
from mhguard.registry import register_filter
from mhguard.text.normalize import NormalizedText, normalize
from mhguard.types import Finding, Stage

__all__ = ["CrisisConfig", "CrisisFilter", "CrisisMatcher", "build_matcher"]

#: History texts whose verdict (distress or not) is remembered per filter, so a conversation's earlier
#: turns are normalised and matched once, not on every new message.
HISTORY_CACHE_SIZE = 512


class CrisisConfig(FilterConfig):
    """Policy keys of the ``crisis`` filter."""

    #: Built-in lexicon names ("en") or paths to lexicon files/folders (relative to the policy's folder).
    lexicons: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    #: Match misspellings (``suicde``, ``s*icide``) with a bounded fuzzy matcher.
    fuzzy: bool = True
    #: Recent user turns that count as context (distress before a lethal-means question).
    history_turns: int = Field(3, ge=0, le=50)
    #: Rule ids to switch off; an unknown id is an error when the policy loads.
    disable_rules: list[str] = Field(default_factory=list)
    #: Rules added by the policy, in the lexicon rule format.
    extra_rules: list[Rule] = Field(default_factory=list)


@dataclass(frozen=True)
class CrisisMatcher:
    """Compiled rules and context cues of one crisis configuration. Immutable, shared between threads."""

    lexicon: Lexicon
    context: ContextRules
    compiled: CompiledLexicon

    def judge(self, nt: NormalizedText, history_distress: Callable[[], bool] | None = None) -> list[Judged]:
        """Matches of ``nt`` judged in context; ``history_distress`` is asked only when it matters."""
        matches = self.compiled.find(nt)
        if not matches:
            return []
        return apply_context(nt, matches, self.context, history_distress)


_cache: dict[tuple[object, ...], CrisisMatcher] = {}
_cache_lock = threading.Lock()


def build_matcher(
    lexicons: Sequence[str],
    *,
    fuzzy: bool = True,
    disable_rules: Sequence[str] = (),
    extra_rules: Sequence[Rule] = (),
    base_dir: Path | None = None,
    regex_timeout: float = DEFAULT_REGEX_TIMEOUT,
) -> CrisisMatcher:
    """Load, validate and compile lexicons and their language's context cues.

    Built-in lexicons are immutable, so a configuration made only of them is compiled once per process.
    """
    builtin_only = all(resolve_lexicon(name, base_dir=base_dir)[1] for name in lexicons)
    key: tuple[object, ...] | None = None
    if builtin_only:
        key = (
            tuple(lexicons), fuzzy, tuple(disable_rules),
            tuple(r.model_dump_json() for r in extra_rules), regex_timeout,
        )
        hit = _cache.get(key)
        if hit is not None:
            return hit
    parts = [load_lexicon(name, base_dir=base_dir) for name in lexicons]
    lexicon = parts[0].merged(*parts[1:])
    languages = {p.language for p in parts}
    if len(languages) > 1:
        raise PolicyError(f"crisis lexicons mix languages: {', '.join(sorted(languages))}", path="lexicons")
    if extra_rules:
        extra = compile_rules(list(extra_rules), source="<policy>", base_path=("extra_rules",))
        lexicon = lexicon.merged(Lexicon(extra, language=lexicon.language))
    if disable_rules:
        lexicon = lexicon.without(disable_rules, source="<policy>")
    context = load_context(lexicon.language)
    compiled = CompiledLexicon(
        lexicon.rules,
        cues=context.cue_rules,
        fuzzy=fuzzy,
        fuzzy_stopwords=context.model.fuzzy.stopwords,
        fuzzy_ignore=context.model.fuzzy.ignore,
        aliases=context.model.other_person.aliases,
        inner_aliases=context.model.other_person.verb_aliases,
        regex_timeout=regex_timeout,
    )
    matcher = CrisisMatcher(lexicon=lexicon, context=context, compiled=compiled)
    if key is not None:
        with _cache_lock:
            matcher = _cache.setdefault(key, matcher)
    return matcher


@register_filter("crisis")
class CrisisFilter(Filter):
    """Crisis risk in user messages: suicide, self-harm, eating disorders, overdose, abuse, harm to others,
    psychosis/mania, lethal-means questions and distress, each finding with rule id, span and context."""

    Config: ClassVar[type[FilterConfig]] = CrisisConfig
    stages: ClassVar[frozenset[Stage]] = frozenset({Stage.INPUT})

    def __init__(self, config: FilterConfig, *, base_dir: Path | None = None) -> None:
        super().__init__(config, base_dir=base_dir)
        if not isinstance(config, CrisisConfig):
            raise PolicyError(f"the crisis filter needs a CrisisConfig, got {type(config).__name__}")
        self.crisis_config = config
        self.matcher = build_matcher(
            config.lexicons,
            fuzzy=config.fuzzy,
            disable_rules=config.disable_rules,
            extra_rules=config.extra_rules,
            base_dir=base_dir,
        )
        self._history: OrderedDict[str, bool] = OrderedDict()
        self._history_lock = threading.Lock()

    def check(self, text: NormalizedText, ctx: FilterContext) -> Sequence[Finding]:
        judged = self.matcher.judge(text, lambda: self._history_distress(ctx))
        return [self._finding(j, text) for j in judged]

    def judge(self, text: NormalizedText, ctx: FilterContext) -> list[Judged]:
        """The raw judgements behind :meth:`check` (for tools and tests)."""
        return self.matcher.judge(text, lambda: self._history_distress(ctx))

    def _finding(self, j: Judged, nt: NormalizedText) -> Finding:
        m = j.match
        start, end = nt.to_original(m.start, m.end)
        rule = m.rule
        what = rule.description.rstrip(".") if rule.description else f"matched rule {rule.id}"
        reason = what
        if j.notes:
            reason += "; " + "; ".join(j.notes)
        if not j.active:
            reason += " (cancelled, kept for review)"
        return Finding(
            filter_id=self.id,
            rule_id=j.rule_id or rule.id,
            category=j.category,
            tier=j.tier,
            span=(start, end),
            matched=nt.original[start:end],
            reason=reason + ".",
            modifiers=tuple(dict.fromkeys(j.modifiers)),
        )

    # ------------------------------------------------------------------------------------------ history
    def _history_distress(self, ctx: FilterContext) -> bool:
        """Did any of the last ``history_turns`` user turns show distress or risk of the user's own?"""
        n = self.crisis_config.history_turns
        if n <= 0 or not ctx.history:
            return False
        texts: list[str] = []
        for message in reversed(ctx.history):
            if len(texts) >= n:
                break
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str) and content.strip():
                texts.append(content)
        return any(self._turn_distress(t) for t in texts)

    def _turn_distress(self, text: str) -> bool:
        with self._history_lock:
            hit = self._history.get(text)
            if hit is not None:
                self._history.move_to_end(text)
                return hit
        judged = self.matcher.judge(normalize(text))
        verdict = any(j.active and j.category not in ("other_person", "harassment", "means_seeking") for j in judged)
        with self._history_lock:
            self._history[text] = verdict
            if len(self._history) > HISTORY_CACHE_SIZE:
                self._history.popitem(last=False)
        return verdict

