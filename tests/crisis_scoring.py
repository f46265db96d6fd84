"""Scoring the crisis filter on a labelled JSONL set (shared by the per-language evaluation tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from mhguard.evaluation import LabelledRow, load_labelled
from mhguard.filters.base import FilterContext
from mhguard.filters.crisis import CrisisConfig, CrisisFilter
from mhguard.text.normalize import normalize
from mhguard.types import Stage, Tier

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Scored:
    row: LabelledRow
    kind: str  # the set's own annotation of the row (idiom, negated, third_person...)
    predicted: Tier
    rules: tuple[str, ...]

    @property
    def gold(self) -> Tier:
        tier = self.row.gold_tier
        assert tier is not None, f"row {self.row.id} has no tier label"
        return tier


@cache
def crisis_filter() -> CrisisFilter:
    """The crisis filter as the default policy runs it: every built-in language, routed per message."""
    return CrisisFilter(CrisisConfig(type="crisis"))


@cache
def scored(name: str) -> tuple[Scored, ...]:
    """Every row of ``tests/data/<name>.jsonl`` with the filter's tier (skips when the file is missing)."""
    path = DATA / f"{name}.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    kinds = {(r := json.loads(line))["id"]: r.get("kind", "") for line in path.read_text("utf-8").splitlines()
             if line.strip()}
    out = []
    for row in load_labelled(path):
        ctx = FilterContext(stage=Stage.INPUT, history=row.history_messages())
        findings = crisis_filter().check(normalize(row.text), ctx)
        predicted = Tier.highest((f.tier for f in findings), Tier.NONE)
        out.append(Scored(row, kinds.get(row.id, ""), predicted, tuple(f.rule_id for f in findings if f.active)))
    return tuple(out)


def listing(rows: list[Scored], limit: int = 40) -> str:
    return "\n".join(
        f"  {s.row.id} gold={s.gold.value} predicted={s.predicted.value} {list(s.rules)} {s.row.text[:90]!r}"
        for s in rows[:limit]
    )


def recall(rows: tuple[Scored, ...]) -> tuple[float, list[Scored]]:
    positives = [s for s in rows if s.gold >= Tier.LOW]
    missed = [s for s in positives if s.predicted < Tier.LOW]
    return 1 - len(missed) / len(positives), missed


def false_positives(rows: tuple[Scored, ...] | list[Scored]) -> tuple[float, list[Scored]]:
    negatives = [s for s in rows if s.gold <= Tier.CONCERN]
    flagged = [s for s in negatives if s.predicted >= Tier.LOW]
    return len(flagged) / len(negatives), flagged


def under_triage(rows: tuple[Scored, ...]) -> tuple[float, list[Scored]]:
    high = [s for s in rows if s.gold >= Tier.HIGH]
    under = [s for s in high if s.predicted < Tier.MODERATE]
    return len(under) / len(high), under
