"""Risk across the conversation: what earlier turns carry into the current one.

A crisis unfolds over turns (DOMAIN.md section 3): "I lost my job and I can't see a way forward", then
two turns later "how tall is the bridge downtown?". Each earlier user turn's own risk is remembered with a
weight that halves every ``half_life_turns`` user turns and, where turn times are known (sessions), every
``half_life_minutes``:

    carried = max over earlier turns of  rank(tier) x 0.5^(turns_ago / half_life_turns) x 0.5^(age / half_life)

with ranks none 0, concern 1, low 2, moderate 3, high 4, imminent 5. What it does to the current turn:

- **carried risk**: when the current turn shows less own risk than what is carried, a finding
  ``conversation.carried_risk`` keeps the safety instruction on, at the carried tier but never above
  ``carry_max`` (``low``: the model still answers, told to stay safe; a carried risk alone never
  replaces the reply with a crisis response);
- **rising risk**: when the last turns rose step by step to the current one (for example concern, then
  low, then moderate now), the current tier goes up one step (never to imminent: that needs its own
  signal);
- **lethal means with distress** is the crisis filter's own rule: it asks :meth:`RiskMemory.distress`.

Assistant turns count as context too: when an assistant turn already gave crisis lines (a phone number or
address from the helpline directory), a carried or low finding adds its instruction without the resources
being appended again (see :func:`resources_given`).

Cost: each earlier turn is judged once (the crisis filter caches turn verdicts by text), and only the last
``turns`` user turns are read, so a long conversation costs no more per message than a short one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

import regex
from pydantic import BaseModel, ConfigDict, Field

from mhguard.helplines import digits, load_directory
from mhguard.text.normalize import normalize
from mhguard.types import Tier

__all__ = ["ANSWER_RULE", "CARRIED_RULE", "PriorTurn", "RiskMemory", "RiskMemorySettings", "answered_question",
           "resources_given"]

CARRIED_RULE: Final = "conversation.carried_risk"
_TIERS: Final = list(Tier)


class RiskMemorySettings(BaseModel):
    """Policy keys of the crisis filter's ``memory:`` section."""

    model_config = ConfigDict(extra="forbid")

    #: Off: every message is judged alone (lethal-means context still reads ``history_turns``).
    enabled: bool = True
    #: Earlier user turns that are read.
    turns: int = Field(10, ge=1, le=100)
    #: A turn's weight halves every this many user turns.
    half_life_turns: float = Field(3.0, gt=0)
    #: And every this many minutes, where turn times are known (sessions).
    half_life_minutes: float = Field(60.0, gt=0)
    #: The highest tier a carried risk alone gives the current turn.
    carry_max: Tier = Tier.LOW
    #: Raise the current tier one step when risk has risen turn by turn up to it.
    rising: bool = True


@dataclass(frozen=True)
class PriorTurn:
    """One earlier user turn: its own-risk tier and top category; ``age`` in seconds when known."""

    tier: Tier
    category: str | None = None
    age: float | None = None


@dataclass(frozen=True)
class Carried:
    tier: Tier
    category: str | None
    score: float
    turns_ago: int


class RiskMemory:
    """The earlier turns of one conversation (most recent first) under the policy's settings."""

    def __init__(self, turns: Sequence[PriorTurn], settings: RiskMemorySettings) -> None:
        self.turns = list(turns)[: settings.turns]
        self.settings = settings

    def _weight(self, turns_ago: int, age: float | None) -> float:
        s = self.settings
        w: float = 0.5 ** (turns_ago / s.half_life_turns)
        if age is not None and age > 0:
            w *= 0.5 ** (age / 60.0 / s.half_life_minutes)
        return w

    def carried(self) -> Carried | None:
        """The strongest decayed risk of the earlier turns, or None when nothing is carried."""
        best: Carried | None = None
        for k, turn in enumerate(self.turns, start=1):
            if turn.tier is Tier.NONE:
                continue
            score = turn.tier.rank * self._weight(k, turn.age)
            if best is None or score > best.score:
                best = Carried(tier=_TIERS[min(int(score), len(_TIERS) - 1)], category=turn.category,
                               score=score, turns_ago=k)
        return best

    def distress(self, within: int) -> bool:
        """Own distress or risk in the last ``within`` user turns that has not faded below concern."""
        for k, turn in enumerate(self.turns[:within], start=1):
            if turn.tier is not Tier.NONE and turn.tier.rank * self._weight(k, turn.age) >= Tier.CONCERN.rank * 0.5:
                return True
        return False

    def rising_to(self, current: Tier) -> bool:
        """True when the last two turns rose step by step to ``current`` (each strictly higher)."""
        if not self.settings.rising or current < Tier.LOW or len(self.turns) < 2:
            return False
        previous, before = self.turns[0].tier, self.turns[1].tier
        return before < previous < current and before > Tier.NONE


# A phone number or address of a crisis line in an assistant turn: the person was already given lines.
_NUMBER_RUN: Final = re.compile(r"(?<![\d*])\*?\d(?:[\d \-.()]{0,16}\d)?(?![\d])")


@cache
def _directory_keys() -> tuple[frozenset[str], tuple[str, ...]]:
    numbers: set[str] = set()
    hosts: set[str] = set()
    directory = load_directory()
    for country in directory.countries.values():
        for service in country.services:
            numbers.update(n for n in service.numbers() if len(n) >= 3)
            for url in (service.chat_url, service.source):
                if url:
                    hosts.add(re.sub(r"^https?://(www\.)?", "", url).split("/")[0].lower())
    for url in ("findahelpline.com", "befrienders.org", "iasp.info"):
        hosts.add(url)
    return frozenset(numbers), tuple(sorted(hosts))


