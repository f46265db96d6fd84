"""Pydantic models of a lexicon file (the format is documented in ``docs/lexicon-format.md``)."""

from __future__ import annotations

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mhguard.types import Tier

__all__ = ["CATEGORIES", "OUTPUT_CATEGORIES", "Example", "LexiconFile", "Rule", "RuleContext"]

#: Categories of rules on model replies (safe messaging, scope) and on out-of-scope requests. Their rules
#: carry tier ``none`` (or none at all): the category, not a risk tier, decides the policy's action.
OUTPUT_CATEGORIES: frozenset[str] = frozenset(
    {
        "method_details",
        "lethal_dose",
        "jump_location",
        "concealment",
        "pro_eating_disorder",
        "suicide_as_solution",
        "suicide_note",
        "stigmatizing_language",
        "diagnosis",
        "medication",
        "impersonation",
        "discourage_help",
        "delusion_validation",
        "diagnosis_request",
        "medication_request",
    }
)

#: Categories a rule may have. A closed list on purpose: a misspelt category would otherwise create a
#: category no policy maps to an action, and the rule would fail open without anyone noticing.
CATEGORIES: frozenset[str] = frozenset(
    {
        "suicide",
        "self_harm",
        "eating_disorder",
        "substance_overdose",
        "harm_to_others",
        "abuse",
        "psychosis_mania",
        "means_seeking",
        "distress",
        "harassment",
        "idiom",
    }
) | OUTPUT_CATEGORIES

_RULE_ID = regex.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+")


class RuleContext(BaseModel):
    """Which context modifiers may change this rule's findings (all on by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    negatable: bool = True
    other_person: bool = True
    historical: bool = True
    hypothetical: bool = True


class Example(BaseModel):
    """An example text with its own expected tier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1)
    tier: Tier


class Rule(BaseModel):
    """One detection rule: phrases and/or regexes with a category, a tier and test texts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    category: str
    #: Required for every category except ``idiom`` (idioms only cancel overlapping findings).
    tier: Tier | None = None
    description: str = ""
    phrases: list[str] = []
    regex: list[str] = []
    context: RuleContext = RuleContext()
    examples: list[str | Example] = []
    counter_examples: list[str] = []
    #: Text that replaces the matched words when the policy rewrites (output rules, e.g. stigmatising wording).
    replacement: str | None = None

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _RULE_ID.fullmatch(value):
            raise ValueError(f"rule id {value!r} must look like 'category.name' (lower case, digits, '_')")
        return value

    @field_validator("category")
    @classmethod
    def _check_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            known = ", ".join(sorted(CATEGORIES))
            raise ValueError(f"unknown category {value!r}; known categories: {known}")
        return value

    @model_validator(mode="after")
    def _check_rule(self) -> Rule:
        if not self.phrases and not self.regex:
            raise ValueError("a rule needs at least one phrase or regex")
        output = self.category in OUTPUT_CATEGORIES
        if self.tier is None and self.category != "idiom" and not output:
            raise ValueError("field 'tier' is required (concern, low, moderate, high or imminent)")
        if self.tier is Tier.NONE and not output:
            raise ValueError("a rule's tier cannot be 'none' (only reply rules of an output category)")
        if output and self.tier not in (None, Tier.NONE):
            raise ValueError(f"rules of the output category {self.category!r} take tier none (or no tier)")
        if self.replacement is not None and not output:
            raise ValueError("only rules of an output category can have a replacement")
        return self

    @property
    def example_cases(self) -> list[tuple[str, Tier | None]]:
        """``(text, expected tier)`` pairs; the tier is ``None`` when the example uses the rule's tier."""
        return [(e, None) if isinstance(e, str) else (e.text, e.tier) for e in self.examples]


class LexiconFile(BaseModel):
    """The top level of a lexicon YAML file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str = Field(min_length=2)
    define: dict[str, str] = {}
    rules: list[Rule] = []

    @field_validator("define")
    @classmethod
    def _check_define(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not regex.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"word class name {name!r} must be lower case letters, digits or '_'")
        return value


