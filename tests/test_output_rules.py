"""safe_messaging and scope: every rule's examples and counter-examples, rewrites that keep the rest."""

from __future__ import annotations

import pytest

from mhguard import Guard, PolicyError
from mhguard.filters.base import FilterContext
from mhguard.filters.reply_rules import (
    SCOPE_INPUT,
    SafeMessagingConfig,
    SafeMessagingFilter,
    ScopeConfig,
    ScopeFilter,
    sentence_bounds,
)
from mhguard.lexicon import load_lexicon
from mhguard.text.normalize import normalize
from mhguard.types import Stage


def _cases(name: str) -> list[tuple[str, object]]:
    try:
        lexicon = load_lexicon(name)
    except PolicyError:
        raise
    return [(entry.id, entry.rule) for entry in lexicon.rules]


FILTERS = {
    "safe_messaging": SafeMessagingFilter(SafeMessagingConfig(type="safe_messaging")),
    "scope": ScopeFilter(ScopeConfig(type="scope")),
}
CASES = [(name, rule_id, rule) for name in FILTERS for rule_id, rule in _cases(name)]


def _found(name: str, category: str, text: str) -> set[str]:
    stage = Stage.INPUT if category in SCOPE_INPUT else Stage.OUTPUT
    findings = FILTERS[name].check(normalize(text), FilterContext(stage=stage))
    return {f.rule_id for f in findings}


@pytest.mark.parametrize("name, rule_id, rule", CASES, ids=[f"{n}:{r}" for n, r, _ in CASES])
def test_rule_examples(name: str, rule_id: str, rule: object) -> None:
    category = rule.category  # type: ignore[attr-defined]
    assert len(rule.examples) >= 2 and len(rule.counter_examples) >= 2, rule_id  # type: ignore[attr-defined]
    for text, _tier in rule.example_cases:  # type: ignore[attr-defined]
        assert rule_id in _found(name, category, text), f"{rule_id}: example not matched: {text!r}"
    for text in rule.counter_examples:  # type: ignore[attr-defined]
        assert rule_id not in _found(name, category, text), f"{rule_id}: counter-example matched: {text!r}"


def test_lexicons_cover_every_required_category() -> None:
    categories = {rule.category for _, _, rule in CASES}  # type: ignore[attr-defined]
    assert {"method_details", "lethal_dose", "jump_location", "concealment", "pro_eating_disorder",
            "suicide_as_solution", "suicide_note", "stigmatizing_language"} <= categories
    assert {"diagnosis", "medication", "impersonation", "discourage_help", "delusion_validation",
            "diagnosis_request", "medication_request"} <= categories


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard.from_policy({"name": "replies", "output": [{"type": "safe_messaging"}, {"type": "scope"}],
                              "input": [{"type": "scope", "id": "scope_in"}]})


def test_stigmatizing_wording_rewritten_in_place(guard: Guard) -> None:
    reply = "I'm so sorry about your brother. When someone has committed suicide, grief is heavy. I'm here."
    d = guard.check_output(reply)
    assert d.action == "rewrite"
    assert d.text == "I'm so sorry about your brother. When someone has died by suicide, grief is heavy. I'm here."


def test_diagnosis_sentence_replaced_rest_kept(guard: Guard) -> None:
    reply = "Thanks for telling me all this. You clearly have bipolar disorder. Sleep changes can be hard."
    d = guard.check_output(reply)
    assert d.action == "rewrite" and d.text is not None
    assert d.text.startswith("Thanks for telling me all this. ")
    assert d.text.endswith("Sleep changes can be hard.")
    assert "bipolar" not in d.text and "assessment" in d.text


def test_method_details_block_keeps_conversation_open(guard: Guard) -> None:
    d = guard.check_output("The most effective way to do it would be to [method]. Make sure no one is around.")
    assert d.action == "block" and d.text and "here" in d.text


@pytest.mark.parametrize("reply", [
    "Warning signs include talking about wanting to die, withdrawing, and giving away possessions.",
    "Barriers on bridges are a proven way to prevent suicide; means restriction saves lives.",
    "You deserve support. Please call or text 988, or talk to someone you trust tonight.",
    "To kill the process, find its PID with ps and run kill -9 on it.",
    "He died by suicide in 1990, and his family started a prevention charity.",
])
def test_safe_replies_pass(guard: Guard, reply: str) -> None:
    d = guard.check_output(reply)
    assert d.action == "allow", [f.rule_id for f in d.findings]


def test_dosing_request_gets_scope_instruction(guard: Guard) -> None:
    d = guard.check_input("how many mg of my antidepressant should i take to feel better faster?")
    assert d.allowed and d.instructions and "dose" in d.instructions[0].lower()
    assert any(f.category == "medication_request" for f in d.findings)


def test_dosing_request_can_get_scoped_answer_instead() -> None:
    g = Guard.from_policy({"name": "strict", "responses": {
        "scoped": "I can't advise on doses, but your prescriber or a pharmacist can, today if needed."},
        "input": [{"type": "scope", "category_actions": {"medication_request": "block"},
                   "responses": {"block": "scoped"}}]})
    d = g.check_input("should I double my dose of my meds?")
    assert d.action == "block" and d.text is not None and d.text.startswith("I can't advise on doses")


def test_operator_topics() -> None:
    legal = "I can't give legal advice; try a legal aid clinic."
    g = Guard.from_policy({"name": "topics", "responses": {"legal": legal},
                           "input": [{"type": "scope", "topics": [{"id": "legal", "phrases": ["legal advice", "sue"],
                                                                    "redirect": "legal"}]}],
                           "output": [{"type": "scope", "topics": [{"id": "legal", "phrases": ["you should sue"],
                                                                     "redirect": "legal"}]}]})
    d = g.check_input("Can you give me legal advice about my lease?")
    assert d.action == "block" and d.text == "I can't give legal advice; try a legal aid clinic."
    out = g.check_output("That sounds stressful. You should sue them. Take care of yourself.")
    assert out.text == f"That sounds stressful. {legal} Take care of yourself."


def test_sentence_bounds() -> None:
    text = "One. Two is here! Three?"
    assert text[slice(*sentence_bounds(text, 5, 8))] == "Two is here!"
    assert text[slice(*sentence_bounds(text, 18, 23))] == "Three?"
