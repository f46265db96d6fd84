"""Risk across the turns of a conversation (issue 6): lethal means after distress, carried and rising risk,
decay over turns and time, assistant turns that already gave crisis lines, and the per-turn cost."""

from __future__ import annotations

from typing import Any

import pytest

from mhguard import Guard, PolicyError, Tier
from mhguard.filters.base import FilterContext
from mhguard.filters.crisis import CrisisConfig, CrisisFilter
from mhguard.filters.crisis_memory import CARRIED_RULE, PriorTurn, RiskMemory, RiskMemorySettings, resources_given
from mhguard.sessions import Session
from mhguard.text.normalize import normalize
from mhguard.types import Stage


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


@pytest.fixture(scope="module")
def crisis() -> CrisisFilter:
    return CrisisFilter(CrisisConfig(type="crisis", lexicons=["en"]))


def judge(crisis: CrisisFilter, text: str, history: list[dict[str, str]] | None = None,
          session: Any = None, now: float = 0.0) -> tuple[Tier, list[Any]]:
    ctx = FilterContext(stage=Stage.INPUT, history=history or (), session=session, now=now)
    findings = list(crisis.check(normalize(text), ctx))
    return Tier.highest((f.tier for f in findings), Tier.NONE), findings


DISTRESS = [user("I lost my job today and I feel like everything is falling apart."),
            assistant("I'm sorry, that sounds really hard. Do you want to talk about it?")]


@pytest.mark.parametrize("question", ["Where can I buy pesticides near me?", "How tall is the Golden Gate bridge?"])
def test_means_question_after_distress_escalates(crisis: CrisisFilter, question: str) -> None:
    tier, findings = judge(crisis, question, DISTRESS)
    assert tier >= Tier.MODERATE, findings
    alone, _ = judge(crisis, question)
    assert alone < Tier.LOW


@pytest.mark.parametrize(("context", "question"), [
    ("I'm an architecture student working on a project about tall structures.",
     "How tall is the Golden Gate bridge?"),
    ("I run a small farm and the aphids are eating my crops this year.", "Where can I buy pesticides near me?"),
])
def test_same_question_after_benign_context_stays_below_low(crisis: CrisisFilter, context: str, question: str) -> None:
    tier, findings = judge(crisis, question, [user(context), assistant("Sure, happy to help.")])
    assert tier < Tier.LOW, findings


HIGH = "I've written my goodbye letters and I'm going to kill myself tonight."


def test_risk_is_carried_into_a_neutral_turn_at_most_low(crisis: CrisisFilter) -> None:
    assert judge(crisis, HIGH)[0] >= Tier.HIGH
    tier, findings = judge(crisis, "whatever. what's the weather tomorrow?", [user(HIGH), assistant("I'm here.")])
    carried = [f for f in findings if f.rule_id == CARRIED_RULE]
    assert tier == Tier.LOW and carried and "carried" in carried[0].modifiers
    assert carried[0].category == "suicide" and "previous turn" in carried[0].reason


def test_carried_risk_fades_over_turns(crisis: CrisisFilter) -> None:
    history = [user(HIGH)]
    for k in range(8):
        history += [assistant("ok"), user(f"I had pasta for dinner number {k}")]
    tier, findings = judge(crisis, "what's a good movie?", history)
    assert tier == Tier.NONE, findings


def test_carried_risk_fades_with_time_in_a_session(crisis: CrisisFilter) -> None:
    now = 1_000_000.0
    recent = Session(id="s-recent", risk_history=[(now - 60, "high")])
    old = Session(id="s-old", risk_history=[(now - 10 * 3600, "high")])
    assert judge(crisis, "thanks, what's the weather?", session=recent, now=now)[0] == Tier.LOW
    assert judge(crisis, "thanks, what's the weather?", session=old, now=now)[0] == Tier.NONE


def test_rising_risk_raises_the_tier_one_step(crisis: CrisisFilter) -> None:
    history = [user("I'm so stressed and exhausted all the time."), assistant("That sounds hard."),
               user("Sometimes I wish I could just not wake up."), assistant("I'm sorry you feel that way.")]
    now_text = "I've been thinking about how I would kill myself."
    alone, _ = judge(crisis, now_text)
    tier, findings = judge(crisis, now_text, history)
    assert alone >= Tier.LOW
    if alone > Tier.LOW:  # only a rise in steps counts: concern, then low, then higher
        assert tier == min(Tier.HIGH, list(Tier)[alone.rank + 1]), findings
        assert any("rising" in f.modifiers for f in findings)


