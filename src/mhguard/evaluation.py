"""Evaluate a guard on the operator's own labelled data: the engine of ``mhguard eval FILE``.

The input is JSON Lines, one object per line::

    {"id": "c-17", "text": "I can't go on", "label": "high", "category": "suicide"}
    {"text": "The weather is nice.", "label": "no_crisis",
     "history": [{"role": "user", "content": "I want to hurt myself"},
                 {"role": "assistant", "content": "..."}]}

``label`` is a tier name (``none``, ``concern``, ``low``, ``moderate``, ``high``, ``imminent``) or the binary
``crisis`` / ``no_crisis``. ``history`` (earlier turns), ``category`` (gold category) and ``id`` are optional.

A row counts as a crisis when its gold tier is at or above the threshold (or its label is ``crisis``); the
guard flags a row when ``decision.risk >= threshold``. :func:`evaluate` returns an :class:`EvalReport` with
recall per gold label and per gold category, overall recall / precision / false-positive rate, a confusion
matrix of gold tier x predicted tier, tier agreement, and the rows the guard got wrong.

This module never needs the detector itself: any object with a ``check_input(text, history=...)`` method
returning something with ``.risk``, ``.categories`` and ``.findings`` works (which keeps tests independent of
the lexicons).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mhguard.errors import MhguardError
from mhguard.types import Tier

__all__ = [
    "CRISIS",
    "NO_CRISIS",
    "CategoryStats",
    "DatasetError",
    "ErrorRow",
    "EvalReport",
    "GuardLike",
    "LabelStats",
    "LabelledRow",
    "RowResult",
    "evaluate",
    "load_labelled",
]

CRISIS = "crisis"
NO_CRISIS = "no_crisis"

_LABEL_ALIASES: dict[str, str] = {
    "crisis": CRISIS,
    "no_crisis": NO_CRISIS,
    "no-crisis": NO_CRISIS,
    "nocrisis": NO_CRISIS,
    "non_crisis": NO_CRISIS,
    "non-crisis": NO_CRISIS,
}
_TIER_NAMES: tuple[str, ...] = tuple(t.value for t in Tier)
_VALID_LABELS = ", ".join([*_TIER_NAMES, CRISIS, NO_CRISIS])
_LABEL_ORDER: tuple[str, ...] = (*_TIER_NAMES, CRISIS, NO_CRISIS)

# Error kinds.
FALSE_NEGATIVE = "false_negative"
FALSE_POSITIVE = "false_positive"
UNDER_TRIAGE = "under_triage"


class DatasetError(MhguardError, ValueError):
    """A labelled evaluation file is unreadable or has a bad row. The message starts with ``file:line:``."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.detail = message
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(f"{where}{message}")


# --------------------------------------------------------------------------------------------- protocols


class FindingLike(Protocol):
    @property
    def rule_id(self) -> str: ...

    @property
    def tier(self) -> Tier: ...


class DecisionLike(Protocol):
    @property
    def risk(self) -> Tier: ...

    @property
    def categories(self) -> Sequence[str]: ...

    @property
    def findings(self) -> Sequence[FindingLike]: ...


class GuardLike(Protocol):
    """What :func:`evaluate` needs from a guard (``mhguard.Guard`` satisfies it)."""

    def check_input(self, text: str, *, history: list[dict[str, str]] | None = ...) -> DecisionLike: ...


# --------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True, slots=True)
class LabelledRow:
    """One gold-labelled message. ``label`` is a tier value or ``"crisis"`` / ``"no_crisis"``."""

    text: str
    label: str
    history: tuple[tuple[str, str], ...] = ()
    category: str | None = None
    id: str = ""
    source: str | None = None
    line: int | None = None

    def __post_init__(self) -> None:
        if self.label not in _LABEL_ORDER:
            raise ValueError(f"label {self.label!r} is not one of: {_VALID_LABELS}")

    @property
    def gold_tier(self) -> Tier | None:
        """The gold tier, or ``None`` for a binary (crisis / no_crisis) label."""
        return Tier(self.label) if self.label in _TIER_NAMES else None

    def is_crisis(self, threshold: Tier = Tier.LOW) -> bool:
        """Binary gold label: ``crisis``, or a gold tier at or above ``threshold``."""
        tier = self.gold_tier
        if tier is None:
            return self.label == CRISIS
        return tier >= threshold

    def history_messages(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.history]