def resources_given(text: str) -> bool:
    """Does an assistant turn give crisis lines (a directory number, or a crisis-line web address)?"""
    numbers, hosts = _directory_keys()
    lowered = text.lower()
    if any(host in lowered for host in hosts):
        return True
    return any(digits(m.group()) in numbers for m in _NUMBER_RUN.finditer(text))


# ---- a screening question from the assistant, answered by the person ------------------------------------
ANSWER_RULE: Final = "conversation.answered_risk_question"

_RISK_WORDS = (r"(?:suicid\w*|kill(?:ing)? yourself|end(?:ing)? your (?:own )?life|tak(?:e|ing) your (?:own )?life|"
               r"hurt(?:ing)? yourself|harm(?:ing)? yourself|self[- ]?harm\w*|cut(?:ting)? yourself|"
               r"want(?:ing)? to die|wish(?:ing)? you were dead|dying|not (?:being|be) (?:here|alive)|"
               r"not want(?:ing)? to live|overdos\w*)")
# (question, tier a "yes" gives, category); matched on the normalised assistant turn, the risk words in
# the same sentence as the question, which must end with "?"
_QUESTIONS: Final = (
    (regex.compile(r"\b(?:have you|did you)\s+(?:already\s+|just\s+)?(?:taken|take|swallowed|swallow)\s+"
                   r"(?:anything|something|any pills|pills|the pills|too many|more than)\b[^?.!\n]{0,60}\?"),
     Tier.IMMINENT, "any"),
    (regex.compile(r"\b(?:have you|did you)\s+(?:already\s+|just\s+)?(?:hurt|cut|harmed|harm|hurt)\s+yourself\b"
                   r"[^?.!\n]{0,60}\?"), Tier.MODERATE, "only_with_risk"),
    (regex.compile(r"\b(?:do you|have you)\s+(?:have|got|made|worked out|thought about)\s+(?:a\s+|any\s+)?"
                   r"(?:plan|plans|date|time)\b[^?.!\n]{0,80}\?"), Tier.HIGH, "only_with_risk"),
    (regex.compile(r"\b(?:are you|do you)\s+(?:going|planning|intending|think you will|think you might)\s+"
                   r"(?:to\s+)?(?:act on|do it|kill|hurt|harm|end|take)\b[^?.!\n]{0,80}\?"), Tier.HIGH, "any"),
    (regex.compile(r"\bhave you\s+(?:thought about|been thinking about|considered)\s+how\b[^?.!\n]{0,80}\?"),
     Tier.MODERATE, "only_with_risk"),
    (regex.compile(r"\b(?:are you|have you been|do you|have you|are you having|have you had)\s+(?:\w+\s+){0,3}?"
                   r"(?:thinking|thoughts?|thought|feel(?:ing)? like|wish(?:ing)?|want(?:ing)?|suicidal)\b"
                   r"[^?.!\n]{0,80}\?"), Tier.LOW, "only_with_risk"),
)
_SAFE_QUESTION: Final = regex.compile(r"\b(?:are you|do you feel)\s+(?:\w+\s+)?safe\b[^?.!\n]{0,40}\?")
_RISK_IN: Final = regex.compile(r"\b" + _RISK_WORDS + r"\b")
# the first words of a reply that says yes (any of the built-in languages), or no
_YES: Final = regex.compile(
    r"^\W*(?:yes|yeah|yea|yep|yup|ya|yah|i do|i am|i have|i did|i will|sometimes|kind of|kinda|sort of|"
    r"a little|i think so|probably|honestly yes|si|sí|oui|ja|sim|是|是的|对|對|嗯|有|はい|うん|ええ|हाँ|हां|"
    r"haan|han|ji|نعم|ايوه|أيوه|اه|aywa|eh)(?!\w)")
_NO: Final = regex.compile(r"^\W*(?:no|nope|nah|not really|i am not|not at all|non|nein|não|nao|不|没有|沒有|"
                           r"いいえ|ううん|नहीं|nahi|nhi|لا|la2)(?!\w)")
#: A reply longer than this is judged on its own words, not as an answer.
MAX_ANSWER_WORDS: Final = 12


@dataclass(frozen=True)
class Answer:
    tier: Tier
    category: str
    what: str


def answered_question(assistant_text: str, reply: str, reply_words: int) -> Answer | None:
    """A short yes to a screening question (or a no to "are you safe?") in the assistant's last turn."""
    if reply_words > MAX_ANSWER_WORDS:
        return None
    asked = normalize(assistant_text).text
    said = normalize(reply).text
    if _YES.match(said):
        for pattern, tier, needs in _QUESTIONS:
            m = pattern.search(asked)
            if m is None:
                continue
            sentence = m.group()
            risk = _RISK_IN.search(sentence)
            if risk is None and needs == "any":
                risk = _RISK_IN.search(asked)
            if risk is None:
                continue
            word = risk.group()
            category = "self_harm" if regex.search(r"hurt|harm|cut", word) else (
                "substance_overdose" if word.startswith("overdos") else "suicide")
            return Answer(tier, category, f"answered yes to the assistant's question ({tier.value} if yes)")
    if _NO.match(said) and _SAFE_QUESTION.search(asked) and _RISK_IN.search(asked):
        return Answer(Tier.MODERATE, "suicide", "answered no when the assistant asked whether they are safe")
    return None
