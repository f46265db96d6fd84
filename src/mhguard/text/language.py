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

# Frequent function words of each language. A word may be a cue of several languages ("que" is Spanish,
# Portuguese and French): it then weighs 1/n for each, so words of one language alone decide. English
# words are left out of the other lists ("a", "me", "no", "he", "do", "to", "die", "will", "main"), so an
# English text never looks foreign.
LATIN_CUES: Final[dict[str, frozenset[str]]] = {
    "en": frozenset(
        "i the and my is it you not just want am this that have was what with for of feel are be so like "
        "can will all anymore myself about they he she we how why really know get got been would could "
        "should there their your to if or at but one don im me no do".split()),
    "es": frozenset(
        "que de la el en y los las del se por un una con mi lo le su para es al como más pero sus ya o "
        "fue este ha sí si porque esta está estoy cuando muy sin sobre también tambien yo hay todo nada "
        "nadie ni eso todos uno les ese esto mí antes qué unos otro otra él esa estos mucho ella estar "
        "algo mis tú te ti tu tus tengo tiene quiero puedo siento hoy ahora aquí aqui voy vas va soy eres "
        "era anoche ayer mañana noche día dia días dias vez veces siempre nunca casi solo sólo pienso creo "
        "ganas vida morir casa quién cómo dónde donde pues ojalá ojala odio valgo sirvo merezco aguanto "
        "soporto necesito estoy siento sentía sentia quedan queda razones razón razon intenté intente".split()),
    "pt": frozenset(
        "que de o e do da em um para é com não nao uma os no se na por mais as dos como mas foi ao ele das "
        "tem à seu sua ou ser quando muito há nos já está eu também tambem só pelo pela até isso ela entre "
        "era depois sem mesmo aos ter seus quem nas esse eles estão você voce vc tinha essa num nem suas "
        "meu minha tenho lhe este dele tu te vocês meus minhas teu tua nosso nossa tô tá pra pro né "
        "queria quero vou vai hoje agora aqui ontem noite dia vida morrer casa tudo nada ninguém ninguem "
        "sempre nunca coisa onde acho estou sou sinto sentia odeio aguento mereço mereco consigo valho "
        "preciso tentei tentou tentando enforcar enforcando".split()),
    "fr": frozenset(
        "je j de la le et les des en un une du est que qui pas ne n pour dans ce il elle au sur se plus "
        "par avec tout mais ou son sa ses leur nous vous ils elles mon ma mes moi toi tu te t m c ça ca "
        "qu y été être etre fait faire suis es sommes êtes sont ai avons avez ont très tres trop rien "
        "personne jamais toujours encore aujourd hui hier demain soir nuit vie envie mourir veux peux "
        "sais dois vais va vas chez sans sous quand comme si aussi alors donc car bien fois parce "
        "pourquoi comment quoi où chui chuis jsuis jsui jme jpeux jveux jsais jpp tuer disent dit".split()),
    "de": frozenset(
        "ich du er sie es wir ihr mich dich mir dir uns euch sich mein meine meinen meinem meiner dein "
        "deine der das den dem des ein eine einen einem einer und oder aber nicht kein keine keinen "
        "nichts mehr auch noch schon nur sehr zu mit von bei nach aus für fur über uber auf im vom zum "
        "zur ist bin bist sind seid war waren habe hab hast hat haben hatte kann kannst wollen möchte "
        "moechte muss soll werde wird wenn weil dass ob wie warum wo wer heute gestern morgen jetzt immer "
        "nie niemand alles alle ganz einfach doch mal leben sterben gar".split()),
    "hi": frozenset(
        "mujhe mujhko mujhse nahi nhi nahin hai hain hoon hun hu ho kya mera meri mere kuch bhi yaar koi "
        "ke ki ko aur bahut bohot zindagi jeena kar karna raha rahi rahe tha thi sab kaise kyun kyu apna "
        "apni apne dil ghar mai hum tum tujhe tera teri abhi kabhi lagta lagti chahta chahti gaya gayi "
        "wala wali toh bas kisi mat uska uski woh wo yeh ye jo jab tab phir fir maine mene usko isko kaash "
        "liya liye diya dunga dungi lunga lungi kahan jaun saari goliyan zeher zehar".split()),
}
#: Han characters per kana above which a text with kana is read as Chinese too.
CHINESE_WITH_KANA: Final = 3
#: Up to this many words, a Latin-script message is read in every Latin language with a lexicon.
TINY_MESSAGE_WORDS: Final = 4
#: Up to this many words, a message is read in every Latin language one of its cue words belongs to.
SHORT_MESSAGE_WORDS: Final = 8
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
# word -> (language, weight) for each language it is a cue word of (one lookup per word)
_CUE_INDEX: Final[dict[str, tuple[tuple[str, float], ...]]] = {}
for _word in set().union(*LATIN_CUES.values()):
    _owners = [lang for lang, cues in LATIN_CUES.items() if _word in cues]
    _CUE_INDEX[_word] = tuple((lang, 1.0 / len(_owners)) for lang in _owners)


