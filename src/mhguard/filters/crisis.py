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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from mhguard.errors import PolicyError
from mhguard.filters.base import Filter, FilterConfig, FilterContext
from mhguard.filters.crisis_context import (
    NOT_OWN_CATEGORIES,
    ContextRules,
    Judged,
    apply_context,
    load_context,
)
from mhguard.filters.crisis_cumulative import CumulativeSettings, cumulative_finding
from mhguard.filters.crisis_memory import (
    ANSWER_RULE,
    CARRIED_RULE,
    PriorTurn,
    RiskMemory,
    RiskMemorySettings,
    answered_question,
    resources_given,
)
from mhguard.lexicon.loader import (
    BUILTIN_DIR,
    CONTEXT_FILE,
    Lexicon,
    builtin_lexicon_names,
    compile_rules,
    load_lexicon,
    resolve_lexicon,
)
from mhguard.lexicon.matcher import DEFAULT_REGEX_TIMEOUT, CompiledLexicon
from mhguard.lexicon.models import Rule
from mhguard.registry import register_filter
from mhguard.text.language import detect_language
from mhguard.text.normalize import NormalizedText, normalize
from mhguard.types import Action, Finding, Stage, Tier

__all__ = ["CrisisConfig", "CrisisFilter", "CrisisMatcher", "build_matcher", "builtin_crisis_languages"]

#: History texts whose verdict (distress or not) is remembered per filter, so a conversation's earlier
#: turns are normalised and matched once, not on every new message.
HISTORY_CACHE_SIZE = 512
#: Modifier of a low finding when the assistant has just given crisis lines.
RESOURCES_GIVEN = "resources_given"


def builtin_crisis_languages() -> list[str]:
    """Languages with a built-in crisis lexicon (a folder of rules with its context cues)."""
    return [name for name in builtin_lexicon_names()
            if (BUILTIN_DIR / name / CONTEXT_FILE).exists()
            and any(p.name != CONTEXT_FILE for p in (BUILTIN_DIR / name).glob("*.yaml"))]


class CrisisConfig(FilterConfig):
    """Policy keys of the ``crisis`` filter."""

    #: Built-in lexicon names ("en", "es"...) or paths to lexicon files/folders (relative to the policy's
    #: folder). Default: every built-in language. Lexicons of one language are merged.
    lexicons: list[str] = Field(default_factory=builtin_crisis_languages, min_length=1)
    #: "auto": each message is read by the lexicons of the languages it shows (script and function words;
    #: several for a mixed message). A language code reads every message with that language's lexicons.
    language: str = "auto"
    #: Match misspellings (``suicde``, ``s*icide``) with a bounded fuzzy matcher.
    fuzzy: bool = True
    #: Recent user turns that count as context (distress before a lethal-means question).
    history_turns: int = Field(3, ge=0, le=50)
    #: Rule ids to switch off; an unknown id is an error when the policy loads.
    disable_rules: list[str] = Field(default_factory=list)
    #: Rules added by the policy, in the lexicon rule format; they join every language's lexicon.
    extra_rules: list[Rule] = Field(default_factory=list)
    #: Risk carried across the conversation's turns (see mhguard.filters.crisis_memory).
    memory: RiskMemorySettings = Field(default_factory=RiskMemorySettings)
    #: Several distinct distress rules in one message add up (see mhguard.filters.crisis_cumulative).
    cumulative: CumulativeSettings = Field(default_factory=CumulativeSettings)


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
        fillers=context.model.fillers.words,
    )
    matcher = CrisisMatcher(lexicon=lexicon, context=context, compiled=compiled)
    if key is not None:
        with _cache_lock:
            matcher = _cache.setdefault(key, matcher)
    return matcher


