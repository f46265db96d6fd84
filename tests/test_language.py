"""Language identification (script + function words) and the spelling folds used for matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mhguard.lexicon.loader import compile_rules
from mhguard.lexicon.matcher import CompiledLexicon
from mhguard.lexicon.models import Rule
from mhguard.text.fold import digraph_variant, fold_word
from mhguard.text.language import detect_language
from mhguard.text.normalize import normalize
from mhguard.types import Tier


@pytest.mark.parametrize(("text", "language"), [
    ("I really don't want to be here anymore", "en"),
    ("ya no quiero estar aquí, estoy muy cansada", "es"),
    ("je suis trop fatiguée, j'ai plus envie de rien", "fr"),
    ("ich kann einfach nicht mehr, alles ist zu viel", "de"),
    ("não aguento mais, eu tô muito cansado", "pt"),
    ("yaar mujhe kuch samajh nahi aa raha", "hi"),
    ("मुझे कुछ समझ नहीं आ रहा", "hi"),
    ("我最近真的很累", "zh"),
    ("最近ずっと眠れなくてつらい", "ja"),
    ("أنا متعب جدا من كل شيء", "ar"),
])
def test_primary_language(text: str, language: str) -> None:
    guess = detect_language(text)
    assert guess.primary == language, guess
    assert guess.confident


def test_kanji_with_kana_is_japanese_not_chinese() -> None:
    assert detect_language("死にたい").languages == ("ja",)
    assert detect_language("我想死").languages == ("zh",)


def test_chinese_with_a_few_kana_is_read_as_chinese_too() -> None:
    guess = detect_language("我不想活了，我的計畫已經寫好了。構ってちゃん")
    assert "zh" in guess.languages
    assert detect_language("今日は学校に行きたくない。死にたい気持ちが強い").languages == ("ja",)


def test_traditional_and_simplified_chinese_tags() -> None:
    assert detect_language("我覺得活著沒有意義").tag == "zh-Hant"
    assert detect_language("我觉得活着没有意义").tag == "zh-Hans"


def test_mixed_messages_keep_every_language() -> None:
    assert set(detect_language("I feel so alone, ya no aguanto más").languages) == {"en", "es"}
    assert set(detect_language("I can't anymore 我想死").languages) >= {"en", "zh"}
    assert set(detect_language("yaar I just want to die, kuch accha nahi lagta").languages) >= {"en", "hi"}


def test_short_messages_are_read_in_every_language_a_cue_word_points_to() -> None:
    # "nada" is Spanish and Portuguese; first-person verbs tell the two apart from English
    assert {"es", "pt"} <= set(detect_language("no valgo nada").languages)
    assert "pt" in detect_language("me sinto sozinha").languages
    assert "pt" in detect_language("me odeio").languages
    assert "es" in detect_language("me siento vacía").languages
    assert "fr" in detect_language("chui a bout").languages  # chat French, no accent
    assert "hi" in detect_language("maine saari goliyan kha li").languages  # Hinglish


def test_tiny_latin_messages_are_read_by_every_latin_lexicon() -> None:
    for text in ["me corto", "tomei remedio demais", "ok"]:
        guess = detect_language(text)
        assert {"en", "es", "pt", "fr", "de"} <= set(guess.languages), text
        assert guess.primary == "en" and not guess.confident
    assert detect_language("I want to go to the main library").languages == ("en",)  # five words and more
    assert detect_language("I'm not suicidal.").languages == ("en",)  # English words make it English


def test_unclear_text_is_not_confident() -> None:
    for text in ["ok", "hola", "lol", "", "😭😭😭", "12345"]:
        guess = detect_language(text)
        assert not guess.confident, (text, guess)
        assert guess.primary == "en"


def test_english_words_alone_do_not_add_other_languages() -> None:
    for text in ["I want to go to the main library", "my name is Ana and I like tacos", "the game was so good lol"]:
        assert detect_language(text).languages == ("en",), text


@given(st.text(max_size=200))
def test_detection_never_fails(text: str) -> None:
    guess = detect_language(text)
    assert guess.languages
    assert guess.primary in guess.languages


@pytest.mark.parametrize(("typed", "written"), [
    ("mas", "más"), ("deja", "déjà"), ("nao", "não"), ("mochte", "möchte"), ("aca", "acá"),
    ("اريد", "أريد"), ("اموت", "أَمُوتُ"), ("حياه", "حياة"), ("هى", "هي"), ("हूं", "हूँ"),
])
def test_fold_merges_the_typed_and_written_spellings(typed: str, written: str) -> None:
    assert fold_word(normalize(typed).tokens[0].text) == fold_word(normalize(written).tokens[0].text)


@pytest.mark.parametrize(("a", "b"), [("死", "殺"), ("が", "か"), ("mano", "mono"), ("मरना", "मारना")])
def test_fold_keeps_different_words_apart(a: str, b: str) -> None:
    assert fold_word(a) != fold_word(b)


def test_ascii_words_are_never_folded() -> None:
    assert fold_word("toe") == "toe"
    assert digraph_variant("moechte") is None
    assert digraph_variant("möchte") == "moechte"


def test_matcher_matches_with_or_without_accents_and_umlauts() -> None:
    rule = Rule(id="suicide.fold_probe", category="suicide", tier="low",
                phrases=["ya no aguanto más", "möchte nicht mehr leben", "أريد أن أموت"],
                examples=["x"], counter_examples=["y"])
    matcher = CompiledLexicon(compile_rules([rule], source="<test>"))
    for text in ["Ya no aguanto mas", "ya no aguanto MÁS", "ich moechte nicht mehr leben",
                 "ich mochte nicht mehr leben", "Ich möchte nicht mehr leben", "اريد ان اموت", "أُرِيدُ أَنْ أَمُوتَ"]:
        assert [m.rule.id for m in matcher.find(normalize(text))] == ["suicide.fold_probe"], text
    for text in ["ya no aguanto menos", "ich mochte das leben"]:
        assert not matcher.find(normalize(text)), text


# ---- replies follow the message's language ------------------------------------------------------------
def test_reply_is_in_the_message_language_with_the_locale_country() -> None:
    from mhguard import Guard

    guard = Guard.from_policy("default")
    d = guard.check_input("quiero morirme, ya no aguanto más", locale="en-US")
    assert d.language == "es" and d.risk >= Tier.LOW
    reply = d.text or d.annotation or ""
    assert "988" in reply and any(w in reply for w in ("llama", "escribe", "Puedes"))


def test_unclear_language_keeps_the_locale_language() -> None:
    from mhguard import Guard

    guard = Guard.from_policy("default")
    d = guard.check_input("kms", locale="fr-FR")
    assert d.language is None or d.language == "en"


def test_a_policy_can_force_a_language() -> None:
    from mhguard import Guard

    forced = Guard.from_policy({"extends": "default", "name": "fr-only", "language": "fr"})
    d = forced.check_input("je veux mourir", locale="en-US")
    assert d.language == "fr" and d.risk >= Tier.LOW
    assert "988" in (d.text or d.annotation or "")
    # read as French only: an English message is not read by the English rules
    assert forced.check_input("I want to kill myself").risk == Tier.NONE


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "pt", "zh", "zh-Hant", "ja", "hi", "ar", "ru"])
def test_every_template_renders_in_every_language(language: str) -> None:
    from mhguard.crisis_response import CrisisContext, load_templates, render_crisis_response

    family = load_templates("crisis")
    assert language in family.labels
    for tier in (Tier.LOW, Tier.MODERATE, Tier.IMMINENT):
        text = render_crisis_response(family, CrisisContext(tier=tier, category="suicide", experiencer="user"),
                                      locale=f"{language}-GB", default_locale="en-US")
        assert "999" in text or "116 123" in text, (language, tier, text)
        assert "{" not in text
