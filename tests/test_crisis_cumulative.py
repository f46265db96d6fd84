"""Several distinct signs of distress in one message add up to tier low (mhguard.filters.crisis_cumulative)."""

from __future__ import annotations

import pytest

from mhguard import Guard, PolicyError, Tier
from mhguard.filters.base import FilterContext
from mhguard.filters.crisis import CrisisConfig, CrisisFilter
from mhguard.filters.crisis_cumulative import CUMULATIVE_RULE
from mhguard.text.normalize import normalize
from mhguard.types import Finding, Stage


@pytest.fixture(scope="module")
def crisis() -> CrisisFilter:
    return CrisisFilter(CrisisConfig(type="crisis", lexicons=["en"]))


def check(crisis: CrisisFilter, text: str) -> tuple[Tier, list[Finding]]:
    findings = list(crisis.check(normalize(text), FilterContext(stage=Stage.INPUT)))
    return Tier.highest((f.tier for f in findings), Tier.NONE), findings


def test_two_signs_add_up_to_low_with_an_explanation(crisis: CrisisFilter) -> None:
    text = "I feel worthless and I can't do this anymore."
    tier, findings = check(crisis, text)
    assert tier == Tier.LOW
    added = [f for f in findings if f.rule_id == CUMULATIVE_RULE]
    assert len(added) == 1
    f = added[0]
    assert f.category == "distress" and f.modifiers == ("cumulative",)
    # the reason names the rules that added up; the span covers them and maps to the original text
    singles = [x for x in findings if x.rule_id != CUMULATIVE_RULE and x.category == "distress"]
    named = {x.rule_id for x in singles if x.rule_id in f.reason}
    assert {"distress.worthless", "distress.cant_go_on"} <= named
    assert f.span == (min(x.span[0] for x in singles), max(x.span[1] for x in singles))
    assert f.matched == text[f.span[0]:f.span[1]]


@pytest.mark.parametrize("text", [
    "I feel worthless.",                                   # one sign
    "I just feel so empty inside",                         # one sign, matched by three rules on the same words
    "My sister feels worthless and she can't do this anymore.",   # someone else's distress
    "I'm not hopeless, and I don't feel worthless anymore.",      # negated
])
def test_one_sign_or_not_the_users_own_stays_below_low(crisis: CrisisFilter, text: str) -> None:
    tier, findings = check(crisis, text)
    assert tier < Tier.LOW
    assert not any(f.rule_id == CUMULATIVE_RULE for f in findings)


def test_nothing_is_added_when_the_message_is_already_at_low(crisis: CrisisFilter) -> None:
    tier, findings = check(crisis, "I feel worthless, I can't do this anymore and I want to die.")
    assert tier >= Tier.LOW
    assert not any(f.rule_id == CUMULATIVE_RULE for f in findings)


def test_settings_come_from_the_policy() -> None:
    text = "I feel worthless and I can't do this anymore."
    off = {"name": "p", "input": [{"type": "crisis", "lexicons": ["en"], "cumulative": {"enabled": False}}]}
    assert Guard.from_policy(off).check_input(text).risk == Tier.CONCERN
    three = {"name": "p", "input": [{"type": "crisis", "lexicons": ["en"], "cumulative": {"min_rules": 3}}]}
    assert Guard.from_policy(three).check_input(text).risk == Tier.CONCERN
    moderate = {"name": "p", "input": [{"type": "crisis", "lexicons": ["en"], "cumulative": {"tier": "moderate"}}]}
    assert Guard.from_policy(moderate).check_input(text).risk == Tier.MODERATE
    for bad, key in (({"min_rule": 2}, "min_rule"), ({"min_rules": 1}, "min_rules")):
        doc = {"name": "p", "input": [{"type": "crisis", "lexicons": ["en"], "cumulative": bad}]}
        with pytest.raises(PolicyError, match=key):
            Guard.from_policy(doc)