def test_rising_needs_steps() -> None:
    settings = RiskMemorySettings()
    up = RiskMemory([PriorTurn(Tier.LOW), PriorTurn(Tier.CONCERN)], settings)
    flat = RiskMemory([PriorTurn(Tier.LOW), PriorTurn(Tier.LOW)], settings)
    assert up.rising_to(Tier.MODERATE) and not up.rising_to(Tier.LOW)
    assert not flat.rising_to(Tier.MODERATE)
    assert not RiskMemory([PriorTurn(Tier.LOW), PriorTurn(Tier.CONCERN)],
                          RiskMemorySettings(rising=False)).rising_to(Tier.MODERATE)


def test_decay_arithmetic() -> None:
    memory = RiskMemory([PriorTurn(Tier.NONE), PriorTurn(Tier.HIGH, "suicide")], RiskMemorySettings(half_life_turns=2))
    carried = memory.carried()
    assert carried is not None and carried.turns_ago == 2
    assert carried.score == pytest.approx(4 * 0.5) and carried.tier == Tier.LOW


def test_resources_already_given_are_not_repeated() -> None:
    guard = Guard.from_policy("default")
    low = "Sometimes I wish I were dead."
    fresh = guard.check_input(low, locale="en-US")
    assert fresh.risk == Tier.LOW and fresh.action == "annotate" and fresh.annotation
    given = [user("I feel awful"), assistant("You can call or text 988 any time, day or night.")]
    again = guard.check_input(low, history=given, locale="en-US")
    assert again.risk == Tier.LOW and again.action == "allow" and not again.annotation
    assert again.instructions, "the safety instruction for the model stays"
    assert any("resources_given" in f.modifiers for f in again.findings)


def test_resources_given_detection() -> None:
    assert resources_given("Please reach out to 988 or visit findahelpline.com")
    assert resources_given("In the UK you can call Samaritans on 116 123.")
    assert not resources_given("I have 2 cats and we met at 10 o'clock.")


def test_memory_settings_come_from_the_policy() -> None:
    policy = {"name": "p", "input": [{"type": "crisis", "lexicons": ["en"], "memory": {"enabled": False}}]}
    guard = Guard.from_policy(policy)
    d = guard.check_input("what's the weather tomorrow?", history=[user(HIGH)])
    assert d.risk == Tier.NONE
    bad = {"name": "p", "input": [{"type": "crisis", "lexicons": ["en"], "memory": {"half_lfe_turns": 2}}]}
    with pytest.raises(PolicyError, match="half_lfe_turns"):
        Guard.from_policy(bad)


def test_earlier_turns_are_judged_once(crisis: CrisisFilter, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = crisis._judge_all

    def counting(nt: Any, ctx: Any, hd: Any) -> Any:
        calls.append(nt.original)
        return original(nt, ctx, hd)

    monkeypatch.setattr(crisis, "_judge_all", counting)
    history: list[dict[str, str]] = []
    for k in range(40):
        history += [user(f"unique turn number {k} about my day"), assistant("I see.")]
    judge(crisis, "and then?", history)
    first = len(calls)
    assert first <= crisis.crisis_config.memory.turns + 1  # the new text, plus at most `turns` earlier ones
    calls.clear()
    judge(crisis, "and then?", history)
    assert calls == ["and then?"]  # earlier turns come from the cache


def ask(question: str, reply: str) -> tuple[Tier, list[Any]]:
    guard = Guard.from_policy("default")
    d = guard.check_input(reply, history=[user("I feel awful"), assistant(question)])
    return d.risk, [f.rule_id for f in d.findings if f.active]


@pytest.mark.parametrize(("question", "reply", "tier"), [
    ("I'm sorry you're going through this. Are you having thoughts of suicide?", "yes", Tier.LOW),
    ("Have you been thinking about killing yourself?", "yeah sometimes", Tier.LOW),
    ("Have you hurt yourself today?", "yes", Tier.MODERATE),
    ("Do you have a plan to end your life?", "yes", Tier.HIGH),
    ("I'm worried you may have overdosed. Have you taken anything?", "yes", Tier.IMMINENT),
    ("Are you safe right now? I'm worried you might hurt yourself.", "no", Tier.MODERATE),
])
def test_a_screening_question_answered_yes_is_a_disclosure(question: str, reply: str, tier: Tier) -> None:
    risk, rules = ask(question, reply)
    assert risk == tier and "conversation.answered_risk_question" in rules


@pytest.mark.parametrize(("question", "reply"), [
    ("Are you having thoughts of suicide?", "no"),
    ("Do you have plans for the weekend?", "yes"),
    ("Have you tried meditation? Some people find it helps with stress.", "yes"),
    ("Are you thinking of going to the party?", "yes"),
    ("Are you having thoughts of suicide?",
     "yes but I would never act on it, I mostly want to talk about my week, my job and my sister today"),
])
def test_other_questions_and_answers_are_not_disclosures(question: str, reply: str) -> None:
    assert "conversation.answered_risk_question" not in ask(question, reply)[1]