def detect_language(text: str | NormalizedText) -> LanguageGuess:
    """Guess the languages of a message (normalised or not). Never fails; an empty text gives English."""
    nt = text if isinstance(text, NormalizedText) else normalize(text)
    scores: dict[str, float] = {}
    words = nt.token_texts
    text_ = nt.text
    if not text_.isascii():
        counts: dict[str, int] = {}
        for script, pattern in _SCRIPTS:
            n = len(pattern.findall(text_))
            if n:
                counts[script] = n
        if counts:
            # Japanese writes kanji with kana: kana make the Han letters Japanese, unless a few kana sit in
            # a Chinese text (a Japanese name or song title quoted in a Chinese post): then it is read as both
            if "ja" in counts and "han" in counts:
                han = counts.pop("han")
                if han >= CHINESE_WITH_KANA * counts["ja"]:
                    scores["zh"] = 1.0
                counts["ja"] += han
            for script, n in counts.items():
                scores["zh" if script == "han" else script] = 2.0 + n
        for ch, lang in _LETTER_CUES.items():
            if ch in text_:
                scores[lang] = scores.get(lang, 0.0) + 1.0
    get = _CUE_INDEX.get
    for word in words:
        weights = get(word)
        if weights is not None:
            for lang, weight in weights:
                scores[lang] = scores.get(lang, 0.0) + weight
    latin = any(w.isascii() and w.isalpha() for w in words)
    tiny = latin and len(words) <= TINY_MESSAGE_WORDS
    if not scores:
        return LanguageGuess(tuple(LATIN_CUES) if tiny else ("en",), confident=False, tag="en")  # see below
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    top, top_score = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    en = scores.get("en", 0.0)
    # a Latin language other than English counts when it holds at least one word of its own (or two it
    # shares) and is not drowned by English ("I went to the del taco")
    # (in a short message one shared word is enough: "no valgo nada" has only "nada", Spanish or
    # Portuguese, and is read in both)
    least = 0.5 if len(words) <= SHORT_MESSAGE_WORDS else 1.0
    kept = [lang for lang, score in ranked
            if lang not in LATIN_CUES or lang == "en" or (score >= least and score >= 0.5 * en)]
    kept = [lang for lang in kept if lang != "en" or en >= 1]
    if latin and "en" not in kept:
        kept.append("en")  # Latin text is read in English too: chat everywhere mixes English in
    if tiny and en < 2:
        # "me corto", "cortei-me": too short to tell Spanish from Portuguese from English; every Latin
        # lexicon reads it (after the languages found, which keep deciding the reply language). Not when
        # two English words make it English: "I'm not suicidal" read by a lexicon that does not know
        # "not" would lose its negation
        kept.extend(lang for lang in LATIN_CUES if lang not in kept)
    confident = top_score >= 2 and top_score >= 1.5 * second and top in kept
    tag = kept[0]
    if tag == "zh":
        trad = sum(1 for ch in nt.text if ch in _TRADITIONAL)
        simp = sum(1 for ch in nt.text if ch in _SIMPLIFIED)
        tag = "zh-Hant" if trad > simp else "zh-Hans"
    return LanguageGuess(tuple(kept), confident=confident and kept[0] == top, tag=tag)