@register_filter("crisis")
class CrisisFilter(Filter):
    """Crisis risk in user messages: suicide, self-harm, eating disorders, overdose, abuse, harm to others,
    psychosis/mania, lethal-means questions and distress, each finding with rule id, span and context.

    Each language's lexicon compiles into its own matcher, built on first use (a built-in lexicon is tested
    with the package; files named by a policy are loaded, so checked, when the policy loads). A message is
    read by the matchers of the languages it shows (:func:`mhguard.text.language.detect_language`), or of
    the ``language`` the policy forces.
    """

    Config: ClassVar[type[FilterConfig]] = CrisisConfig
    stages: ClassVar[frozenset[Stage]] = frozenset({Stage.INPUT})

    def __init__(self, config: FilterConfig, *, base_dir: Path | None = None) -> None:
        super().__init__(config, base_dir=base_dir)
        if not isinstance(config, CrisisConfig):
            raise PolicyError(f"the crisis filter needs a CrisisConfig, got {type(config).__name__}")
        self.crisis_config = config
        self._sources: dict[str, list[str]] = {}
        eager: set[str] = set()
        for ref in config.lexicons:
            path, builtin = resolve_lexicon(ref, base_dir=base_dir)
            if builtin and (path / CONTEXT_FILE).exists():
                language = path.name
            else:
                language = load_lexicon(ref, base_dir=base_dir).language
                eager.add(language)
            self._sources.setdefault(language, []).append(ref)
        forced = config.language
        if forced != "auto" and forced not in self._sources:
            raise PolicyError(f"language {forced!r} has no crisis lexicon here (lexicons: "
                              f"{', '.join(sorted(self._sources))})", path="language")
        self._default_language = forced if forced != "auto" else (
            "en" if "en" in self._sources else next(iter(self._sources)))
        self._disabled: dict[str, list[str]] = {}
        if config.disable_rules:
            # an unknown id is an error now, so every language's rules are needed to tell
            known = {lang: {r.id for r in self._lexicon(lang).rules} for lang in self._sources}
            for rule_id in config.disable_rules:
                owners = [lang for lang, ids in known.items() if rule_id in ids]
                if not owners:
                    raise PolicyError(f"disable_rules: unknown rule id {rule_id!r}", path="disable_rules")
                for lang in owners:
                    self._disabled.setdefault(lang, []).append(rule_id)
        self._matchers: dict[str, CrisisMatcher] = {}
        self._matchers_lock = threading.Lock()
        for language in {self._default_language, *eager}:
            self._matcher_for(language)
        self._history: OrderedDict[str, PriorTurn] = OrderedDict()
        self._history_lock = threading.Lock()

    @property
    def languages(self) -> list[str]:
        """The languages this filter has lexicons for."""
        return list(self._sources)

    @property
    def matcher(self) -> CrisisMatcher:
        """The matcher of the default language (the forced one, else English when configured)."""
        return self._matcher_for(self._default_language)

    def _lexicon(self, language: str) -> Lexicon:
        parts = [load_lexicon(ref, base_dir=self.base_dir) for ref in self._sources[language]]
        return parts[0].merged(*parts[1:])

    def _matcher_for(self, language: str) -> CrisisMatcher:
        hit = self._matchers.get(language)
        if hit is not None:
            return hit
        with self._matchers_lock:
            hit = self._matchers.get(language)
            if hit is None:
                cfg = self.crisis_config
                hit = build_matcher(self._sources[language], fuzzy=cfg.fuzzy,
                                    disable_rules=self._disabled.get(language, ()), extra_rules=cfg.extra_rules,
                                    base_dir=self.base_dir)
                self._matchers[language] = hit
        return hit

    def languages_of(self, text: NormalizedText, ctx: FilterContext | None = None) -> list[str]:
        """The languages whose lexicons read ``text``."""
        if self.crisis_config.language != "auto":
            return [self.crisis_config.language]
        wanted = ctx.extra.get("languages") if ctx is not None else None
        if not isinstance(wanted, tuple):
            wanted = detect_language(text).languages
        found = [lang for lang in wanted if lang in self._sources]
        return found or [self._default_language]

    def _judge_all(self, text: NormalizedText, ctx: FilterContext | None,
                   history_distress: Callable[[], bool] | None) -> list[Judged]:
        languages = self.languages_of(text, ctx)
        if len(languages) == 1:
            return self._matcher_for(languages[0]).judge(text, history_distress)
        out: list[Judged] = []
        seen: set[tuple[str, int, int]] = set()
        for language in languages:
            for j in self._matcher_for(language).judge(text, history_distress):
                key = (j.rule_id or j.match.rule.id, j.match.start, j.match.end)
                if key not in seen:  # a policy's extra rule is in every language's matcher
                    seen.add(key)
                    out.append(j)
        return out

    def check(self, text: NormalizedText, ctx: FilterContext) -> Sequence[Finding]:
        memory = self._memory(ctx) if ctx.history or ctx.session is not None else None
        judged = self._judge_all(text, ctx, lambda: self._history_distress(memory))
        findings = [self._finding(j, text) for j in judged]
        added = cumulative_finding(findings, self.crisis_config.cumulative, self.id, text.original)
        if added is not None:
            findings.append(added)
        return self._with_memory(findings, memory, ctx, text) if memory is not None or ctx.history else findings

    def judge(self, text: NormalizedText, ctx: FilterContext) -> list[Judged]:
        """The raw judgements behind :meth:`check`, before conversation memory (for tools and tests)."""
        memory = self._memory(ctx) if ctx.history or ctx.session is not None else None
        return self._judge_all(text, ctx, lambda: self._history_distress(memory))

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
    def _memory(self, ctx: FilterContext) -> RiskMemory | None:
        """The earlier user turns, most recent first: from the history given, else the session's record."""
        settings = self.crisis_config.memory
        want = max(settings.turns, self.crisis_config.history_turns)
        turns: list[PriorTurn] = []
        if ctx.history:
            for message in reversed(ctx.history):
                if len(turns) >= want:
                    break
                if message.get("role") != "user":
                    continue
                content = message.get("content")
                if isinstance(content, str) and content.strip():
                    turns.append(self._turn_risk(content))
        else:
            record = getattr(ctx.session, "risk_history", None)
            if isinstance(record, list):
                for when, tier in reversed(record[-want:]):
                    try:
                        turns.append(PriorTurn(Tier(tier), None, max(0.0, ctx.now - when) if ctx.now else None))
                    except (ValueError, TypeError):
                        continue  # a malformed entry is skipped; the store validates what it writes
        return RiskMemory(turns, settings) if turns else None

    def _history_distress(self, memory: RiskMemory | None) -> bool:
        """Distress or risk of the user's own in the last ``history_turns`` user turns (means-seeking)."""
        n = self.crisis_config.history_turns
        return memory is not None and n > 0 and memory.distress(n)

    def _turn_risk(self, text: str) -> PriorTurn:
        """One earlier user turn's own risk, judged once per text (turns repeat in every later call)."""
        with self._history_lock:
            hit = self._history.get(text)
            if hit is not None:
                self._history.move_to_end(text)
                return hit
        judged = [j for j in self._judge_all(normalize(text), None, None)
                  if j.active and j.category not in NOT_OWN_CATEGORIES]
        if judged:
            top = max(judged, key=lambda j: j.tier.rank)
            verdict = PriorTurn(top.tier, top.category)
        else:
            verdict = PriorTurn(Tier.NONE)
        with self._history_lock:
            self._history[text] = verdict
            if len(self._history) > HISTORY_CACHE_SIZE:
                self._history.popitem(last=False)
        return verdict

    def _with_memory(self, findings: list[Finding], memory: RiskMemory | None, ctx: FilterContext,
                     text: NormalizedText) -> list[Finding]:
        """A screening question answered, rising risk, carried risk and resources already given (see
        :mod:`crisis_memory`)."""
        settings = self.crisis_config.memory
        if settings.enabled and ctx.history and ctx.history[-1].get("role") == "assistant":
            asked = ctx.history[-1].get("content")
            own = [f for f in findings if f.tier is not Tier.NONE and f.category not in NOT_OWN_CATEGORIES]
            if isinstance(asked, str) and asked:
                answer = answered_question(asked, text.original, len(text.tokens))
                if answer is not None and answer.tier > Tier.highest((f.tier for f in own), Tier.NONE):
                    findings = [*findings, Finding(
                        filter_id=self.id, rule_id=ANSWER_RULE, category=answer.category, tier=answer.tier,
                        span=(0, len(text.original)), matched=text.original, modifiers=("answer",),
                        reason=f"The person {answer.what}.")]
        if settings.enabled and memory is not None:
            own = [f for f in findings if f.tier is not Tier.NONE and f.category not in NOT_OWN_CATEGORIES]
            current = Tier.highest((f.tier for f in own), Tier.NONE)
            if memory.rising_to(current):
                raised = min(current.rank + 1, Tier.HIGH.rank)
                findings = [
                    replace(f, tier=list(Tier)[raised], modifiers=(*f.modifiers, "rising"),
                            reason=f.reason.rstrip(".") + "; risk has risen over the last turns.")
                    if f in own and f.tier is current and raised > f.tier.rank else f
                    for f in findings
                ]
                current = list(Tier)[max(raised, current.rank)]
            carried = memory.carried()
            if carried is not None:
                tier = min(carried.tier, settings.carry_max, key=lambda t: t.rank)
                if tier > current:
                    ago = "the previous turn" if carried.turns_ago == 1 else f"{carried.turns_ago} turns ago"
                    findings.append(Finding(
                        filter_id=self.id, rule_id=CARRIED_RULE, category=carried.category or "distress",
                        tier=tier, span=(0, 0), matched="", modifiers=("carried",),
                        reason=(f"Risk shown earlier in the conversation ({ago}) is carried into this turn, "
                                f"fading with a half-life of {settings.half_life_turns:g} turns."),
                    ))
        if findings and self._resources_given(ctx):
            findings = [
                replace(f, modifiers=(*f.modifiers, RESOURCES_GIVEN)) if Tier.NONE < f.tier <= Tier.LOW else f
                for f in findings
            ]
        return findings

    @staticmethod
    def _resources_given(ctx: FilterContext) -> bool:
        """Did the assistant give crisis lines in one of its last two turns?"""
        seen = 0
        for message in reversed(ctx.history):
            if message.get("role") != "assistant":
                continue
            content = message.get("content")
            if isinstance(content, str) and resources_given(content):
                return True
            seen += 1
            if seen >= 2:
                break
        return False

    def action_for(self, finding: Finding) -> Action:
        """As configured, except that a low finding does not append the crisis lines again when the
        assistant has just given them (the safety instruction for the model still applies)."""
        action = super().action_for(finding)
        if action is Action.ANNOTATE and RESOURCES_GIVEN in finding.modifiers:
            return Action.ALLOW
        return action
