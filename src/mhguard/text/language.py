"""Offline language identification for routing a message to the right crisis lexicons.

No model and no download: the script of the letters decides most languages (Han without kana is
Chinese, kana is Japanese, Arabic script is Arabic, Devanagari is Hindi), and for Latin-script text a
handful of frequent function words per language decide (Spanish "que", "estoy"; German "ich", "nicht";
romanised Hindi "mujhe", "nahi"...). That is enough for the job here, which is not to name a language
for its own sake but to choose which lexicons read the message: every language that shows up is
returned, so a mixed message ("I can't anymore, ya no aguanto más") is read by both lexicons, and
English is kept for Latin text unless another language clearly owns it (chat is full of English).

A statistical identifier (fastText lid.176, CLD3) would add a dependency with a native build or a model
file, and is unreliable on the short, informal texts of a chat anyway; the cues below cost a set lookup
per word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import regex

from mhguard.text.normalize import NormalizedText, normalize

__all__ = ["LATIN_CUES", "LanguageGuess", "detect_language"]

# Frequent words that are (nearly) only words of that language. Words shared by several of these
# languages ("que", "de", "me", "no", "a") are left out: they would vote for the wrong one.
LATIN_CUES: Final[dict[str, frozenset[str]]] = {
    "en": frozenset(
        "i the and my is it you not just want am this that have was what with for of feel are be so like "
        "can will all anymore myself about they he she we how why really know get got been would could "
        "should there their your to if or at but one".split()),
    "es": frozenset(
        "que yo estoy quiero pero muy porque tengo mi soy ya cuando nadie hacer puedo siento también "
        "tambien hoy mañana los las una mí eso bien ahora alguien aquí tú mis tus sus creo eres hay tiene "
        "puede mucho donde dónde qué cómo quién siempre más".split()),
    "pt": frozenset(
        "não nao eu você voce vc estou tô quero muito mais minha meu isso sou tenho ninguém ninguem fazer "
        "posso sinto hoje agora com uma pra pro mim é ele ela então entao só né tá ter consigo mesmo "
        "sempre já vou vai foi coisa onde".split()),
    "fr": frozenset(
        "je j pas suis moi veux c est et mon ma mes tout rien ne n qu très tres avec pour dans sur ça ca "
        "il elle nous vous vie personne jamais aujourd hui envie fait être etre sais peux trop mais ai "
        "cette cet ce des les une qui quoi comment pourquoi aussi toujours encore".split()),
    "de": frozenset(
        "ich nicht mehr und bin mich mir ist kann ein eine auch habe nur noch mein meine sie er wir dich "
        "dir aber oder wenn weil schon immer niemand leben sterben heute jetzt gar nichts keine kein "
        "möchte moechte hab bitte sehr wie warum alles ganz doch einfach".split()),
    "hi": frozenset(
        "mujhe mujhko nahi nhi nahin hai hain hoon hun hu kya mera meri mere kuch bhi yaar koi ke ki ko "
        "aur bahut bohot zindagi jeena kar raha rahi tha thi sab kaise kyun kyu apna apni dil ghar mai "
        "hum tum tujhe abhi kabhi lagta lagti chahta chahti".split()),
}
# Common characters written one way in Traditional and another in Simplified Chinese.
_TRADITIONAL: Final = frozenset("們這個說會為麼沒學還時來對過後讓覺應該點樣話"
                                "當開關媽聽離難殺藥體從與歲頭愛樂給見錢讀")
_SIMPLIFIED: Final = frozenset("们这个说会为么没学还时来对过后让觉应该点样话"
                               "当开关妈听离难杀药体从与岁头爱乐给见钱读")
# Letters that only some of these languages use.
_LETTER_CUES: Final[dict[str, str]] = {"ñ": "es", "¿": "es", "¡": "es", "ã": "pt", "õ": "pt", "ß": "de",
                                       "ä": "de", "ö": "de", "ü": "de", "œ": "fr", "è": "fr", "ê": "fr",
                                       "à": "fr", "ç": "fr"}


@dataclass(frozen=True)
class LanguageGuess:
    """The languages a message shows, most evident first, and whether the first one is clear."""

    languages: tuple[str, ...]
    #: True when one language clearly owns the message (its own script, or several of its cue words
    #: and twice the next one's), so a reply may follow it over the locale's language.
    confident: bool = False
    #: The primary language as a tag for replies: ``zh-Hant`` for Traditional Chinese, else the code.
    tag: str = "en"

    @property
    def primary(self) -> str:
        return self.languages[0] if self.languages else "en"


# Letters of each script that decides a language by itself (kana before Han: see detect_language).
_SCRIPTS: Final = (
    ("ja", regex.compile(r"[\p{Hiragana}\p{Katakana}]")),
    ("han", regex.compile(r"\p{Han}")),
    ("ar", regex.compile(r"\p{Arabic}")),
    ("hi", regex.compile(r"\p{Devanagari}")),
    ("ru", regex.compile(r"\p{Cyrillic}")),
    ("ko", regex.compile(r"\p{Hangul}")),
)
# word -> the languages it is a cue word of (one lookup per word)
_CUE_INDEX: Final[dict[str, tuple[str, ...]]] = {}
for _lang, _cues in LATIN_CUES.items():
    for _word in _cues:
        _CUE_INDEX[_word] = (*_CUE_INDEX.get(_word, ()), _lang)


def detect_language(text: str | NormalizedText) -> LanguageGuess:
    """Guess the languages of a message (normalised or not). Never fails; an empty text gives English."""
    nt = text if isinstance(text, NormalizedText) else normalize(text)
    scores: dict[str, float] = {}
    words = [t.text for t in nt.tokens]
    text_ = nt.text
    if not text_.isascii():
        counts: dict[str, int] = {}
        for script, pattern in _SCRIPTS:
            n = len(pattern.findall(text_))
            if n:
                counts[script] = n
        if counts:
            # Japanese writes kanji with kana: any kana makes the Han letters Japanese
            if "ja" in counts and "han" in counts:
                counts["ja"] += counts.pop("han")
            for script, n in counts.items():
                scores["zh" if script == "han" else script] = 2.0 + n
        for ch, lang in _LETTER_CUES.items():
            if ch in text_:
                scores[lang] = scores.get(lang, 0.0) + 1.0
    get = _CUE_INDEX.get
    for word in words:
        langs = get(word)
        if langs is not None:
            for lang in langs:
                scores[lang] = scores.get(lang, 0.0) + 1.0
    if not scores:
        return LanguageGuess(("en",), confident=False, tag="en")
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    top, top_score = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    latin_words = sum(1 for w in words if w.isascii())
    # a Latin language other than English counts when it has two cue words, or one in a very short text
    kept = [lang for lang, score in ranked
            if lang not in LATIN_CUES or lang == "en" or score >= 2 or (score >= 1 and latin_words <= 3)]
    if not kept:
        kept = ["en"]
    confident = top in kept and top_score >= 2 and top_score >= 2 * second
    if "en" not in kept and any(w.isascii() and w.isalpha() for w in words) and scores.get("en", 0) > 0:
        kept.append("en")
    tag = kept[0]
    if tag == "zh":
        trad = sum(1 for ch in nt.text if ch in _TRADITIONAL)
        simp = sum(1 for ch in nt.text if ch in _SIMPLIFIED)
        tag = "zh-Hant" if trad > simp else "zh-Hans"
    return LanguageGuess(tuple(kept), confident=confident and kept[0] == top, tag=tag)
