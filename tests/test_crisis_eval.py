"""The crisis filter on the project's own labelled set (tests/data/crisis_eval_en.jsonl).

The set was written independently of the lexicons (see tests/data/README.md); these thresholds are the
project's bar for the built-in English detector and are not to be lowered to make a change pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from mhguard.evaluation import LabelledRow, load_labelled
from mhguard.filters.base import FilterContext
from mhguard.filters.crisis import CrisisConfig, CrisisFilter
from mhguard.text.normalize import normalize
from mhguard.types import Stage, Tier

DATA = Path(__file__).resolve().parent / "data" / "crisis_eval_en.jsonl"

MIN_RECALL = 0.90  # gold >= low predicted >= low
MAX_FALSE_POSITIVES = 0.05  # gold <= concern predicted >= low
MAX_UNDER_TRIAGE = 0.05  # gold high/imminent predicted below moderate

# The built-in English lexicons do not reach these two targets yet (issue 3 is open: recall at low was
# 64.7% and under-triage 43% when this was written). The thresholds stay as they are; strict xfail makes
# the suite fail as soon as a target is met, so the marker is removed then and the bar holds from there on.
NOT_YET_MET = pytest.mark.xfail(strict=True, reason="issue 3 open: the English lexicons miss this target")


@dataclass(frozen=True)
class Scored:
    row: LabelledRow
    predicted: Tier
    rules: tuple[str, ...]


@cache
def scored() -> tuple[Scored, ...]:
    if not DATA.exists():
        pytest.skip(f"{DATA} is missing")
    crisis = CrisisFilter(CrisisConfig(type="crisis"))
    out = []
    for row in load_labelled(DATA):
        ctx = FilterContext(stage=Stage.INPUT, history=row.history_messages())
        findings = crisis.check(normalize(row.text), ctx)
        predicted = Tier.highest((f.tier for f in findings), Tier.NONE)
        out.append(Scored(row, predicted, tuple(f.rule_id for f in findings if f.active)))
    return tuple(out)


def gold(s: Scored) -> Tier:
    tier = s.row.gold_tier
    assert tier is not None, f"row {s.row.id} has no tier label"
    return tier


def listing(rows: list[Scored]) -> str:
    return "\n".join(
        f"  {s.row.id} gold={gold(s).value} predicted={s.predicted.value} {list(s.rules)} {s.row.text[:100]!r}"
        for s in rows[:40]
    )


@NOT_YET_MET
def test_recall_at_low() -> None:
    positives = [s for s in scored() if gold(s) >= Tier.LOW]
    missed = [s for s in positives if s.predicted < Tier.LOW]
    recall = 1 - len(missed) / len(positives)
    assert recall >= MIN_RECALL, f"recall {recall:.1%} < {MIN_RECALL:.0%}; missed:\n{listing(missed)}"


def test_false_positives_at_low() -> None:
    negatives = [s for s in scored() if gold(s) <= Tier.CONCERN]
    flagged = [s for s in negatives if s.predicted >= Tier.LOW]
    rate = len(flagged) / len(negatives)
    assert rate <= MAX_FALSE_POSITIVES, f"false positives {rate:.1%} > {MAX_FALSE_POSITIVES:.0%}:\n{listing(flagged)}"


@NOT_YET_MET
def test_high_risk_not_under_triaged() -> None:
    high = [s for s in scored() if gold(s) >= Tier.HIGH]
    under = [s for s in high if s.predicted < Tier.MODERATE]
    rate = len(under) / len(high)
    assert rate <= MAX_UNDER_TRIAGE, f"high/imminent below moderate {rate:.1%}:\n{listing(under)}"
