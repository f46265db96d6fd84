"""Counts for oversight and for reports such as California SB 243's: crisis detections, suicidal-ideation and
self-harm detections, and crisis referrals per period, tier, category and locale, plus a review queue of
escalations. Built from audit records only, so it never sees message text.

Definitions (also in docs/audit.md):

* a *detection* is an input decision whose risk is at or above ``threshold`` (default ``low``);
* a *suicide/self-harm detection* is a detection with category ``suicide`` or ``self_harm``;
* a *referral* is a detection whose action showed the policy's crisis response (``escalate``) or added
  resources to the reply (``annotate``);
* the *review queue* lists input decisions that escalated or reached ``high``, oldest first.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mhguard.audit.records import AuditRecord
from mhguard.types import Tier

__all__ = ["PERIODS", "REPORT_TIERS", "AuditReport", "build_report", "parse_time", "period_key"]

PERIODS = ("day", "week", "month")
#: Tiers shown in per-tier counts and charts (``none`` is every ordinary message).
REPORT_TIERS = tuple(t.value for t in Tier if t is not Tier.NONE)
SUICIDE_CATEGORIES = frozenset({"suicide", "self_harm"})
REFERRAL_ACTIONS = frozenset({"escalate", "annotate"})
_MAX_FILLED_PERIODS = 1000


def parse_time(value: str, *, end: bool = False) -> float:
    """Epoch seconds from an ISO date or date-time (naive means UTC). A date given as an ``end`` bound
    includes that whole day."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
            if end:
                moment += dt.timedelta(days=1)
            return moment.timestamp()
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO date or date-time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


def period_key(epoch: float, period: str) -> str:
    """``2026-12-07`` (day), ``2026-W49`` (ISO week) or ``2026-12`` (month), in UTC."""
    moment = dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc)
    if period == "day":
        return moment.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return moment.strftime("%Y-%m")
    raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")


def _next_period(key: str, period: str) -> str:
    if period == "day":
        return (dt.date.fromisoformat(key) + dt.timedelta(days=1)).isoformat()
    if period == "week":
        monday = dt.date.fromisocalendar(int(key[:4]), int(key[6:]), 1) + dt.timedelta(days=7)
        year, week, _ = monday.isocalendar()
        return f"{year}-W{week:02d}"
    year, month = int(key[:4]), int(key[5:7])
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def _fill(keys: list[str], period: str) -> list[str]:
    """Every period from the first to the last seen, so charts show quiet periods as zero."""
    if not keys:
        return []
    out = [keys[0]]
    while out[-1] < keys[-1] and len(out) < _MAX_FILLED_PERIODS:
        out.append(_next_period(out[-1], period))
    return sorted(set(out) | set(keys))


@dataclass
class PeriodCounts:
    decisions: int = 0
    detections: int = 0
    suicide_self_harm: int = 0
    referrals: int = 0
    escalations: int = 0
    tiers: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"decisions": self.decisions, "detections": self.detections,
                "suicide_self_harm": self.suicide_self_harm, "referrals": self.referrals,
                "escalations": self.escalations, "tiers": {t: self.tiers.get(t, 0) for t in REPORT_TIERS}}