def _normalise_label(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    key = raw.strip().lower()
    if key in _TIER_NAMES:
        return key
    return _LABEL_ALIASES.get(key)


def _parse_history(raw: object, where: tuple[str, int]) -> tuple[tuple[str, str], ...]:
    source, line = where
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise DatasetError(f"'history' must be a list of {{role, content}} objects, got {type(raw).__name__}",
                           source=source, line=line)
    turns: list[tuple[str, str]] = []
    for i, turn in enumerate(raw):
        if not isinstance(turn, Mapping):
            raise DatasetError(f"history[{i}] must be an object with 'role' and 'content'",
                               source=source, line=line)
        role = turn.get("role")
        content = turn.get("content")
        if not isinstance(role, str) or not role.strip():
            raise DatasetError(f"history[{i}].role must be a non-empty string", source=source, line=line)
        if not isinstance(content, str):
            raise DatasetError(f"history[{i}].content must be a string", source=source, line=line)
        turns.append((role.strip(), content))
    return tuple(turns)


def _parse_row(obj: object, source: str, line: int) -> LabelledRow:
    if not isinstance(obj, dict):
        raise DatasetError(f"each line must be a JSON object, got {type(obj).__name__}",
                           source=source, line=line)
    text = obj.get("text")
    if not isinstance(text, str):
        if "text" not in obj:
            raise DatasetError("missing 'text'", source=source, line=line)
        raise DatasetError(f"'text' must be a string, got {type(text).__name__}", source=source, line=line)
    if not text.strip():
        raise DatasetError("'text' is empty", source=source, line=line)
    if "label" not in obj:
        raise DatasetError(f"missing 'label' (one of: {_VALID_LABELS})", source=source, line=line)
    label = _normalise_label(obj["label"])
    if label is None:
        raise DatasetError(f"bad label {obj['label']!r}: expected one of: {_VALID_LABELS}",
                           source=source, line=line)
    category = obj.get("category")
    if category is not None and (not isinstance(category, str) or not category.strip()):
        raise DatasetError("'category' must be a non-empty string when given", source=source, line=line)
    raw_id = obj.get("id")
    if raw_id is None:
        row_id = f"line-{line}"
    elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) and str(raw_id).strip():
        row_id = str(raw_id).strip()
    else:
        raise DatasetError("'id' must be a non-empty string or an integer", source=source, line=line)
    return LabelledRow(
        text=text,
        label=label,
        history=_parse_history(obj.get("history"), (source, line)),
        category=category.strip() if isinstance(category, str) else None,
        id=row_id,
        source=source,
        line=line,
    )


def load_labelled(path: str | os.PathLike[str]) -> list[LabelledRow]:
    """Read a JSONL file of labelled rows. Blank lines are skipped; unknown keys are ignored.

    Raises :class:`DatasetError` naming ``file:line`` for a missing file, invalid JSON, a missing or unknown
    label, a non-string text, malformed history, or a duplicate id.
    """
    p = Path(path)
    source = str(path)
    try:
        raw = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError("file not found", source=source) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=source) from None
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror or exc}", source=source) from None

    rows: list[LabelledRow] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"invalid JSON: {exc.msg} (column {exc.colno})", source=source,
                               line=lineno) from None
        row = _parse_row(obj, source, lineno)
        if row.id in seen:
            raise DatasetError(f"duplicate id {row.id!r} (first on line {seen[row.id]})", source=source,
                               line=lineno)
        seen[row.id] = lineno
        rows.append(row)
    if not rows:
        raise DatasetError("no rows (the file is empty)", source=source)
    return rows


