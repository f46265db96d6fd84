"""Tests of mhguard.evaluation with a fake guard, so that they do not depend on the detector or lexicons."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mhguard.evaluation import (
    DatasetError,
    EvalReport,
    LabelledRow,
    evaluate,
    load_labelled,
)
from mhguard.types import Finding, Tier


@dataclass(frozen=True)
class FakeDecision:
    risk: Tier
    categories: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()


@dataclass
class FakeGuard:
    """Answers from a table: text -> (risk, categories, active rule ids, cancelled rule ids)."""

    table: dict[str, tuple[Tier, tuple[str, ...], tuple[str, ...], tuple[str, ...]]]
    calls: list[tuple[str, list[dict[str, str]] | None]] = field(default_factory=list)

    def check_input(self, text: str, *, history: list[dict[str, str]] | None = None) -> FakeDecision:
        self.calls.append((text, history))
        risk, cats, rules, cancelled = self.table.get(text, (Tier.NONE, (), (), ()))
        findings = tuple(
            Finding(filter_id="fake", rule_id=r, category=cats[0] if cats else "x", tier=risk, span=(0, 1),
                    matched=text[:1], reason="fake")
            for r in rules
        ) + tuple(
            Finding(filter_id="fake", rule_id=r, category="x", tier=Tier.NONE, span=(0, 1), matched=text[:1],
                    reason="cancelled", modifiers=("negated",))
            for r in cancelled
        )
        return FakeDecision(risk=risk, categories=cats, findings=findings)


def _row(rid: str, label: str, category: str | None = None) -> LabelledRow:
    return LabelledRow(text=f"text {rid}", label=label, category=category, id=rid)


# id, gold label, gold category, predicted tier, predicted categories
CASES: list[tuple[str, str, str | None, Tier, tuple[str, ...]]] = [
    ("r1", "high", "suicide", Tier.HIGH, ("suicide",)),  # TP, exact
    ("r2", "imminent", "suicide", Tier.LOW, ("self_harm",)),  # TP, under-triage by 3
    ("r3", "moderate", "self_harm", Tier.CONCERN, ("distress",)),  # FN, under-triage by 2
    ("r4", "none", None, Tier.NONE, ()),  # TN, exact
    ("r5", "concern", None, Tier.LOW, ("distress",)),  # FP, within one
    ("r6", "crisis", None, Tier.MODERATE, ("suicide",)),  # TP (binary)
    ("r7", "crisis", "suicide", Tier.NONE, ()),  # FN (binary)
    ("r8", "no_crisis", "other_person", Tier.HIGH, ("other_person",)),  # FP (binary)
    ("r9", "no_crisis", "other_person", Tier.NONE, ()),  # TN (binary)
    ("r10", "low", None, Tier.LOW, ("suicide",)),  # TP, exact
]


def _guard_and_rows() -> tuple[FakeGuard, list[LabelledRow]]:
    table: dict[str, tuple[Tier, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
        f"text {rid}": (pred, cats, (f"rule.{rid}",) if pred != Tier.NONE else (), ())
        for rid, _, _, pred, cats in CASES
    }
    table["text r7"] = (Tier.NONE, (), (), ("rule.negated",))
    rows = [_row(rid, label, cat) for rid, label, cat, _, _ in CASES]
    return FakeGuard(table), rows


@pytest.fixture()
def report() -> EvalReport:
    guard, rows = _guard_and_rows()
    return evaluate(guard, rows)


# ------------------------------------------------------------------------------------------ metrics


def test_binary_counts_and_rates(report: EvalReport) -> None:
    assert (report.true_positives, report.false_negatives) == (4, 2)
    assert (report.false_positives, report.true_negatives) == (2, 2)
    assert report.n == 10
    assert report.recall == pytest.approx(4 / 6)
    assert report.precision == pytest.approx(4 / 6)
    assert report.false_positive_rate == pytest.approx(2 / 4)
    assert report.f1 == pytest.approx(4 / 6)
    assert report.accuracy == pytest.approx(6 / 10)


def test_per_gold_label(report: EvalReport) -> None:
    stats = {s.label: (s.crisis, s.n, s.flagged) for s in report.per_label}
    assert stats == {
        "none": (False, 1, 0),
        "concern": (False, 1, 1),
        "low": (True, 1, 1),
        "moderate": (True, 1, 0),
        "high": (True, 1, 1),
        "imminent": (True, 1, 1),
        "crisis": (True, 2, 1),
        "no_crisis": (False, 2, 1),
    }
    # Tier order, then the binary labels.
    assert [s.label for s in report.per_label][:3] == ["none", "concern", "low"]
    crisis = next(s for s in report.per_label if s.label == "crisis")
    assert crisis.rate == pytest.approx(0.5)


def test_per_gold_category(report: EvalReport) -> None:
    cats = {c.category: c for c in report.per_category}
    assert set(cats) == {"suicide", "self_harm", "other_person"}
    s = cats["suicide"]
    assert (s.positives, s.true_positives, s.negatives, s.false_positives) == (3, 2, 0, 0)
    assert s.recall == pytest.approx(2 / 3)
    assert s.fpr is None
    # r1 predicted "suicide", r2 predicted "self_harm": one of two flagged rows matches the gold category.
    assert s.category_hits == 1
    assert s.category_agreement == pytest.approx(0.5)
    assert cats["self_harm"].recall == 0.0
    o = cats["other_person"]
    assert (o.positives, o.negatives, o.false_positives) == (0, 2, 1)
    assert o.recall is None
    assert o.fpr == pytest.approx(0.5)


def test_confusion_and_tier_agreement(report: EvalReport) -> None:
    assert report.tier_rows == 6  # binary labels are not in the matrix
    assert report.confusion[Tier.HIGH][Tier.HIGH] == 1
    assert report.confusion[Tier.IMMINENT][Tier.LOW] == 1
    assert report.confusion[Tier.MODERATE][Tier.CONCERN] == 1
    assert report.confusion[Tier.CONCERN][Tier.LOW] == 1
    assert sum(sum(row.values()) for row in report.confusion.values()) == 6
    assert report.tier_exact == 3  # r1, r4, r10
    assert report.tier_within_one == 4  # + r5
    assert report.tier_exact_agreement == pytest.approx(0.5)
    assert report.tier_within_one_agreement == pytest.approx(4 / 6)
    assert report.under_triaged == 2  # r2, r3


def test_error_rows(report: EvalReport) -> None:
    kinds = {e.result.id: e.kinds for e in report.errors}
    assert kinds == {
        "r2": ("under_triage",),
        "r3": ("false_negative", "under_triage"),
        "r5": ("false_positive",),
        "r7": ("false_negative",),
        "r8": ("false_positive",),
    }
    assert [e.result.id for e in report.errors_of("false_negative")] == ["r3", "r7"]
    r7 = next(e for e in report.errors if e.result.id == "r7").result
    assert r7.rule_ids == ()
    assert r7.cancelled_rule_ids == ("rule.negated",)
    r8 = next(e for e in report.errors if e.result.id == "r8").result
    assert r8.rule_ids == ("rule.r8",)
    assert r8.predicted is Tier.HIGH


def test_threshold_moves_both_gold_and_prediction() -> None:
    guard, rows = _guard_and_rows()
    rep = evaluate(guard, rows, threshold=Tier.MODERATE)
    # gold crisis now: high, imminent, moderate, crisis x2. flagged: risk >= moderate.
    assert (rep.true_positives, rep.false_negatives, rep.false_positives, rep.true_negatives) == (2, 3, 1, 4)
    assert rep.recall == pytest.approx(2 / 5)
    assert rep.false_positive_rate == pytest.approx(1 / 5)
    low = next(s for s in rep.per_label if s.label == "low")
    assert low.crisis is False


def test_history_is_passed_only_when_present() -> None:
    guard = FakeGuard({"Where do I buy pesticides?": (Tier.HIGH, ("means_seeking",), ("r",), ())})
    rows = [
        LabelledRow(text="Where do I buy pesticides?", label="high", id="a",
                    history=(("user", "I want to hurt myself"), ("assistant", "I'm here."))),
        LabelledRow(text="hello", label="none", id="b"),
    ]
    rep = evaluate(guard, rows)
    assert guard.calls[0] == ("Where do I buy pesticides?",
                              [{"role": "user", "content": "I want to hurt myself"},
                               {"role": "assistant", "content": "I'm here."}])
    assert guard.calls[1] == ("hello", None)
    assert rep.recall == 1.0
    assert rep.false_positive_rate == 0.0


def test_empty_denominators_are_none() -> None:
    guard = FakeGuard({})
    rep = evaluate(guard, [LabelledRow(text="hi", label="no_crisis", id="x")])
    assert rep.recall is None
    assert rep.precision is None
    assert rep.false_positive_rate == 0.0
    assert rep.tier_exact_agreement is None
    md = rep.to_markdown()
    assert "n/a" in md
    assert "Confusion matrix" not in md


def test_guard_failure_names_the_row(tmp_path: Path) -> None:
    class Boom:
        def check_input(self, text: str, *, history: list[dict[str, str]] | None = None) -> FakeDecision:
            raise ValueError("nope")

    f = tmp_path / "d.jsonl"
    f.write_text('{"text": "a", "label": "none", "id": "z"}\n', encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"d\.jsonl:1: guard failed on row 'z'"):
        evaluate(Boom(), load_labelled(f))


# ------------------------------------------------------------------------------------------ output


def test_to_dict_is_json_ready(report: EvalReport) -> None:
    data = report.to_dict()
    json.dumps(data)
    assert data["threshold"] == "low"
    assert data["recall"] == pytest.approx(4 / 6)
    assert data["per_label"]["crisis"] == {"crisis": True, "n": 2, "flagged": 1, "rate": 0.5}
    assert data["confusion"]["imminent"]["low"] == 1
    assert data["under_triaged"] == 2
    assert len(data["errors"]) == 5
    err = data["errors"][0]
    assert err["id"] == "r2" and err["gold"] == "imminent" and err["predicted"] == "low"
    assert err["rule_ids"] == ["rule.r2"]
    assert err["text"] == "text r2"
    assert "text" not in report.to_dict(text_chars=0)["errors"][0]
    assert "errors" not in report.to_dict(include_errors=False)


def test_markdown_summary_and_errors(report: EvalReport) -> None:
    md = report.to_markdown()
    assert "66.7% (4/6)" in md  # recall and precision
    assert "50.0% (2/4)" in md  # FPR
    assert "| **imminent** | 0 | 0 | 1 | 0 | 0 | 0 | 1 |" in md
    assert "Errors" not in md  # hidden unless asked
    md = report.to_markdown(show_errors=True)
    assert "### Errors (5)" in md
    assert "| r3 | FN, under-triage | moderate | concern | rule.r3 | text r3 |" in md
    assert "| r7 | FN | crisis | none | - (cancelled: rule.negated) | text r7 |" in md
    short = report.to_markdown(show_errors=True, max_errors=2, text_chars=0)
    assert "... and 3 more." in short
    assert "text r3" not in short


def test_markdown_truncates_and_escapes_text() -> None:
    long_text = "I feel | awful\n" + "x" * 300
    guard = FakeGuard({long_text: (Tier.HIGH, ("suicide",), ("a|b",), ())})
    rep = evaluate(guard, [LabelledRow(text=long_text, label="none", id="long")])
    md = rep.to_markdown(show_errors=True)
    line = next(ln for ln in md.splitlines() if ln.startswith("| long |"))
    assert "a\\|b" in line
    assert "I feel \\| awful x" in line
    cell = line.rsplit(" | ", 1)[1].removesuffix(" |")
    assert cell.endswith("…")
    assert len(cell.replace("\\|", "|")) == 120
    assert len(rep.to_dict()["errors"][0]["text"]) == 120


# ------------------------------------------------------------------------------------------ loading


def _write(tmp_path: Path, lines: list[str], name: str = "gold.jsonl", bom: bool = False) -> Path:
    p = tmp_path / name
    p.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_load_valid_file(tmp_path: Path) -> None:
    hist: list[dict[str, Any]] = [{"role": "user", "content": "I want to hurt myself"},
                                  {"role": "assistant", "content": "Tell me more."}]
    p = _write(tmp_path, [
        json.dumps({"text": "I can't go on", "label": "HIGH", "category": "suicide", "id": "c1"}),
        "",
        json.dumps({"text": "Where do I buy pesticides?", "label": "crisis", "history": hist, "id": 7}),
        json.dumps({"text": "Nice weather", "label": "no-crisis", "note": "extra keys are ignored"}),
    ], bom=True)
    rows = load_labelled(p)
    assert [r.id for r in rows] == ["c1", "7", "line-4"]
    assert [r.label for r in rows] == ["high", "crisis", "no_crisis"]
    assert rows[0].gold_tier is Tier.HIGH and rows[0].category == "suicide"
    assert rows[1].gold_tier is None and rows[1].is_crisis()
    assert rows[1].history_messages() == hist
    assert not rows[2].is_crisis()
    assert rows[2].line == 4 and rows[2].source == str(p)
    assert LabelledRow(text="t", label="low").is_crisis(Tier.LOW)
    assert not LabelledRow(text="t", label="low").is_crisis(Tier.MODERATE)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "hi", "label": "none"', r"gold\.jsonl:2: invalid JSON"),
        ('["hi", "none"]', r"gold\.jsonl:2: each line must be a JSON object"),
        ('{"label": "none"}', r"gold\.jsonl:2: missing 'text'"),
        ('{"text": 5, "label": "none"}', r"gold\.jsonl:2: 'text' must be a string"),
        ('{"text": "  ", "label": "none"}', r"gold\.jsonl:2: 'text' is empty"),
        ('{"text": "hi"}', r"gold\.jsonl:2: missing 'label'"),
        ('{"text": "hi", "label": "severe"}', r"gold\.jsonl:2: bad label 'severe': expected one of: none, "),
        ('{"text": "hi", "label": 3}', r"gold\.jsonl:2: bad label 3"),
        ('{"text": "hi", "label": "low", "history": "x"}', r"gold\.jsonl:2: 'history' must be a list"),
        ('{"text": "hi", "label": "low", "history": [{"role": "user"}]}',
         r"gold\.jsonl:2: history\[0\]\.content must be a string"),
        ('{"text": "hi", "label": "low", "history": [1]}', r"gold\.jsonl:2: history\[0\] must be an object"),
        ('{"text": "hi", "label": "low", "category": ""}', r"gold\.jsonl:2: 'category' must be"),
        ('{"text": "hi", "label": "low", "id": true}', r"gold\.jsonl:2: 'id' must be"),
        ('{"text": "hi", "label": "low", "id": "a"}', r"gold\.jsonl:2: duplicate id 'a' \(first on line 1\)"),
    ],
)
def test_load_bad_rows_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    p = _write(tmp_path, ['{"text": "ok", "label": "none", "id": "a"}', line])
    with pytest.raises(DatasetError, match=message) as info:
        load_labelled(p)
    assert info.value.line == 2
    assert isinstance(info.value, ValueError)


def test_load_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nope\.jsonl: file not found"):
        load_labelled(tmp_path / "nope.jsonl")
    with pytest.raises(DatasetError, match="no rows"):
        load_labelled(_write(tmp_path, ["", "  "]))
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'{"text": "caf\xe9", "label": "none"}\n')
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_labelled(bad)


def test_labelled_row_rejects_unknown_label() -> None:
    with pytest.raises(ValueError, match="not one of"):
        LabelledRow(text="x", label="HIGH")


def test_end_to_end_from_file(tmp_path: Path) -> None:
    p = _write(tmp_path, [
        json.dumps({"text": "bad", "label": "high", "id": "1"}),
        json.dumps({"text": "fine", "label": "none", "id": "2"}),
        json.dumps({"text": "alarm", "label": "none", "id": "3"}),
    ])
    guard = FakeGuard({"bad": (Tier.MODERATE, ("suicide",), ("s",), ()),
                       "alarm": (Tier.LOW, ("distress",), ("d",), ())})
    rep = evaluate(guard, load_labelled(p))
    assert rep.recall == 1.0
    assert rep.false_positive_rate == pytest.approx(0.5)
    assert rep.precision == pytest.approx(0.5)
    assert rep.tier_exact == 1 and rep.tier_within_one == 2
    assert [e.result.id for e in rep.errors] == ["3"]
