"""The crisis filter on the project's own labelled sets in es, fr, de, pt, zh, hi, ar, ja and ru.

Two sets per language (see tests/data/README.md), both written by someone who never saw the lexicons:
``crisis_eval_<lang>`` (now a development set: rules were written for the families its misses showed) and
``crisis_blind_<lang>`` (blind: nobody writing rules reads its rows). The filter runs as the default policy
runs it: every built-in language, each message routed by language identification, so a row only counts when
routing and rules both work.
The bars are issue 6's and are not to be lowered to make a change pass: recall at tier low >= 90% for
crises, idiom false positives <= 5%, and (the project's general bar) all false positives <= 5%.
"""

from __future__ import annotations

import pytest

from crisis_scoring import false_positives, listing, recall, scored
from mhguard.types import Tier

LANGUAGES = ["es", "fr", "de", "pt", "zh", "hi", "ar", "ja", "ru"]

MIN_RECALL = 0.90
MAX_FALSE_POSITIVES = 0.05
MAX_IDIOM_FALSE_POSITIVES = 0.05

DEV_SETS = [f"crisis_eval_{lang}" for lang in LANGUAGES]
BLIND_SETS = [f"crisis_blind_{lang}" for lang in LANGUAGES]

# Sets on which the lexicons do not reach a bar yet (issue 6 is open). The bars stay; strict xfail turns the
# suite red as soon as a set meets one, so it is taken off its list and the bar holds from then on.
# (The development sets met the recall bar on 2026-12-07, after rules were written for their misses; the
# blind sets show how far that carries to text nobody fitted.)
# (The Russian lexicon, written on 2026-12-08, has not been fitted to either Russian set: both are still blind.)
RECALL_NOT_YET_MET = set(BLIND_SETS) | {"crisis_eval_ru"}
# one false positive among a blind set's 18 non-crisis rows is 5.6%, over the 5% bar
FALSE_POSITIVES_NOT_YET_MET = {"crisis_blind_es", "crisis_blind_de", "crisis_blind_pt", "crisis_blind_ar",
                              "crisis_blind_ru"}
IDIOMS_NOT_YET_MET = {"crisis_blind_es"}


def _param(name: str, not_met: set[str], bar: str) -> object:
    if name in not_met:
        reason = f"issue 6 open: {name} misses the {bar} bar"
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=reason))
    return name


@pytest.mark.parametrize("name", [_param(n, RECALL_NOT_YET_MET, "recall") for n in DEV_SETS + BLIND_SETS])
def test_recall_at_low(name: str) -> None:
    rate, missed = recall(scored(name))
    assert rate >= MIN_RECALL, f"{name}: recall {rate:.1%}; missed:\n{listing(missed)}"


@pytest.mark.parametrize("name", [_param(n, FALSE_POSITIVES_NOT_YET_MET, "false-positive")
                                  for n in DEV_SETS + BLIND_SETS])
def test_false_positives_at_low(name: str) -> None:
    rate, flagged = false_positives(scored(name))
    assert rate <= MAX_FALSE_POSITIVES, f"{name}: false positives {rate:.1%}:\n{listing(flagged)}"


@pytest.mark.parametrize("name", [_param(n, IDIOMS_NOT_YET_MET, "idiom") for n in DEV_SETS + BLIND_SETS])
def test_idioms_stay_quiet(name: str) -> None:
    idioms = [s for s in scored(name) if s.gold <= Tier.CONCERN and s.kind.startswith("idiom")]
    assert idioms, f"{name}: the set has no idiom rows"
    rate, flagged = false_positives(idioms)
    assert rate <= MAX_IDIOM_FALSE_POSITIVES, f"{name}: idioms flagged {rate:.1%}:\n{listing(flagged)}"
