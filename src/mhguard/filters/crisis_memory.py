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

from pydantic import BaseModel, ConfigDict, Field

from mhguard.types import Tier

__all__ = ["CARRIED_RULE", "PriorTurn", "RiskMemory", "RiskMemorySettings", "resources_given"]

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
    from mhguard.helplines import load_directory

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
    return any(re.sub(r"\D", "", m.group()) in numbers for m in _NUMBER_RUN.finditer(text))
