"""``keywords``: phrases and ``regex`` patterns from the policy, each rule with a category and a tier.

A simple, context-free filter for operator-specific terms (and for output rewrites of fixed wording). The
crisis detector (``crisis``) is the one to use for risk in user messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mhguard.filters.base import Filter, FilterConfig, FilterContext
from mhguard.registry import register_filter
from mhguard.text.normalize import NormalizedText, normalize
from mhguard.types import Finding, Tier

__all__ = ["KeywordRule", "KeywordsConfig", "KeywordsFilter", "phrase_pattern"]

#: Bound on one search; a pattern that takes longer fails the check (and the engine fails closed).
REGEX_TIMEOUT_SECONDS = 0.5


class KeywordRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    category: str
    tier: Tier = Tier.LOW
    description: str = ""
    #: Plain phrases, matched as whole words on normalised text (case, spacing and leetspeak ignored).
    phrases: list[str] = []
    #: ``regex``-module patterns, searched in normalised (lower-case) text.
    regex: list[str] = []
    #: Text that replaces a match when the policy's action for it is ``rewrite``.
    replacement: str | None = None
    examples: list[str] = []
    counter_examples: list[str] = []

    @field_validator("regex")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for i, pattern in enumerate(patterns):
            try:
                regex.compile(pattern)
            except regex.error as exc:
                raise ValueError(f"regex[{i}] does not compile: {exc}") from None
        return patterns

    @model_validator(mode="after")
    def _has_pattern(self) -> KeywordRule:
        if not self.phrases and not self.regex:
            raise ValueError(f"rule {self.id!r} needs at least one phrase or regex")
        return self


class KeywordsConfig(FilterConfig):
    rules: list[KeywordRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> KeywordsConfig:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        return self


def phrase_pattern(phrase: str) -> str:
    """A phrase as a whole-word pattern on normalised text (spacing and punctuation between words free)."""
    words = normalize(phrase).text.split()
    if not words:
        raise ValueError(f"empty phrase {phrase!r}")
    body = r"[\s\p{P}]+".join(regex.escape(w) for w in words)
    # Word boundaries that also work next to emoji and punctuation.
    return rf"(?<![\p{{L}}\p{{N}}]){body}(?![\p{{L}}\p{{N}}])"


@register_filter("keywords")
class KeywordsFilter(Filter):
    Config = KeywordsConfig

    def __init__(self, config: FilterConfig, *, base_dir: Path | None = None) -> None:
        super().__init__(config, base_dir=base_dir)
        assert isinstance(config, KeywordsConfig)
        self.rules: tuple[KeywordRule, ...] = tuple(config.rules)
        branches = []
        for index, rule in enumerate(self.rules):
            parts = [phrase_pattern(p) for p in rule.phrases] + [f"(?:{p})" for p in rule.regex]
            branches.append(f"(?P<r{index}>{'|'.join(parts)})")
        # One compiled pass over the text for every rule.
        self._pattern = regex.compile("|".join(branches), regex.V1)

    def check(self, text: NormalizedText, ctx: FilterContext) -> Sequence[Finding]:
        findings: list[Finding] = []
        for match in self._pattern.finditer(text.text, timeout=REGEX_TIMEOUT_SECONDS):
            name = match.lastgroup
            if name is None or match.end() == match.start():
                continue
            rule = self.rules[int(name[1:])]
            start, end = text.to_original(match.start(), match.end())
            findings.append(Finding(
                filter_id=self.id, rule_id=rule.id, category=rule.category, tier=rule.tier,
                span=(start, end), matched=text.original[start:end],
                reason=rule.description or f"matched keyword rule {rule.id}",
                replacement=rule.replacement,
            ))
        return findings
