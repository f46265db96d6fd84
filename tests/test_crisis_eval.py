"""The crisis filter on the project's own labelled set (tests/data/crisis_eval_en.jsonl).

The set was written independently of the lexicons (see tests/data/README.md); these thresholds are the
project's bar for the built-in English detector and are not to be lowered to make a change pass.
"""

from __future__ import annotations

import pytest

from crisis_scoring import false_positives, listing, recall, scored, under_triage

MIN_RECALL = 0.90  # gold >= low predicted >= low
MAX_FALSE_POSITIVES = 0.05  # gold <= concern predicted >= low
MAX_UNDER_TRIAGE = 0.05  # gold high/imminent predicted below moderate

# The built-in English lexicons do not reach these two targets yet (issue 3 is open: recall at low was
# 64.7% and under-triage 43% when this was written). The thresholds stay as they are; strict xfail makes
# the suite fail as soon as a target is met, so the marker is removed then and the bar holds from there on.
NOT_YET_MET = pytest.mark.xfail(strict=True, reason="issue 3 open: the English lexicons miss this target")


@NOT_YET_MET
def test_recall_at_low() -> None:
    rate, missed = recall(scored("crisis_eval_en"))
    assert rate >= MIN_RECALL, f"recall {rate:.1%} < {MIN_RECALL:.0%}; missed:\n{listing(missed)}"


def test_false_positives_at_low() -> None:
    rate, flagged = false_positives(scored("crisis_eval_en"))
    assert rate <= MAX_FALSE_POSITIVES, f"false positives {rate:.1%} > {MAX_FALSE_POSITIVES:.0%}:\n{listing(flagged)}"


@NOT_YET_MET
def test_high_risk_not_under_triaged() -> None:
    rate, under = under_triage(scored("crisis_eval_en"))
    assert rate <= MAX_UNDER_TRIAGE, f"high/imminent below moderate {rate:.1%}:\n{listing(under)}"