# --------------------------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class RowResult:
    """What the guard said about one row."""

    id: str
    label: str
    gold_tier: Tier | None
    gold_crisis: bool
    category: str | None
    predicted: Tier
    flagged: bool
    categories: tuple[str, ...]
    rule_ids: tuple[str, ...]
    cancelled_rule_ids: tuple[str, ...]
    text: str
    source: str | None = None
    line: int | None = None

    @property
    def tier_gap(self) -> int | None:
        """Gold rank minus predicted rank (positive = under-triage), or ``None`` for binary labels."""
        return None if self.gold_tier is None else self.gold_tier.rank - self.predicted.rank


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """A row the guard got wrong. ``kinds`` holds ``false_negative``, ``false_positive``, ``under_triage``."""

    kinds: tuple[str, ...]
    result: RowResult

    def to_dict(self, *, text_chars: int | None = 120) -> dict[str, Any]:
        r = self.result
        data: dict[str, Any] = {
            "id": r.id,
            "kinds": list(self.kinds),
            "gold": r.label,
            "predicted": r.predicted.value,
            "category": r.category,
            "predicted_categories": list(r.categories),
            "rule_ids": list(r.rule_ids),
            "cancelled_rule_ids": list(r.cancelled_rule_ids),
        }
        if r.line is not None:
            data["line"] = r.line
        if text_chars is None or text_chars > 0:
            data["text"] = r.text if text_chars is None else _truncate(r.text, text_chars)
        return data


@dataclass(frozen=True, slots=True)
class LabelStats:
    """Per gold label: how many rows, how many flagged. For crisis labels ``rate`` is recall, else FPR."""

    label: str
    crisis: bool
    n: int
    flagged: int

    @property
    def rate(self) -> float | None:
        return _ratio(self.flagged, self.n)


@dataclass(frozen=True, slots=True)
class CategoryStats:
    """Per gold category: recall on its crisis rows, false-positive rate on its non-crisis rows."""

    category: str
    positives: int
    true_positives: int
    negatives: int
    false_positives: int
    category_hits: int  # flagged crisis rows whose predicted categories include the gold category

    @property
    def recall(self) -> float | None:
        return _ratio(self.true_positives, self.positives)

    @property
    def fpr(self) -> float | None:
        return _ratio(self.false_positives, self.negatives)

    @property
    def category_agreement(self) -> float | None:
        return _ratio(self.category_hits, self.true_positives)


