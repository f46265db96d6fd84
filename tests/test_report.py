"""mhguard report: counts per period, tier, category and locale, the review queue, and the three outputs."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mhguard.audit import AuditRecord, build_record, open_sink
from mhguard.audit.report import build_report, parse_time, period_key
from mhguard.audit.report_html import render_html
from mhguard.cli import main
from mhguard.types import Action, Decision, Finding, Stage, Tier

EVIL_CATEGORY = '<script>alert("x")</script>'
EVIL_SESSION = '"><img src=x onerror=alert(1)>&amp;'


def at(day: str, hour: int = 12) -> float:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00").timestamp()


def rec(day: str, risk: str, action: str, categories: tuple[str, ...] = (), *, stage: Stage = Stage.INPUT,
        locale: str | None = "en-US", session: str | None = None, stage_label: str | None = None,
        hour: int = 12) -> AuditRecord:
    findings = tuple(Finding("crisis", f"{c}.rule", c, Tier(risk), (0, 4), "xxxx", "why") for c in categories)
    decision = Decision(stage=stage, action=Action(action), risk=Tier(risk), categories=categories,
                        findings=findings, policy="default", locale=locale, session_id=session)
    return build_record(decision, stage=stage_label, epoch=at(day, hour))


def sample() -> list[AuditRecord]:
    return [
        rec("2026-01-05", "none", "allow"),
        rec("2026-01-05", "none", "allow", stage=Stage.OUTPUT),
        rec("2026-01-06", "concern", "allow", ("distress",)),
        rec("2026-01-06", "low", "annotate", ("suicide",), locale="en-GB", session="s1"),
        rec("2026-01-20", "moderate", "escalate", ("self_harm",), session="s2"),
        rec("2026-01-21", "high", "escalate", ("suicide", "means_seeking"), locale="es-MX", session="s3"),
        rec("2026-03-02", "imminent", "escalate", ("suicide",), session="s4", hour=23),
        rec("2026-03-02", "high", "block", ("harm_to_others",), session="s5"),
        rec("2026-03-03", "none", "rewrite", stage_label="stream"),
    ]


def test_counts_follow_the_definitions() -> None:
    report = build_report(sample(), source="mem", period="month")
    t = report.totals
    assert (t.decisions, t.detections, t.suicide_self_harm, t.referrals, t.escalations) == (9, 5, 4, 4, 3)
    assert dict(t.tiers) == {"concern": 1, "low": 1, "moderate": 1, "high": 2, "imminent": 1}
    assert list(report.periods) == ["2026-01", "2026-02", "2026-03"]  # the quiet month is shown as zero
    jan, feb, mar = report.periods.values()
    assert (jan.decisions, jan.detections, jan.referrals, jan.escalations) == (6, 3, 3, 2)
    assert feb.decisions == 0 and not feb.tiers
    assert (mar.detections, mar.suicide_self_harm, mar.referrals) == (2, 1, 1)
    assert dict(report.categories) == {"suicide": 3, "self_harm": 1, "means_seeking": 1, "harm_to_others": 1}
    assert dict(report.locales) == {"en-US": 3, "en-GB": 1, "es-MX": 1}
    assert dict(report.stages) == {"input": 7, "output": 1, "stream": 1}
    queue = report.review_queue
    assert [q["session_id"] for q in queue] == ["s2", "s3", "s5", "s4"]  # oldest first
    assert queue[1]["rule_ids"] == ["suicide.rule", "means_seeking.rule"] and queue[1]["tier"] == "high"
    assert set(queue[0]) == {"record_id", "ts", "epoch", "tier", "action", "categories", "rule_ids", "session_id",
                             "locale"}


def test_threshold_window_and_periods() -> None:
    records = sample()
    high = build_report(records, threshold="high")
    assert (high.totals.detections, high.totals.referrals) == (3, 2)
    window = build_report(records, since=parse_time("2026-01-06"), until=parse_time("2026-01-20", end=True),
                          period="day")
    days = list(window.periods)
    assert window.totals.decisions == 3 and (days[0], days[-1], len(days)) == ("2026-01-06", "2026-01-20", 15)
    assert window.since == "2026-01-06T00:00:00+00:00" and window.until == "2026-01-21T00:00:00+00:00"
    weekly = build_report(records, period="week")
    assert list(weekly.periods)[:3] == ["2026-W02", "2026-W03", "2026-W04"]
    assert period_key(at("2026-12-31"), "week") == "2026-W53" and period_key(at("2027-01-04"), "week") == "2027-W01"
    assert parse_time("2026-03-02T23:30:00") == parse_time("2026-03-02T23:30:00Z")
    with pytest.raises(ValueError):
        parse_time("last tuesday")
    with pytest.raises(ValueError):
        build_report(records, period="year")


def test_text_and_json_outputs() -> None:
    report = build_report(sample(), source="mem")
    text = report.to_text()
    assert "review queue (4)" in text and "2026-02" in text and "s4" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["totals"]["referrals"] == 4 and data["periods"]["2026-03"]["tiers"]["imminent"] == 1
    assert data["definitions"]["detection"] == "input decision with risk >= low"
    control = build_report([rec("2026-01-01", "high", "escalate", ("a\x1b[31mb",), session="x\ny")]).to_text()
    assert "\x1b" not in control and "x\ny" not in control


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        if tag not in ("meta", "br", "img", "link", "input", "line", "rect"):
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_endtag(self, tag: str) -> None:
        if tag in ("line", "rect") and self.open and self.open[-1] != tag:
            return
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_escapes_everything() -> None:
    records = [*sample(), rec("2026-03-04", "high", "escalate", (EVIL_CATEGORY,), session=EVIL_SESSION)]
    page = render_html(build_report(records, source="audit <1>.db"))
    parser = _Structure()
    parser.feed(page)
    parser.close()
    assert not parser.open, parser.open
    assert parser.tags.count("svg") == 2 and parser.tags.count("table") >= 6 and parser.tags.count("rect") >= 8
    assert "script" not in parser.tags and "img" not in parser.tags and "link" not in parser.tags
    assert not any(name.startswith("on") for name, _ in parser.attrs)
    assert "http://" not in page and "https://" not in page
    assert not any(name in ("src", "href") for name, _ in parser.attrs)
    text = "".join(parser.text)
    assert EVIL_CATEGORY in text and EVIL_SESSION in text and "audit <1>.db" in text  # shown, as text
    assert EVIL_CATEGORY not in page and "<img" not in page  # never as markup
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_html_of_an_empty_audit() -> None:
    page = render_html(build_report([], source="empty.jsonl"))
    parser = _Structure()
    parser.feed(page)
    assert "No records in the window." in page and "svg" not in parser.tags


@pytest.mark.parametrize("suffix", ["jsonl", "db"])
def test_cli_report_from_an_audit_file(tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"audit.{suffix}"
    with open_sink(path) as sink:
        for record in sample():
            sink.write(record)
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "detections" in out and "2026-03" in out
    assert main(["report", str(path), "--format", "json", "--period", "day", "--since", "2026-03-01"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["decisions"] == 3 and list(data["periods"]) == ["2026-03-02", "2026-03-03"]
    html_path = tmp_path / "report.html"
    assert main(["report", str(path), "--format", "html", "-o", str(html_path)]) == 0
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert main(["report", str(path), "--since", "soon"]) == 2


def test_cli_report_warns_about_a_torn_line_and_refuses_unknown_files(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    with open_sink(path) as sink:
        sink.write(sample()[3])
    with path.open("ab") as handle:
        handle.write(b'{"record_id": "torn')
    assert main(["report", str(path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["totals"]["detections"] == 1
    assert "torn final line" in captured.err
    assert main(["report", str(tmp_path / "missing.db")]) == 1
    assert main(["report", str(tmp_path / "audit.csv")]) == 1
    assert "must end in one of" in capsys.readouterr().err


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None, reason="no /usr/bin/chromium")
def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    records = [*sample(), rec("2026-03-04", "high", "escalate", (EVIL_CATEGORY,), session=EVIL_SESSION)]
    page = tmp_path / "report.html"
    page.write_text(render_html(build_report(records, source="audit.db")), encoding="utf-8")
    result = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-background-networking", "--dump-dom", page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    dom = result.stdout
    assert "<svg" in dom and "<table" in dom and "Review queue" in dom
    assert "<script>" not in dom and "<img" not in dom