@dataclass
class AuditReport:
    """What ``mhguard report`` prints; ``to_dict()`` is the JSON form."""

    source: str
    period: str
    threshold: str
    since: str | None
    until: str | None
    totals: PeriodCounts = field(default_factory=PeriodCounts)
    stages: Counter[str] = field(default_factory=Counter)
    periods: dict[str, PeriodCounts] = field(default_factory=dict)
    categories: Counter[str] = field(default_factory=Counter)
    locales: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    first: str | None = None
    last: str | None = None
    review_queue: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    policies: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "period": self.period,
            "threshold": self.threshold,
            "since": self.since,
            "until": self.until,
            "first_record": self.first,
            "last_record": self.last,
            "definitions": {
                "detection": f"input decision with risk >= {self.threshold}",
                "suicide_self_harm": "detection with category suicide or self_harm",
                "referral": "detection whose action was escalate (crisis response) or annotate (resources added)",
                "escalation": "input decision with action escalate",
            },
            "totals": {**self.totals.to_dict(), "errors": self.errors, "stages": dict(sorted(self.stages.items()))},
            "periods": {key: counts.to_dict() for key, counts in self.periods.items()},
            "categories": dict(self.categories.most_common()),
            "locales": dict(self.locales.most_common()),
            "policies": dict(self.policies.most_common()),
            "review_queue": self.review_queue,
            "problems": self.problems,
        }

    def to_text(self) -> str:
        lines = [f"mhguard audit report: {self.source}",
                 f"records {self.first or '-'} .. {self.last or '-'}; period {self.period}; "
                 f"detection threshold {self.threshold}"]
        if self.since or self.until:
            lines.append(f"window: since {self.since or '-'} until {self.until or '-'}")
        t = self.totals
        lines += ["", "totals",
                  *_table(["decisions", "detections", "suicide/self-harm", "referrals", "escalations", "errors"],
                          [[t.decisions, t.detections, t.suicide_self_harm, t.referrals, t.escalations, self.errors]])]
        lines += ["", f"per {self.period}",
                  *_table([self.period, "decisions", "detections", "suicide/self-harm", "referrals", "escalations",
                           *REPORT_TIERS],
                          [[k, c.decisions, c.detections, c.suicide_self_harm, c.referrals, c.escalations,
                            *(c.tiers.get(tier, 0) for tier in REPORT_TIERS)] for k, c in self.periods.items()])]
        lines += ["", "input decisions per tier",
                  *_table(["tier", "count"], [[tier, t.tiers.get(tier, 0)] for tier in REPORT_TIERS])]
        lines += ["", "detections per category",
                  *_table(["category", "detections"], [[k, v] for k, v in self.categories.most_common()])]
        lines += ["", "detections per locale",
                  *_table(["locale", "detections"], [[k, v] for k, v in self.locales.most_common()])]
        lines += ["", f"review queue ({len(self.review_queue)})",
                  *_table(["time", "record", "tier", "action", "categories", "rules", "session"],
                          [[q["ts"], q["record_id"], q["tier"], q["action"], ",".join(q["categories"]),
                            ",".join(q["rule_ids"]), q["session_id"] or "-"] for q in self.review_queue])]
        if self.problems:
            lines += ["", f"problems ({len(self.problems)})", *(f"  {p}" for p in self.problems)]
        return "\n".join(lines) + "\n"


def _clean(value: object) -> str:
    # Control characters in a stored string must not drive the terminal.
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in str(value))


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return ["  (none)"]
    cells = [[_clean(c) for c in header], *([_clean(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).isoformat(timespec="seconds")


def build_report(records: Iterable[AuditRecord], *, source: str = "", period: str = "month",
                 since: float | None = None, until: float | None = None, threshold: Tier | str = Tier.LOW,
                 problems: Iterable[str] = ()) -> AuditReport:
    """Aggregate records (in any order) whose time is in ``[since, until)``."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    floor = Tier(threshold)
    report = AuditReport(source=source, period=period, threshold=floor.value,
                         since=_iso(since) if since is not None else None,
                         until=_iso(until) if until is not None else None, problems=list(problems))
    first = last = None
    for rec in records:
        if (since is not None and rec.epoch < since) or (until is not None and rec.epoch >= until):
            continue
        first = rec.epoch if first is None else min(first, rec.epoch)
        last = rec.epoch if last is None else max(last, rec.epoch)
        key = period_key(rec.epoch, period)
        bucket = report.periods.setdefault(key, PeriodCounts())
        report.stages[rec.stage] += 1
        report.policies[f"{rec.policy} {rec.policy_version}".strip()] += 1
        if rec.status == "error":
            report.errors += 1
        for counts in (report.totals, bucket):
            counts.decisions += 1
        if rec.stage != "input":
            continue
        try:
            tier = Tier(rec.risk)
        except ValueError:
            report.problems.append(f"record {rec.record_id}: unknown risk tier {rec.risk!r}")
            continue
        if tier is not Tier.NONE:
            report.totals.tiers[tier.value] += 1
            bucket.tiers[tier.value] += 1
        if tier >= floor and tier is not Tier.NONE:
            suicide = bool(SUICIDE_CATEGORIES & set(rec.categories))
            referral = rec.action in REFERRAL_ACTIONS
            for counts in (report.totals, bucket):
                counts.detections += 1
                counts.suicide_self_harm += suicide
                counts.referrals += referral
            report.categories.update(set(rec.categories))
            report.locales[rec.locale or "unknown"] += 1
        if rec.action == "escalate":
            report.totals.escalations += 1
            bucket.escalations += 1
        if rec.action == "escalate" or tier >= Tier.HIGH:
            report.review_queue.append({
                "record_id": rec.record_id, "ts": rec.ts, "epoch": rec.epoch, "tier": tier.value,
                "action": rec.action, "categories": list(rec.categories), "rule_ids": list(rec.rule_ids),
                "session_id": rec.session_id, "locale": rec.locale,
            })
    keys = _fill(sorted(report.periods), period)
    report.periods = {k: report.periods.get(k, PeriodCounts()) for k in keys}
    report.review_queue.sort(key=lambda q: (q["epoch"], q["record_id"]))
    report.first = _iso(first) if first is not None else None
    report.last = _iso(last) if last is not None else None
    return report
