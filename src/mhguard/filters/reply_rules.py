"""``safe_messaging`` and ``scope``: lexicon rules on model replies (and, for scope, on requests).

Both filters match a rule lexicon (the format of ``docs/lexicon-format.md``) in one pass and report
findings by category; the policy's ``category_actions`` decide, with defaults that block dangerous
content, rewrite stigmatising wording in place, and replace out-of-scope sentences with a redirect.
A rewritten sentence is the whole sentence around the match, so the reply still reads; the supportive
rest of the reply stays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field

from mhguard.filters.base import Filter, FilterConfig, FilterContext, LocalizedText
from mhguard.filters.keywords import phrase_pattern
from mhguard.lexicon import CompiledLexicon, Lexicon, Rule, load_lexicon
from mhguard.lexicon.loader import compile_rules
from mhguard.registry import register_filter
from mhguard.responses import pick_language
from mhguard.text.normalize import NormalizedText
from mhguard.types import Action, Finding, Stage, Tier

__all__ = ["SafeMessagingConfig", "SafeMessagingFilter", "ScopeConfig", "ScopeFilter", "ScopeTopic"]

_SENTENCE_END = regex.compile(r"[.!?…。！？]+[\"'”’)\]]*|\n")


def sentence_bounds(text: str, start: int, end: int, floor: int = 0) -> tuple[int, int]:
    """The sentence around ``text[start:end]``, with its end punctuation (spaces around stay outside)."""
    left = floor
    for match in _SENTENCE_END.finditer(text, floor, start):
        left = match.end()
    while left < start and text[left].isspace():
        left += 1
    found = _SENTENCE_END.search(text, end)
    right = found.end() if found is not None else len(text)
    if text[right - 1:right] == "\n":
        right -= 1  # keep the line break: the replacement is one sentence
    return left, right


class RuleFilterConfig(FilterConfig):
    #: Built-in lexicon names or paths to lexicon files/folders (relative to the policy's folder).
    lexicons: list[str] = Field(default_factory=list)
    #: Rule ids to switch off; an unknown id is an error when the policy loads.
    disable_rules: list[str] = Field(default_factory=list)
    #: Rules added by the policy, in the lexicon rule format.
    extra_rules: list[Rule] = Field(default_factory=list)


class _RuleFilter(Filter):
    """Shared: build one compiled lexicon, report matches by category, rewrite or block by category."""

    default_lexicons: ClassVar[tuple[str, ...]] = ()
    default_category_actions: ClassVar[Mapping[str, Action]] = {}
    #: Categories whose rewrite replaces the whole sentence (the rest replace the matched words).
    sentence_categories: ClassVar[frozenset[str]] = frozenset()
    default_actions: ClassVar[Mapping[Tier, Action]] = {Tier.NONE: Action.ALLOW}

    def __init__(self, config: FilterConfig, *, base_dir: Path | None = None) -> None:
        super().__init__(config, base_dir=base_dir)
        assert isinstance(config, RuleFilterConfig)
        names = config.lexicons or list(self.default_lexicons)
        lexicon = Lexicon((), language="en").merged(*(load_lexicon(n, base_dir=base_dir) for n in names))
        if config.extra_rules:
            extra = Lexicon(compile_rules(config.extra_rules, define={}, source="<policy>", root=None), language="en")
            lexicon = lexicon.merged(extra)
        if config.disable_rules:
            lexicon = lexicon.without(config.disable_rules)
        self.lexicon = lexicon
        self.compiled: CompiledLexicon = lexicon.compile()
        # per stage, only the rules that stage reports (the scope filter's input and output rules differ):
        # a check never matches rules it would throw away
        self._by_stage: dict[Stage, CompiledLexicon] = {}
        for stage in self.stages:
            keep = [r for r in lexicon.rules if r.rule.category == "idiom" or self.wanted(r.rule.category, stage)]
            self._by_stage[stage] = self.compiled if len(keep) == len(lexicon.rules) else CompiledLexicon(keep)

    def action_for(self, finding: Finding) -> Action:
        listed = self.config.category_actions.get(finding.category)
        if listed is not None:
            return listed
        default = self.default_category_actions.get(finding.category)
        return default if default is not None else super().action_for(finding)

    def wanted(self, category: str, stage: Stage) -> bool:
        return True

    def replacement(self, rule: Rule, ctx: FilterContext) -> str | None:
        return getattr(rule, "replacement", None)

    def check(self, text: NormalizedText, ctx: FilterContext) -> Sequence[Finding]:
        findings: list[Finding] = []
        floor = int(ctx.extra.get("focus_start", 0))
        for match in self._by_stage.get(ctx.stage, self.compiled).find(text):
            rule = match.rule
            if rule.category == "idiom" or not self.wanted(rule.category, ctx.stage):
                continue
            start, end = text.to_original(match.start, match.end)
            span = (start, end)
            if rule.category in self.sentence_categories:
                span = sentence_bounds(text.original, start, end, floor=min(floor, start))
            replacement = self.replacement(rule, ctx)
            matched = text.original[start:end]
            if replacement and span == (start, end) and matched[:1].isupper():
                replacement = replacement[:1].upper() + replacement[1:]  # keep a sentence's capital
            findings.append(Finding(
                filter_id=self.id, rule_id=rule.id, category=rule.category, tier=Tier.NONE, span=span,
                matched=matched, reason=rule.description or f"matched {rule.id}", replacement=replacement,
            ))
        return findings


class SafeMessagingConfig(RuleFilterConfig):
    pass


@register_filter("safe_messaging")
class SafeMessagingFilter(_RuleFilter):
    """Safe-messaging rules on replies: method and means details, lethal doses, jump locations, hiding
    self-harm or an eating disorder, pro-eating-disorder advice, suicide as a solution, suicide notes
    (blocked), and stigmatising wording (rewritten in place)."""

    Config = SafeMessagingConfig
    stages = frozenset({Stage.OUTPUT})
    default_lexicons = ("safe_messaging",)
    default_category_actions: ClassVar[Mapping[str, Action]] = {
        "method_details": Action.BLOCK,
        "lethal_dose": Action.BLOCK,
        "jump_location": Action.BLOCK,
        "concealment": Action.BLOCK,
        "pro_eating_disorder": Action.BLOCK,
        "suicide_as_solution": Action.BLOCK,
        "suicide_note": Action.BLOCK,
        "stigmatizing_language": Action.REWRITE,
    }


SCOPE_OUTPUT = frozenset({"diagnosis", "medication", "impersonation", "discourage_help", "delusion_validation"})
SCOPE_INPUT = frozenset({"diagnosis_request", "medication_request"})

DEFAULT_REDIRECTS: Mapping[str, str] = {
    "diagnosis": ("I can't diagnose anyone, but what you describe is worth talking through with a doctor or a "
                  "mental-health professional, who can do a proper assessment."),
    "medication": ("I can't advise on doses or changes to medication: please ask your prescriber or a "
                   "pharmacist before changing anything."),
    "impersonation": "To be clear, I'm an AI, not a human and not a licensed therapist or doctor.",
    "discourage_help": ("Talking with a therapist, a doctor or someone you trust can really help, alongside our "
                        "chats."),
    "delusion_validation": ("What you're going through sounds intense. It could really help to talk it over "
                            "with a doctor or someone you trust soon."),
}

DEFAULT_INSTRUCTIONS: Mapping[str, str] = {
    "diagnosis_request": ("Scope note from the operator: the person asks for a diagnosis. Do not diagnose. Give "
                          "general information if useful and suggest an assessment by a professional."),
    "medication_request": ("Scope note from the operator: the person asks about medication doses or changes. Do "
                           "not give doses or advise changes; suggest asking their prescriber or a pharmacist."),
}


class ScopeTopic(BaseModel):
    """An operator-defined out-of-scope topic (legal or financial advice, say) with its redirect."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    phrases: list[str] = Field(min_length=1)
    #: A response id of the policy or a literal text; shown instead (input) or replaces the sentence (output).
    redirect: str
    stages: list[Literal["input", "output"]] = ["input", "output"]
    examples: list[str] = []
    counter_examples: list[str] = []


