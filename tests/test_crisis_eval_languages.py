"""The crisis filter on the project's own labelled sets in es, fr, de, pt, zh, hi, ar and ja.

The sets (tests/data/crisis_eval_<lang>.jsonl) were written by someone who never saw the lexicons (see
tests/data/README.md). The filter runs as the default policy runs it: every built-in language, each
message routed by language identification, so a row only counts when routing and rules both work.
The bars are issue 6's and are not to be lowered to make a change pass: recall at tier low >= 90% for
crises, idiom false positives <= 5%, and (the project's general bar) all false positives <= 5%.
"""

from __future__ import annotations

import pytest

from crisis_scoring import false_positives, listing, recall, scored
from mhguard.types import Tier

LANGUAGES = ["es", "fr", "de", "pt", "zh", "hi", "ar", "ja"]

MIN_RECALL = 0.90
MAX_FALSE_POSITIVES = 0.05
MAX_IDIOM_FALSE_POSITIVES = 0.05

# Languages whose lexicons do not reach the recall bar yet (issue 6 is open). The bar stays; strict xfail
# turns the suite red as soon as a language meets it, so it is taken off this list and holds from then on.
RECALL_NOT_YET_MET = {"es", "fr", "de", "pt", "zh", "hi", "ar", "ja"}


def _recall_param(language: str) -> object:
    if language in RECALL_NOT_YET_MET:
        return pytest.param(language, marks=pytest.mark.xfail(
            strict=True, reason=f"issue 6 open: the {language} lexicon misses the recall bar"))
    return language


@pytest.mark.parametrize("language", [_recall_param(lang) for lang in LANGUAGES])
def test_recall_at_low(language: str) -> None:
    rate, missed = recall(scored(f"crisis_eval_{language}"))
    assert rate >= MIN_RECALL, f"{language}: recall {rate:.1%}; missed:\n{listing(missed)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_false_positives_at_low(language: str) -> None:
    rate, flagged = false_positives(scored(f"crisis_eval_{language}"))
    assert rate <= MAX_FALSE_POSITIVES, f"{language}: false positives {rate:.1%}:\n{listing(flagged)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_idioms_stay_quiet(language: str) -> None:
    idioms = [s for s in scored(f"crisis_eval_{language}") if s.gold <= Tier.CONCERN and s.kind.startswith("idiom")]
    assert idioms, f"{language}: the set has no idiom rows"
    rate, flagged = false_positives(idioms)
    assert rate <= MAX_IDIOM_FALSE_POSITIVES, f"{language}: idioms flagged {rate:.1%}:\n{listing(flagged)}"
