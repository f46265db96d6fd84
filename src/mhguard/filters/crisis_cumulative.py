"""Several distinct signs of distress in one message add up.

Each distress rule alone is tier ``concern`` ("I feel worthless", "I can't do this anymore"): on its own it
is no reason to ask about suicide. Hopelessness, worthlessness, feeling a burden and not coping together
are the pattern that screening guidance says to ask about (DOMAIN.md section 2), so when a message shows
at least ``min_rules`` different distress rules of the user's own, the crisis filter adds one finding,
``distress.cumulative``, at ``tier`` (``low`` by default: the reply asks and offers help). Its reason names
the rules that added up, so a reviewer sees why.

Policy keys (crisis filter, ``cumulative:`` section)::

    cumulative:
      enabled: true
      min_rules: 2     # distinct distress rules in one message
      tier: low
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from mhguard.filters.crisis_context import NOT_OWN_CATEGORIES
from mhguard.types import Finding, Tier

CUMULATIVE_RULE: Final = "distress.cumulative"
#: The category whose findings add up.
DISTRESS: Final = "distress"


class CumulativeSettings(BaseModel):
    """Policy keys of the crisis filter's ``cumulative:`` section."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    #: Distress findings of the user's own that must show in one message, each from a different rule and
    #: over different words.
    min_rules: int = Field(2, ge=2, le=20)
    #: The tier of the added finding; it is added only when the message is below it.
    tier: Tier = Tier.LOW


def cumulative_finding(findings: Sequence[Finding], settings: CumulativeSettings, filter_id: str,
                       original: str) -> Finding | None:
    """The added ``distress.cumulative`` finding, or None when the distress in ``findings`` does not add up
    or the message is already at or above the configured tier."""
    if not settings.enabled:
        return None
    distress = sorted((f for f in findings
                       if f.category == DISTRESS and f.tier is Tier.CONCERN and not f.modifiers),
                      key=lambda f: f.span)
    # signs, not rules: two rules over the same words ("I feel worthless") are one sign
    rules: list[str] = []
    last_end = -1
    for f in distress:
        if f.span[0] >= last_end and f.rule_id not in rules:
            rules.append(f.rule_id)
        last_end = max(last_end, f.span[1])
    if len(rules) < settings.min_rules:
        return None
    own = (f.tier for f in findings if f.category not in NOT_OWN_CATEGORIES)
    if Tier.highest(own, Tier.NONE) >= settings.tier:
        return None
    start = min(f.span[0] for f in distress)
    end = max(f.span[1] for f in distress)
    return Finding(
        filter_id=filter_id,
        rule_id=CUMULATIVE_RULE,
        category=DISTRESS,
        tier=settings.tier,
        span=(start, end),
        matched=original[start:end],
        modifiers=("cumulative",),
        reason=(f"{len(rules)} different signs of distress in one message ({', '.join(rules)}) add up: "
                f"ask about suicide and offer help."),
    )