class ScopeConfig(RuleFilterConfig):
    #: Texts that replace an out-of-scope sentence in a reply, per category (a text or texts per language).
    redirects: dict[str, LocalizedText] = Field(default_factory=dict)
    #: Instructions to the model when a request is out of scope (policy choice: instruct, or block
    #: the request with a scoped answer through ``category_actions`` and ``responses``).
    request_instructions: dict[str, LocalizedText] = Field(default_factory=dict)
    topics: list[ScopeTopic] = Field(default_factory=list)


@register_filter("scope")
class ScopeFilter(_RuleFilter):
    """Scope limits: no diagnosis, dosing, claims to be human or a therapist, discouraging professional
    help, or going along with delusions (replies); diagnosis and dosing requests get an instruction to the
    model (inputs); operator-defined topics are redirected."""

    Config = ScopeConfig
    default_lexicons = ("scope",)
    default_category_actions: ClassVar[Mapping[str, Action]] = {
        **{category: Action.REWRITE for category in SCOPE_OUTPUT},
        "out_of_scope": Action.REWRITE,
        "out_of_scope_request": Action.BLOCK,
    }
    sentence_categories = SCOPE_OUTPUT | {"out_of_scope"}

    def __init__(self, config: FilterConfig, *, base_dir: Path | None = None) -> None:
        super().__init__(config, base_dir=base_dir)
        assert isinstance(config, ScopeConfig)
        self.cfg = config
        self.topics = {topic.id: topic for topic in config.topics}
        branches = [f"(?P<t_{topic.id}>{'|'.join(phrase_pattern(p) for p in topic.phrases)})"
                    for topic in config.topics]
        self._topics = regex.compile("|".join(branches), regex.V1) if branches else None

    def wanted(self, category: str, stage: Stage) -> bool:
        return category in (SCOPE_INPUT if stage is Stage.INPUT else SCOPE_OUTPUT)

    def replacement(self, rule: Rule, ctx: FilterContext) -> str | None:
        text = self.cfg.redirects.get(rule.category) or DEFAULT_REDIRECTS.get(rule.category)
        return pick_language(text, ctx.language or ctx.locale, None) if text is not None else None

    def response_ref(self, finding: Finding, action: Action) -> str | None:
        if finding.category in ("out_of_scope", "out_of_scope_request"):
            topic = self.topics.get(finding.rule_id.rsplit(".", 1)[-1])
            if topic is not None:
                return topic.redirect
        return super().response_ref(finding, action)

    def instructions(self, findings: Sequence[Finding], ctx: FilterContext) -> Sequence[str]:
        out: list[str] = []
        for finding in findings:
            text = self.cfg.request_instructions.get(finding.category) or DEFAULT_INSTRUCTIONS.get(finding.category)
            if text is not None:
                rendered = pick_language(text, ctx.language or ctx.locale, None)
                if rendered not in out:
                    out.append(rendered)
        return out

    def check(self, text: NormalizedText, ctx: FilterContext) -> Sequence[Finding]:
        findings = list(super().check(text, ctx))
        if self._topics is None:
            return findings
        stage = ctx.stage.value
        for match in self._topics.finditer(text.text, timeout=0.5):
            name = match.lastgroup
            if name is None:
                continue
            topic = self.topics[name[2:]]
            if stage not in topic.stages:
                continue
            start, end = text.to_original(match.start(), match.end())
            if ctx.stage is Stage.INPUT:
                # The request itself: by default answered with the topic's redirect instead of the model.
                category, span = "out_of_scope_request", (start, end)
            else:
                category = "out_of_scope"
                span = sentence_bounds(text.original, start, end,
                                       floor=min(int(ctx.extra.get("focus_start", 0)), start))
            findings.append(Finding(filter_id=self.id, rule_id=f"scope.topic.{topic.id}", category=category,
                                    tier=Tier.NONE, span=span, matched=text.original[start:end],
                                    reason=f"out-of-scope topic {topic.id!r}"))
        return findings
