"""One self-contained HTML page for an :class:`~mhguard.audit.report.AuditReport`: inline CSS and SVG charts,
no scripts, no external resources (a Content-Security-Policy forbids them), every value escaped. It opens
offline and can be attached to an e-mail or archived with the report it documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from mhguard.audit.report import REPORT_TIERS, AuditReport

__all__ = ["render_html"]

_TIER_COLOURS = {"concern": "#9ecae1", "low": "#fdd49e", "moderate": "#fc8d59", "high": "#d7301f",
                 "imminent": "#7f0000"}
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1a1a1a;max-width:72rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
.note{color:#555;font-size:.85rem}svg{display:block;margin:.5rem 0}
.legend span{display:inline-block;margin-right:1rem;font-size:.85rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
code{font-size:.85rem}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric_from: int = 1) -> str:
    if not rows:
        return '<p class="note">None.</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(f'<td class="n">{_e(c)}</td>' if i >= numeric_from and isinstance(c, int)
                        else f"<td>{_e(c)}</td>" for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _tier_chart(report: AuditReport) -> str:
    """Stacked bars: input decisions per tier in each period."""
    periods = list(report.periods.items())
    if not periods:
        return '<p class="note">No records in the window.</p>'
    height, top, bottom, left = 220, 10, 60, 40
    bar = max(6, min(40, 640 // max(1, len(periods))))
    gap = max(2, bar // 4)
    width = left + len(periods) * (bar + gap) + 10
    peak = max(1, *(sum(c.tiers.get(t, 0) for t in REPORT_TIERS) for _, c in periods))
    scale = (height - top - bottom) / peak
    base = height - bottom
    parts = [f'<svg role="img" aria-labelledby="tiers-title" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" font-size="10">',
             '<title id="tiers-title">Input decisions per risk tier over time</title>',
             f'<line x1="{left}" y1="{base}" x2="{width - 5}" y2="{base}" stroke="#888"/>',
             f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>']
    for i, (key, counts) in enumerate(periods):
        x = left + i * (bar + gap) + gap
        y = float(base)
        for tier in REPORT_TIERS:
            n = counts.tiers.get(tier, 0)
            if not n:
                continue
            h = n * scale
            y -= h
            parts.append(f'<rect class="bar" x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" '
                         f'fill="{_TIER_COLOURS[tier]}"><title>{_e(key)}: {n} {_e(tier)}</title></rect>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{base + 8}" transform="rotate(60 {x + bar / 2:.1f} '
                     f'{base + 8})">{_e(key)}</text>')
    parts.append("</svg>")
    legend = "".join(f'<span><i style="background:{c}"></i>{_e(t)}</span>' for t, c in _TIER_COLOURS.items())
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _category_chart(report: AuditReport) -> str:
    """Horizontal bars: detections per category."""
    items = report.categories.most_common(20)
    if not items:
        return '<p class="note">No detections in the window.</p>'
    row, label_w, bar_w = 18, 160, 360
    height = row * len(items) + 10
    peak = max(n for _, n in items)
    parts = [f'<svg role="img" aria-labelledby="cat-title" '
             f'width="{label_w + bar_w + 60}" height="{height}" font-size="11">',
             '<title id="cat-title">Detections per category</title>']
    for i, (category, n) in enumerate(items):
        y = 5 + i * row
        w = max(1.0, bar_w * n / peak)
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{_e(category)}</text>'
                     f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 5}" fill="#6a51a3">'
                     f'<title>{_e(category)}: {n}</title></rect>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 12}">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: AuditReport) -> str:
    """The report as one HTML document (UTF-8)."""
    t = report.totals
    defs = report.to_dict()["definitions"]
    period_rows = [[k, c.decisions, c.detections, c.suicide_self_harm, c.referrals, c.escalations,
                    *(c.tiers.get(tier, 0) for tier in REPORT_TIERS)] for k, c in report.periods.items()]
    queue_rows = [[q["ts"], q["record_id"], q["tier"], q["action"], ", ".join(q["categories"]),
                   ", ".join(q["rule_ids"]), q["session_id"] or "", q["locale"] or ""] for q in report.review_queue]
    window = ""
    if report.since or report.until:
        window = f" Window: since {_e(report.since or '-')} until {_e(report.until or '-')}."
    sections = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>mhguard audit report: {_e(report.source)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>mhguard audit report</h1><p>Audit <code>{_e(report.source)}</code>; records "
        f"{_e(report.first or '-')} to {_e(report.last or '-')}; per {_e(report.period)}; detection threshold "
        f"<strong>{_e(report.threshold)}</strong>.{window}</p>",
        '<p class="note">Built from audit records only: no message text. Counts for crisis-referral reporting '
        "(California SB 243) are the <em>referrals</em> and <em>suicide/self-harm</em> columns; review the "
        "definitions against your policy.</p>",
        "<h2>Totals</h2>",
        _table(["decisions", "detections", "suicide/self-harm detections", "referrals", "escalations", "errors"],
               [[t.decisions, t.detections, t.suicide_self_harm, t.referrals, t.escalations, report.errors]],
               numeric_from=0),
        _table(["term", "definition"], [[k, v] for k, v in defs.items()]),
        "<h2>Risk tiers over time</h2>",
        _tier_chart(report),
        f"<h2>Per {_e(report.period)}</h2>",
        _table([report.period, "decisions", "detections", "suicide/self-harm", "referrals", "escalations",
                *REPORT_TIERS], period_rows),
        "<h2>Detections per category</h2>",
        _category_chart(report),
        _table(["category", "detections"], report.categories.most_common()),
        "<h2>Input decisions per tier</h2>",
        _table(["tier", "count"], [[tier, t.tiers.get(tier, 0)] for tier in REPORT_TIERS]),
        "<h2>Detections per locale</h2>",
        _table(["locale", "detections"], report.locales.most_common()),
        "<h2>Policies</h2>",
        _table(["policy and version", "decisions"], report.policies.most_common()),
        f"<h2>Review queue ({len(report.review_queue)})</h2>",
        '<p class="note">Input decisions that escalated or reached tier high, oldest first.</p>',
        _table(["time (UTC)", "record", "tier", "action", "categories", "rules", "session", "locale"], queue_rows),
    ]
    if report.problems:
        items = "".join(f"<li>{_e(p)}</li>" for p in report.problems)
        sections.append(f"<h2>Problems reading the audit ({len(report.problems)})</h2><ul>{items}</ul>")
    sections.append("</body></html>")
    return "\n".join(sections) + "\n"
