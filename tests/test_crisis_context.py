"""The crisis filter in context: negation, time, experiencer, quotes, framing, idioms, means with distress,
obfuscation, misspellings, and the explanation each finding carries."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mhguard.errors import PolicyError
from mhguard.filters.base import FilterContext
from mhguard.filters.crisis import CrisisConfig, CrisisFilter, build_matcher
from mhguard.lexicon import Rule
from mhguard.registry import get_filter_type
from mhguard.text.normalize import normalize
from mhguard.types import Finding, Stage, Tier

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lexicons"


@cache
def default_filter() -> CrisisFilter:
    return CrisisFilter(CrisisConfig(type="crisis"))


def check(text: str, history: Sequence[dict[str, Any]] = (), crisis: CrisisFilter | None = None) -> list[Finding]:
    crisis = crisis or default_filter()
    return list(crisis.check(normalize(text), FilterContext(stage=Stage.INPUT, history=history)))


def risk(text: str, history: Sequence[dict[str, Any]] = ()) -> Tier:
    return Tier.highest((f.tier for f in check(text, history)), Tier.NONE)


def active(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.active]


def with_modifier(findings: list[Finding], modifier: str) -> list[Finding]:
    return [f for f in findings if modifier in f.modifiers]


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def bot(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


# --------------------------------------------------------------------------------------------- basics
class TestFilter:
    def test_registered_for_input_only(self) -> None:
        assert get_filter_type("crisis") is CrisisFilter
        assert CrisisFilter.stages == frozenset({Stage.INPUT})
        assert CrisisFilter.Config is CrisisConfig

    def test_plain_text_has_no_findings(self) -> None:
        assert check("Can you help me plan a birthday party for my sister?") == []
        assert check("") == []

    def test_explicit_risk(self) -> None:
        assert risk("I want to kill myself.") >= Tier.LOW
        assert risk("I'm going to kill myself tonight.") >= Tier.HIGH

    def test_builtin_lexicons_compile_once(self) -> None:
        a = CrisisFilter(CrisisConfig(type="crisis"))
        b = CrisisFilter(CrisisConfig(type="crisis"))
        assert a.matcher is b.matcher

    def test_disable_rules(self) -> None:
        text = "I want to kill myself."
        ids = {f.rule_id for f in active(check(text))}
        assert ids
        off = CrisisFilter(CrisisConfig(type="crisis", disable_rules=sorted(ids)))
        assert not [f for f in check(text, crisis=off) if f.rule_id in ids]

    def test_unknown_disabled_rule_is_a_load_error(self) -> None:
        with pytest.raises(PolicyError, match=r"unknown rule id 'suicide\.nope'"):
            CrisisFilter(CrisisConfig(type="crisis", disable_rules=["suicide.nope"]))

    def test_extra_rules(self) -> None:
        rule = Rule(id="distress.exam_panic", category="distress", tier=Tier.CONCERN,
                    phrases=["(exam|finals) panic"])
        crisis = CrisisFilter(CrisisConfig(type="crisis", extra_rules=[rule]))
        assert [f.rule_id for f in check("total exam panic today", crisis=crisis)] == ["distress.exam_panic"]

    def test_bad_extra_rule_is_a_load_error(self) -> None:
        rule = Rule(id="distress.bad", category="distress", tier=Tier.CONCERN, phrases=["(unclosed"])
        with pytest.raises(PolicyError, match=r"extra_rules\[0\].phrases\[0\]: unbalanced"):
            CrisisFilter(CrisisConfig(type="crisis", extra_rules=[rule]))

    def test_lexicon_paths_relative_to_the_policy(self) -> None:
        crisis = CrisisFilter(CrisisConfig(type="crisis", lexicons=["lexicons/basic.yaml"]),
                              base_dir=FIXTURES.parent)
        assert [f.rule_id for f in check("I feel suicidal", crisis=crisis)] == ["suicide.word"]

    def test_config_rejects_unknown_keys(self) -> None:
        with pytest.raises(ValueError, match="lexicon"):
            CrisisConfig.model_validate({"type": "crisis", "lexicon": ["en"]})


# --------------------------------------------------------------------------------------------- negation
class TestNegation:
    @pytest.mark.parametrize("text", [
        "I'm not suicidal.",
        "I would never kill myself.",
        "I'm no longer suicidal, the new meds help.",
        "I have never been suicidal.",
    ])
    def test_cancels_with_review_trace(self, text: str) -> None:
        findings = check(text)
        assert active(findings) == []
        negated = with_modifier(findings, "negated")
        assert negated and all(f.tier is Tier.NONE for f in negated)
        assert "negated by" in negated[0].reason

    def test_terminator_ends_the_scope(self) -> None:
        findings = check("I'm not suicidal but I wish I could disappear.")
        assert with_modifier(findings, "negated")
        assert any(f.tier >= Tier.LOW and "negated" not in f.modifiers for f in findings)

    @pytest.mark.parametrize("text", [
        "I'm not suicidal, though sometimes I want to die.",
        "I'm not suicidal. I want to kill myself.",
        "I'm not suicidal; I want to die.",
    ])
    def test_other_terminators(self, text: str) -> None:
        assert risk(text) >= Tier.LOW

    def test_window(self) -> None:
        # the cue is too far from the match to govern it
        assert risk("I do not know anyone here and honestly some nights I want to kill myself") >= Tier.LOW

    def test_phrase_with_its_own_negation_is_not_cancelled(self) -> None:
        findings = check("I do not want to live anymore.")
        assert any(f.tier >= Tier.LOW for f in findings)

    @pytest.mark.parametrize("text", [
        "I can't stop thinking about killing myself.",
        "Not going to lie, I want to die.",
        "No, I want to die.",
        "I'm not okay, I want to die.",
    ])
    def test_pseudo_negation_and_interjections(self, text: str) -> None:
        assert risk(text) >= Tier.LOW


# --------------------------------------------------------------------------------------------- time
class TestHypotheticalAndHistorical:
    def test_hypothetical_lowers_one_step(self) -> None:
        plain = risk("I want to kill myself.")
        findings = check("Hypothetically, what would happen if someone wanted to kill themselves?")
        hyp = with_modifier(findings, "hypothetical")
        assert hyp and "hypothetical (" in hyp[0].reason
        assert Tier.highest((f.tier for f in findings), Tier.NONE) <= Tier.LOW
        assert plain >= Tier.LOW

    @pytest.mark.parametrize("text", [
        "I tried to kill myself years ago.",
        "When I was fifteen I used to cut myself.",
        "In the past I attempted suicide.",
    ])
    def test_historical_lowers_to_low_never_erases(self, text: str) -> None:
        findings = check(text)
        hist = with_modifier(findings, "historical")
        assert hist, findings
        assert all(f.tier == Tier.LOW for f in hist if f.category not in ("distress",))
        assert risk(text) == Tier.LOW

    def test_current_cue_keeps_it_current(self) -> None:
        assert risk("I used to cut myself and now I started cutting again.") >= Tier.MODERATE
        assert risk("I used to be happy and now I want to die.") >= Tier.LOW
        assert not with_modifier(check("I used to be happy and now I want to die."), "historical")


# --------------------------------------------------------------------------------------------- who
class TestOtherPerson:
    @pytest.mark.parametrize("text", [
        "My friend says she wants to die.",
        "My sister has been cutting herself.",
        "I think my brother wants to kill himself.",
        "He keeps saying he wants to end his life.",
    ])
    def test_someone_else_at_risk(self, text: str) -> None:
        findings = active(check(text))
        assert findings, text
        assert all(f.category == "other_person" and f.tier == Tier.CONCERN for f in findings
                   if f.category != "distress"), findings
        f = next(f for f in findings if f.category == "other_person")
        assert "other_person" in f.modifiers
        assert "about someone else" in f.reason and " at tier " in f.reason  # names the original tier

    def test_user_stays_the_subject(self) -> None:
        assert risk("My friend thinks I want to die.") >= Tier.LOW
        assert risk("My mom yelled at me again and I want to kill myself.") >= Tier.LOW
        assert risk("My parents found my razor and I have been cutting myself.") >= Tier.MODERATE

    def test_quoted_speech(self) -> None:
        findings = active(check('My brother texted me "I want to die" last night.'))
        assert findings and all(f.category == "other_person" for f in findings)
        assert with_modifier(findings, "quoted")

    def test_user_quoting_themselves(self) -> None:
        findings = active(check('I told him "I want to die" and he laughed.'))
        assert any(f.category == "suicide" and f.tier >= Tier.LOW for f in findings)
        assert not with_modifier(findings, "quoted")

    def test_kys_aimed_at_someone_else_is_harassment(self) -> None:
        findings = check("lol just kys already")
        assert findings and all(f.category != "suicide" for f in findings)
        assert risk("lol just kys already") <= Tier.CONCERN
        assert any("aimed_at_other" in f.modifiers or f.category in ("harassment", "harm_to_others")
                   for f in findings)

    def test_harassment_words_inside_a_longer_rule_match_stay_the_rules(self) -> None:
        # a voice that says "die" quotes the insult; the command-hallucination rule is written around it
        findings = check("ek awaaz kehti hai ki tu mar ja")
        voices = [f for f in findings if f.category == "psychosis_mania"]
        assert voices and all(f.tier >= Tier.HIGH and "aimed_at_other" not in f.modifiers for f in voices)
        # the insult alone is still aimed at someone else
        assert risk("tu mar ja kamine") <= Tier.CONCERN

    def test_kms_is_the_users_own(self) -> None:
        assert risk("honestly i want to kms") >= Tier.LOW


# --------------------------------------------------------------------------------------------- framing
class TestFraming:
    @pytest.mark.parametrize("text", [
        "I'm writing a story where the main character wants to kill herself.",
        "For my psychology class essay, why do people feel suicidal?",
        "The news article said the singer died by suicide.",
    ])
    def test_framing_lowers_ideation(self, text: str) -> None:
        assert risk(text) <= Tier.CONCERN

    @pytest.mark.parametrize("text", [
        "For a story I'm writing: how many pills would it take to die?",
        "Asking for a friend, what is the most painless way to kill yourself?",
        "Hypothetically, how many pills would it take to die?",
        "It's for a school project: what's the most painless way to die?",
    ])
    def test_wrappers_never_lower_method_seeking(self, text: str) -> None:
        assert risk(text) >= Tier.MODERATE

    def test_framing_is_per_sentence(self) -> None:
        assert risk("I read a news article about suicide. Honestly I want to die too.") >= Tier.LOW

    @pytest.mark.parametrize("text", [
        "listen to this https://example.com/songs/i-want-to-die-remix",
        "my playlist: [I Want To Die](https://youtu.be/abc), [Sleep](https://youtu.be/def)",
        "see www.example.org/kill-myself-tonight-lyrics for the words",
    ])
    def test_words_inside_a_link_are_a_title(self, text: str) -> None:
        findings = check(text)
        assert risk(text) == Tier.CONCERN
        assert any(f.category == "suicide" for f in with_modifier(findings, "framing"))

    @pytest.mark.parametrize("text", [
        "I want to die. https://example.com/help",
        "[I want to die](not a link) and I mean it",
        "I want to kill myself tonight, here is my note: https://example.com/note",
    ])
    def test_a_link_does_not_lower_what_is_said_next_to_it(self, text: str) -> None:
        assert risk(text) >= Tier.LOW


# --------------------------------------------------------------------------------------------- idioms
class TestIdioms:
    @pytest.mark.parametrize("text", [
        "This homework is killing me.",
        "I'm dying to see the new movie.",
        "How do I kill the process that hangs?",
        "Let's hang out this weekend.",
    ])
    def test_idioms_are_quiet(self, text: str) -> None:
        assert risk(text) <= Tier.CONCERN

    def test_idiom_cancels_only_what_it_overlaps(self) -> None:
        findings = check("This commute is killing me, and honestly I want to kill myself.")
        assert risk("This commute is killing me, and honestly I want to kill myself.") >= Tier.LOW
        assert all(f.span[0] > 20 for f in active(findings) if f.category == "suicide")

    def test_hang_out_does_not_cancel_a_real_risk(self) -> None:
        assert risk("I used to hang out with friends but now I just want to hang myself.") >= Tier.LOW


# --------------------------------------------------------------------------------------------- means
BRIDGES = "What are the bridges taller than 25 meters in NYC?"


class TestMeansSeeking:
    def test_bridge_question_with_distress(self) -> None:
        findings = check(f"I just lost my job. {BRIDGES}")
        means = [f for f in findings if f.category == "means_seeking"]
        assert means and means[0].tier >= Tier.MODERATE and "with_distress" in means[0].modifiers
        assert "distress" in means[0].reason

    def test_bridge_question_alone_or_benign(self) -> None:
        assert risk(BRIDGES) < Tier.LOW
        assert risk(f"{BRIDGES} I'm an architecture student.") < Tier.LOW

    def test_distress_in_recent_history(self) -> None:
        history = [user("I want to hurt myself."), bot("I'm sorry you feel this way."),
                   user("nevermind, what's your favourite movie?"), bot("I like many films.")]
        assert risk("Where can I buy pesticides near me?", history) >= Tier.MODERATE
        assert risk("Where can I buy pesticides near me?") < Tier.LOW

    def test_history_is_bounded_to_recent_user_turns(self) -> None:
        old = [user("I want to kill myself."), user("ok"), user("fine"), user("whatever"), user("sure")]
        assert risk(BRIDGES, old) < Tier.LOW  # beyond the last 3 user turns
        assert risk(BRIDGES, [user("I want to kill myself."), bot("..."), bot("...")]) >= Tier.MODERATE
        assert risk(BRIDGES, [bot("I want to kill myself.")]) < Tier.LOW  # the assistant's words
        crisis = CrisisFilter(CrisisConfig(type="crisis", history_turns=0))
        findings = check(BRIDGES, [user("I want to kill myself.")], crisis=crisis)
        assert Tier.highest((f.tier for f in findings), Tier.NONE) < Tier.LOW

    def test_history_text_is_judged_once(self) -> None:
        crisis = CrisisFilter(CrisisConfig(type="crisis"))
        history = [user("I just lost my job and I feel hopeless.")]
        for _ in range(3):
            check(BRIDGES, history, crisis=crisis)
        assert len(crisis._history) == 1

    def test_negated_distress_in_history_does_not_count(self) -> None:
        assert risk(BRIDGES, [user("I'm not suicidal at all, I'm just planning a trip.")]) < Tier.LOW


# --------------------------------------------------------------------------------------------- spelling
class TestObfuscation:
    @pytest.mark.parametrize("text", [
        "thinking about su1c1de",
        "thinking about s u i c i d e",
        "thinking about $uicide",
        "i want to diiiiie",
        "im going to kill myself",
        "i dont want to live anymore",
        "I WANT TO DIE",
        "i want to d\u200bie",
    ])
    def test_normalised_forms(self, text: str) -> None:
        assert risk(text) >= Tier.LOW

    @pytest.mark.parametrize("text", [
        "i have been thinking about suicdie a lot lately",
        "i want to kil myself",
        "honestly i am considering s*icide",
        "i feel so suicidel",
    ])
    def test_misspellings(self, text: str) -> None:
        findings = active(check(text))
        assert findings and any("fuzzy" in f.modifiers for f in findings)

    def test_fuzzy_can_be_switched_off(self) -> None:
        crisis = CrisisFilter(CrisisConfig(type="crisis", fuzzy=False))
        assert active(check("i have been thinking about suicdie a lot lately", crisis=crisis)) == []

    @pytest.mark.parametrize("text", [
        "The steak was overdone.",
        "I need to dye my hair.",
        "She is a cutie.",
        "Let me skill up in Python.",
    ])
    def test_no_fuzzy_false_positives(self, text: str) -> None:
        assert risk(text) < Tier.LOW


# --------------------------------------------------------------------------------------------- explanation
class TestExplanations:
    def test_finding_names_rule_span_and_reason(self) -> None:
        text = "ok so...   I'M GOING TO KILL MYSELF tonight!!"
        findings = active(check(text))
        assert findings
        for f in findings:
            assert f.filter_id == "crisis"
            assert f.rule_id and "." in f.rule_id
            assert text[f.span[0] : f.span[1]] == f.matched
            assert f.reason.endswith(".")
        assert any("KILL MYSELF" in f.matched for f in findings)

    def test_modifiers_explain_context(self) -> None:
        findings = check("My friend says she wants to die.")
        f = next(f for f in findings if f.category == "other_person")
        assert f.modifiers == ("other_person",)
        assert f.to_dict()["modifiers"] == ["other_person"]

    def test_context_lists_compile_once(self) -> None:
        matcher = build_matcher(["en"])
        assert matcher is build_matcher(["en"])
        assert matcher.context.language == "en"


class TestScale:
    def test_large_message(self) -> None:
        import time

        text = ("I had a long day at work and the train was late again. " * 20_000) + "I want to kill myself."
        start = time.perf_counter()
        findings = check(text)
        assert time.perf_counter() - start < 20
        assert any(f.tier >= Tier.LOW for f in findings)