@dataclass(frozen=True)
class EvalReport:
    """Metrics of one evaluation run. ``to_markdown()`` for people, ``to_dict()`` for machines."""

    threshold: Tier
    n: int
    true_positives: int
    false_negatives: int
    false_positives: int
    true_negatives: int
    per_label: tuple[LabelStats, ...]
    per_category: tuple[CategoryStats, ...]
    confusion: dict[Tier, dict[Tier, int]]
    tier_rows: int
    tier_exact: int
    tier_within_one: int
    under_triaged: int
    errors: tuple[ErrorRow, ...]
    results: tuple[RowResult, ...] = field(default=(), repr=False)

    # ---- headline metrics
    @property
    def positives(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def negatives(self) -> int:
        return self.false_positives + self.true_negatives

    @property
    def recall(self) -> float | None:
        return _ratio(self.true_positives, self.positives)

    @property
    def precision(self) -> float | None:
        return _ratio(self.true_positives, self.true_positives + self.false_positives)

    @property
    def false_positive_rate(self) -> float | None:
        return _ratio(self.false_positives, self.negatives)

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None
        return 2 * p * r / (p + r)

    @property
    def accuracy(self) -> float | None:
        return _ratio(self.true_positives + self.true_negatives, self.n)

    @property
    def tier_exact_agreement(self) -> float | None:
        return _ratio(self.tier_exact, self.tier_rows)

    @property
    def tier_within_one_agreement(self) -> float | None:
        return _ratio(self.tier_within_one, self.tier_rows)

    def errors_of(self, kind: str) -> tuple[ErrorRow, ...]:
        return tuple(e for e in self.errors if kind in e.kinds)

    # ---- output
    def to_dict(self, *, include_errors: bool = True, text_chars: int | None = 120) -> dict[str, Any]:
        """JSON-ready dict. ``text_chars`` truncates error-row texts (``None`` = full text, 0 = no text)."""
        data: dict[str, Any] = {
            "threshold": self.threshold.value,
            "n": self.n,
            "positives": self.positives,
            "negatives": self.negatives,
            "true_positives": self.true_positives,
            "false_negatives": self.false_negatives,
            "false_positives": self.false_positives,
            "true_negatives": self.true_negatives,
            "recall": self.recall,
            "precision": self.precision,
            "false_positive_rate": self.false_positive_rate,
            "f1": self.f1,
            "accuracy": self.accuracy,
            "per_label": {
                s.label: {"crisis": s.crisis, "n": s.n, "flagged": s.flagged, "rate": s.rate}
                for s in self.per_label
            },
            "per_category": {
                c.category: {
                    "positives": c.positives,
                    "true_positives": c.true_positives,
                    "recall": c.recall,
                    "negatives": c.negatives,
                    "false_positives": c.false_positives,
                    "fpr": c.fpr,
                    "category_agreement": c.category_agreement,
                }
                for c in self.per_category
            },
            "confusion": {
                gold.value: {pred.value: count for pred, count in row.items()}
                for gold, row in self.confusion.items()
            },
            "tier_rows": self.tier_rows,
            "tier_exact": self.tier_exact,
            "tier_within_one": self.tier_within_one,
            "tier_exact_agreement": self.tier_exact_agreement,
            "tier_within_one_agreement": self.tier_within_one_agreement,
            "under_triaged": self.under_triaged,
            "error_count": len(self.errors),
        }
        if include_errors:
            data["errors"] = [e.to_dict(text_chars=text_chars) for e in self.errors]
        return data

    def to_markdown(self, show_errors: bool = False, *, max_errors: int | None = None,
                    text_chars: int = 120) -> str:
        """A markdown report. ``show_errors`` adds the error rows (text cut to ``text_chars``; 0 hides it)."""
        t = self.threshold.value
        out: list[str] = [
            "## mhguard evaluation",
            "",
            f"{self.n} rows; a row counts as flagged when risk >= `{t}`, and as a crisis when its gold label "
            f"is `crisis` or a tier >= `{t}`.",
            "",
            "| metric | value |",
            "|---|---|",
            f"| recall (crisis rows flagged) | {_fmt_frac(self.true_positives, self.positives)} |",
            f"| precision | {_fmt_frac(self.true_positives, self.true_positives + self.false_positives)} |",
            f"| false-positive rate | {_fmt_frac(self.false_positives, self.negatives)} |",
            f"| F1 | {_fmt_num(self.f1)} |",
            f"| TP / FN / FP / TN | {self.true_positives} / {self.false_negatives} / "
            f"{self.false_positives} / {self.true_negatives} |",
        ]
        if self.tier_rows:
            out += [
                f"| tier exact agreement | {_fmt_frac(self.tier_exact, self.tier_rows)} |",
                f"| tier within one | {_fmt_frac(self.tier_within_one, self.tier_rows)} |",
                f"| under-triaged by 2+ tiers | {_fmt_frac(self.under_triaged, self.tier_rows)} |",
            ]
        out += ["", "### By gold label", "",
                "| gold label | crisis | rows | flagged | rate |", "|---|---|---|---|---|"]
        for s in self.per_label:
            kind = "recall" if s.crisis else "FPR"
            out.append(f"| {s.label} | {'yes' if s.crisis else 'no'} | {s.n} | {s.flagged} | "
                       f"{_fmt_pct(s.rate)} {kind} |")
        if self.per_category:
            out += ["", "### By gold category", "",
                    "| category | crisis rows | recall | category matched | non-crisis rows | FPR |",
                    "|---|---|---|---|---|---|"]
            for c in self.per_category:
                out.append(f"| {_md_cell(c.category)} | {c.positives} | "
                           f"{_fmt_frac(c.true_positives, c.positives)} | "
                           f"{_fmt_frac(c.category_hits, c.true_positives)} | {c.negatives} | "
                           f"{_fmt_frac(c.false_positives, c.negatives)} |")
        if self.tier_rows:
            tiers = list(Tier)
            out += ["", "### Confusion matrix (rows: gold tier, columns: predicted tier)", "",
                    "| gold \\ predicted | " + " | ".join(x.value for x in tiers) + " | total |",
                    "|---|" + "---|" * (len(tiers) + 1)]
            for gold in tiers:
                row = self.confusion.get(gold, {})
                total = sum(row.values())
                if not total:
                    continue
                out.append(f"| **{gold.value}** | " + " | ".join(str(row.get(p, 0)) for p in tiers)
                           + f" | {total} |")
        if show_errors:
            shown = self.errors if max_errors is None else self.errors[:max_errors]
            out += ["", f"### Errors ({len(self.errors)})", ""]
            if not self.errors:
                out.append("None.")
            else:
                header = "| id | kind | gold | predicted | rule ids |"
                sep = "|---|---|---|---|---|"
                if text_chars > 0:
                    header += " text |"
                    sep += "---|"
                out += [header, sep]
                for e in shown:
                    r = e.result
                    rules = ", ".join(r.rule_ids) or "-"
                    if r.cancelled_rule_ids:
                        rules += " (cancelled: " + ", ".join(r.cancelled_rule_ids) + ")"
                    kinds = ", ".join(_KIND_LABEL[k] for k in e.kinds)
                    line = (f"| {_md_cell(r.id)} | {kinds} | {r.label} | "
                            f"{r.predicted.value} | {_md_cell(rules)} |")
                    if text_chars > 0:
                        line += f" {_md_cell(_truncate(r.text, text_chars))} |"
                    out.append(line)
                if len(shown) < len(self.errors):
                    out += ["", f"... and {len(self.errors) - len(shown)} more."]
        return "\n".join(out) + "\n"


_KIND_LABEL = {FALSE_NEGATIVE: "FN", FALSE_POSITIVE: "FP", UNDER_TRIAGE: "under-triage"}


# --------------------------------------------------------------------------------------------- evaluate


def _rule_ids(findings: Iterable[FindingLike]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    active: list[str] = []
    cancelled: list[str] = []
    for f in findings:
        rid = str(f.rule_id)
        bucket = cancelled if getattr(f, "tier", None) == Tier.NONE else active
        if rid not in bucket:
            bucket.append(rid)
    return tuple(active), tuple(c for c in cancelled if c not in active)


def _check(guard: GuardLike, row: LabelledRow) -> DecisionLike:
    try:
        if row.history:
            return guard.check_input(row.text, history=row.history_messages())
        return guard.check_input(row.text)
    except Exception as exc:
        where = f"{row.source}:{row.line}: " if row.source and row.line is not None else ""
        raise RuntimeError(f"{where}guard failed on row {row.id!r}: {type(exc).__name__}: {exc}") from exc


def evaluate(guard: GuardLike, rows: Iterable[LabelledRow], *, threshold: Tier = Tier.LOW) -> EvalReport:
    """Run ``guard.check_input`` on every row and compute the metrics of :class:`EvalReport`.

    A row is flagged when ``risk >= threshold``. It is a crisis when its label is ``crisis`` or a tier
    ``>= threshold``. Error rows are false negatives, false positives, and tier-labelled rows whose
    prediction is 2 or more tiers below the gold tier (under-triage; they may also be false negatives).
    """
    threshold = Tier(threshold)
    results: list[RowResult] = []
    for row in rows:
        decision = _check(guard, row)
        predicted = Tier(decision.risk)
        active, cancelled = _rule_ids(decision.findings)
        results.append(RowResult(
            id=row.id,
            label=row.label,
            gold_tier=row.gold_tier,
            gold_crisis=row.is_crisis(threshold),
            category=row.category,
            predicted=predicted,
            flagged=predicted >= threshold,
            categories=tuple(str(c) for c in decision.categories),
            rule_ids=active,
            cancelled_rule_ids=cancelled,
            text=row.text,
            source=row.source,
            line=row.line,
        ))
    return _report(results, threshold)


def _report(results: Sequence[RowResult], threshold: Tier) -> EvalReport:
    tp = sum(1 for r in results if r.gold_crisis and r.flagged)
    fn = sum(1 for r in results if r.gold_crisis and not r.flagged)
    fp = sum(1 for r in results if not r.gold_crisis and r.flagged)
    tn = sum(1 for r in results if not r.gold_crisis and not r.flagged)

    label_counts: dict[str, list[int]] = {}
    for r in results:
        counts = label_counts.setdefault(r.label, [0, 0])
        counts[0] += 1
        counts[1] += int(r.flagged)
    per_label = tuple(
        LabelStats(label=lab, crisis=_label_is_crisis(lab, threshold), n=label_counts[lab][0],
                   flagged=label_counts[lab][1])
        for lab in _LABEL_ORDER if lab in label_counts
    )

    cat_counts: dict[str, list[int]] = {}
    for r in results:
        if r.category is None:
            continue
        c = cat_counts.setdefault(r.category, [0, 0, 0, 0, 0])
        if r.gold_crisis:
            c[0] += 1
            if r.flagged:
                c[1] += 1
                c[4] += int(r.category in r.categories)
        else:
            c[2] += 1
            c[3] += int(r.flagged)
    per_category = tuple(
        CategoryStats(category=name, positives=c[0], true_positives=c[1], negatives=c[2],
                      false_positives=c[3], category_hits=c[4])
        for name, c in sorted(cat_counts.items())
    )

    confusion: dict[Tier, dict[Tier, int]] = {g: {p: 0 for p in Tier} for g in Tier}
    tier_rows = exact = within = under = 0
    errors: list[ErrorRow] = []
    for r in results:
        kinds: list[str] = []
        if r.gold_crisis and not r.flagged:
            kinds.append(FALSE_NEGATIVE)
        if not r.gold_crisis and r.flagged:
            kinds.append(FALSE_POSITIVE)
        gap = r.tier_gap
        if r.gold_tier is not None and gap is not None:
            confusion[r.gold_tier][r.predicted] += 1
            tier_rows += 1
            exact += int(gap == 0)
            within += int(abs(gap) <= 1)
            if gap >= 2:
                under += 1
                kinds.append(UNDER_TRIAGE)
        if kinds:
            errors.append(ErrorRow(kinds=tuple(kinds), result=r))

    return EvalReport(
        threshold=threshold,
        n=len(results),
        true_positives=tp,
        false_negatives=fn,
        false_positives=fp,
        true_negatives=tn,
        per_label=per_label,
        per_category=per_category,
        confusion=confusion,
        tier_rows=tier_rows,
        tier_exact=exact,
        tier_within_one=within,
        under_triaged=under,
        errors=tuple(errors),
        results=tuple(results),
    )


# --------------------------------------------------------------------------------------------- helpers


def _label_is_crisis(label: str, threshold: Tier) -> bool:
    if label in _TIER_NAMES:
        return Tier(label) >= threshold
    return label == CRISIS


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _fmt_num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _fmt_frac(num: int, den: int) -> str:
    return f"{_fmt_pct(_ratio(num, den))} ({num}/{den})" if den else "n/a (0 rows)"


def _truncate(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[: max(0, limit - 1)].rstrip() + "…"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
