"""Batch screening (``mhguard scan``): row format, records, summary, process pool, resume, audit."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import keyword_policy
from mhguard import Guard
from mhguard.cli import main
from mhguard.messages import content_text
from mhguard.scan import ScanCounts, screen_record
from mhguard.scan_progress import LineProgress, open_progress
from mhguard.scan_runner import ScanError, ScanOptions, run_scan, summarize_file, summary_path
from mhguard.types import Action, Decision, Stage, Tier

SECRET = "zebracorn"  # a word that must never reach an output without --include-text


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard.from_policy(keyword_policy())


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(keyword_policy()), encoding="utf-8")
    return path


def _rows(n: int) -> list[dict[str, Any]]:
    """Varied rows: single user and assistant messages and conversations, some with risk."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append({"id": f"r{i}", "text": f"I want to kill myself {SECRET} {i}"})
        elif kind == 1:
            out.append({"id": f"r{i}", "text": f"He committed suicide {SECRET}", "role": "assistant",
                        "user_text": "what happened?"})
        elif kind == 2:
            out.append({"id": f"r{i}", "messages": [
                {"role": "system", "content": "be kind"},
                {"role": "user", "content": f"hello {SECRET}"},
                {"role": "assistant", "content": "He committed suicide."},
                {"role": "user", "content": "i wish i was dead"}]})
        else:
            out.append({"text": f"an ordinary day {i}", "locale": "en-GB"})
    return out


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---- screen_record ---------------------------------------------------------------------------------------
def test_single_message_record_has_no_text_by_default(guard: Guard) -> None:
    [record] = screen_record(guard, {"id": "x", "text": f"I want to kill myself {SECRET}"}, line=3)
    assert record["line"] == 3 and record["id"] == "x" and record["turn"] is None
    assert (record["stage"], record["role"], record["status"]) == ("input", "user", "ok")
    assert (record["action"], record["risk"], record["allowed"]) == ("escalate", "high", False)
    assert record["categories"] == ["suicide"] and record["rule_ids"] == ["t.high"]
    assert (record["record_index"], record["row_records"]) == (0, 1)
    assert SECRET not in json.dumps(record) and "kill myself" not in json.dumps(record)
    assert "text" not in record and "response" not in record

    [with_text] = screen_record(guard, {"text": f"I want to kill myself {SECRET}"}, include_text=True)
    assert with_text["text"].endswith(SECRET) and with_text["response"] == "CRISIS RESPONSE"
    assert with_text["findings"][0]["matched"] == "kill myself"


def test_json_line_and_bytes_rows(guard: Guard) -> None:
    line = json.dumps({"id": 7, "text": "I wish I was dead"})
    for row in (line, line.encode("utf-8"), "\ufeff" + line):
        [record] = screen_record(guard, row)
        assert record["id"] == 7 and record["risk"] == "low" and record["action"] == "annotate"


class _RecordingGuard:
    """Records how each turn was checked, to pin the history and user_text a conversation turn gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any, Any]] = []
        self.policy = Guard.from_policy(keyword_policy()).policy

    def check_input(self, text: str, *, history: Any = None, locale: Any = None, session: Any = None) -> Decision:
        self.calls.append(("input", text, [content_text(m["content"]) for m in history or ()], None))
        return Decision(stage=Stage.INPUT, action=Action.ALLOW, risk=Tier.NONE)

    def check_output(self, text: str, *, user_text: Any = None, history: Any = None, locale: Any = None,
                     session: Any = None) -> Decision:
        self.calls.append(("output", text, [content_text(m["content"]) for m in history or ()], user_text))
        return Decision(stage=Stage.OUTPUT, action=Action.ALLOW, risk=Tier.NONE)


def test_conversation_turns_get_their_context() -> None:
    fake = _RecordingGuard()
    messages = [{"role": "assistant", "content": "A0"}, {"role": "system", "content": "S1"},
                {"role": "user", "content": "U2"}, {"role": "assistant", "content": "A3"},
                {"role": "assistant", "content": [{"type": "text", "text": "A4"}]},
                {"role": "tool", "content": "T5"}, {"role": "user", "content": "U6"}]
    records = screen_record(fake, {"id": "c", "messages": messages})  # type: ignore[arg-type]
    assert fake.calls == [
        ("output", "A0", [], None),
        ("input", "U2", ["A0", "S1"], None),
        ("output", "A3", ["A0", "S1"], "U2"),
        ("output", "A4", ["A0", "S1", "A3"], "U2"),
        ("input", "U6", ["A0", "S1", "U2", "A3", "A4", "T5"], None),
    ]
    assert [r["turn"] for r in records] == [0, 2, 3, 4, 6]
    assert [r["stage"] for r in records] == ["output", "input", "output", "output", "input"]
    assert [r["record_index"] for r in records] == [0, 1, 2, 3, 4]
    assert {r["row_records"] for r in records} == {5}


@pytest.mark.parametrize("row, message", [
    ("{broken", "not JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    ("[1, 2]", "JSON object"),
    ({"id": 1}, "exactly one of"),
    ({"text": "a", "messages": []}, "exactly one of"),
    ({"text": 3}, "'text' must be a string"),
    ({"text": "a", "role": "bot"}, "'role' must be"),
    ({"text": "a", "user_text": "b"}, "only for rows with role 'assistant'"),
    ({"id": 1.5, "text": "a"}, "'id' must be"),
    ({"text": "a", "locale": 5}, "'locale' must be a string"),
    ({"text": "a", "session": ""}, "session"),
    ({"messages": []}, "empty"),
    ({"messages": "hi"}, "must be a list"),
    ({"messages": [{"role": "system", "content": "x"}]}, "no user or assistant turn"),
    ({"messages": [{"role": "human", "content": "I want to kill myself"}]}, "unknown role 'human'"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0]"),
    ({"messages": ["hi"]}, "messages[0] must be an object"),
    ({"messages": [{"role": "user", "content": "x"}], "history": []}, "belong to single-message rows"),
])
def test_invalid_rows_give_one_error_record(guard: Guard, row: object, message: str) -> None:
    [record] = screen_record(guard, row, line=9)
    assert record["status"] == "error" and record["line"] == 9, record
    assert message in record["error"], record["error"]
    assert record["action"] is None and record["stage"] is None and record["row_records"] == 1
    counts = ScanCounts().add_all([record])
    assert (counts.rows, counts.row_errors, counts.messages, counts.errors) == (1, 1, 0, 1)


def test_a_failing_turn_is_reported_and_the_others_still_screened() -> None:
    guard = Guard.from_policy(keyword_policy(limits={"max_chars": 40}))
    row = {"id": "c", "messages": [{"role": "user", "content": "x" * 41},
                                   {"role": "user", "content": "I want to kill myself"}]}
    first, second = screen_record(guard, row)
    assert first["status"] == "error" and first["error_type"] == "InputTooLargeError"
    assert first["turn"] == 0 and first["stage"] == "input" and first["action"] is None
    assert second["status"] == "ok" and second["action"] == "escalate"
    counts = ScanCounts().add_all([first, second])
    assert (counts.message_errors, counts.row_errors, counts.messages, counts.rows) == (1, 0, 1, 1)


def test_session_lives_for_one_row(guard: Guard) -> None:
    row = {"id": "s", "session": "user-1", "messages": [{"role": "user", "content": "hi"},
                                                        {"role": "assistant", "content": "hello"}]}
    records = screen_record(guard, row)
    assert {r["session"] for r in records} == {"user-1"}
    assert "user-1" not in guard.sessions  # nothing carried over to the next row
    assert screen_record(guard, row) == records


def test_counts_merge_equals_counting_everything(guard: Guard) -> None:
    records = [r for i, row in enumerate([*_rows(12), "{bad"]) for r in screen_record(guard, row, line=i + 1)]
    whole = ScanCounts().add_all(records)
    halves = ScanCounts().add_all(records[:7]).merge(ScanCounts().add_all(records[7:]))
    assert whole.to_dict() == halves.to_dict()
    data = whole.to_dict()
    assert data["rows"] == 13 and data["errors"]["invalid_rows"] == 1
    assert data["stages"]["input"]["by_risk"]["high"] == 3
    assert data["stages"]["output"]["by_action"]["rewrite"] == 6


# ---- the command ----------------------------------------------------------------------------------------
def test_cli_scan_writes_records_and_summary(tmp_path: Path, policy_file: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    src = _write_jsonl(tmp_path / "t.jsonl", [*_rows(8), "", "{broken"])
    out = tmp_path / "d.jsonl"
    assert main(["scan", str(src), "-o", str(out), "--policy", str(policy_file), "--workers", "1"]) == 1
    printed = capsys.readouterr().out
    assert "1 invalid rows" in printed and "input by risk" in printed
    records = _records(out)
    assert sorted({r["line"] for r in records}) == [*range(1, 9), 10]  # the blank line 9 is skipped
    assert SECRET not in out.read_text(encoding="utf-8")
    summary = json.loads(summary_path(out).read_text(encoding="utf-8"))
    assert summary_path(out).name == "d.summary.json"
    assert summary["rows"] == 9 and summary["errors"]["invalid_rows"] == 1
    assert summary["messages"] == 2 + 2 + 2 * 3 + 2
    assert summary["run"]["messages"] == summary["messages"] and summary["run"]["workers"] == 1
    assert summary["run"]["messages_per_second"] > 0
    assert summary == {**summary, **summarize_file(out).to_dict()}

    ok = _write_jsonl(tmp_path / "ok.jsonl", _rows(3))
    assert main(["scan", str(ok), "-o", str(tmp_path / "ok-out.jsonl"), "--policy", str(policy_file),
                 "--workers", "1", "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_cli_scan_include_text_and_json_summary(tmp_path: Path, policy_file: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    src = _write_jsonl(tmp_path / "t.jsonl", _rows(2))
    out = tmp_path / "d.jsonl"
    assert main(["scan", str(src), "-o", str(out), "--policy", str(policy_file), "--workers", "1",
                 "--include-text", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["messages"] == 2
    assert SECRET in out.read_text(encoding="utf-8")
    # Resuming a with-text output without --include-text would mix the two: refused.
    assert main(["scan", str(src), "-o", str(out), "--policy", str(policy_file), "--workers", "1"]) == 1
    assert "--include-text" in capsys.readouterr().err


def test_cli_scan_errors(tmp_path: Path, policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write_jsonl(tmp_path / "t.jsonl", _rows(2))
    assert main(["scan", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl")]) == 1
    assert "input not found" in capsys.readouterr().err
    assert main(["scan", str(src), "-o", str(src)]) == 1
    assert "must not be the input" in capsys.readouterr().err
    for workers in ("1", "2"):
        assert main(["scan", str(src), "-o", str(tmp_path / f"o{workers}.jsonl"), "--policy",
                     str(tmp_path / "nope.yaml"), "--workers", workers]) == 1
        assert "cannot load policy" in capsys.readouterr().err
    assert main(["scan", str(src), "-o", str(tmp_path / "o.jsonl"), "--audit", str(tmp_path / "a.txt")]) == 1
    assert ".jsonl" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["scan", str(src)])  # -o is required


def test_pool_gives_the_same_output_as_one_process(tmp_path: Path, policy_file: Path) -> None:
    src = _write_jsonl(tmp_path / "t.jsonl", [*_rows(41), "{bad"])
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    run_scan(ScanOptions(src, one, policy=str(policy_file), workers=1, progress="never"), stderr=io.StringIO())
    summary = run_scan(ScanOptions(src, two, policy=str(policy_file), workers=2, chunk_size=3, progress="never"),
                       stderr=io.StringIO())
    assert one.read_bytes() == two.read_bytes()
    # Which workers got chunks depends on start-up timing; the pool, not this process, screened them.
    assert summary["run"]["worker_processes"] in (1, 2) and summary["run"]["workers"] == 2


def test_audit_gets_one_record_per_screened_message(tmp_path: Path, policy_file: Path) -> None:
    src = _write_jsonl(tmp_path / "t.jsonl", [*_rows(6), "{bad"])
    audit = tmp_path / "audit.jsonl"
    summary = run_scan(ScanOptions(src, tmp_path / "d.jsonl", policy=str(policy_file), workers=2, chunk_size=2,
                                   progress="never", audit=audit), stderr=io.StringIO())
    lines = _records(audit)
    assert len(lines) == summary["messages"] == 1 + 1 + 3 + 1 + 1 + 1  # rows 0..5 by kind; the bad row: none
    assert SECRET not in audit.read_text(encoding="utf-8")
    # One run salt for all workers: the same text hashes the same whichever worker screened it.
    assert len({r["salt_id"] for r in lines}) == 1
    by_hash: dict[str, set[str]] = {}
    for r in lines:
        by_hash.setdefault(r["text_hash"], set()).add(r["action"])
    assert len(by_hash) < len(lines)


# ---- resume ---------------------------------------------------------------------------------------------
@pytest.fixture
def full_run(tmp_path: Path, policy_file: Path) -> tuple[Path, Path, bytes]:
    src = _write_jsonl(tmp_path / "t.jsonl", [*_rows(10), "{bad", *_rows(3)])
    out = tmp_path / "full.jsonl"
    run_scan(ScanOptions(src, out, policy=str(policy_file), workers=1, progress="never"), stderr=io.StringIO())
    return src, policy_file, out.read_bytes()


def _cut_points(data: bytes) -> list[int]:
    lines = data.splitlines(keepends=True)
    ends = [sum(len(x) for x in lines[: i + 1]) for i in range(len(lines))]
    multi = next(i for i, line in enumerate(lines) if json.loads(line)["row_records"] > 1)
    return [0, ends[0], ends[0] + 5, ends[multi], ends[multi] + 1, ends[multi + 1], len(data) - 1, len(data)]


@pytest.mark.parametrize("which", range(8))
def test_resume_after_a_cut_equals_a_fresh_run(tmp_path: Path, full_run: tuple[Path, Path, bytes],
                                               which: int) -> None:
    src, policy, full = full_run
    cut = _cut_points(full)[which]
    out = tmp_path / "partial.jsonl"
    out.write_bytes(full[:cut])  # a crash anywhere: between rows, inside a row, inside a line
    err = io.StringIO()
    summary = run_scan(ScanOptions(src, out, policy=str(policy), workers=1, progress="never"), stderr=err)
    assert out.read_bytes() == full
    assert summary["rows"] == 14 and summary["run"]["resumed_after_rows"] + summary["run"]["rows"] == 14
    if 0 < cut < len(full) and not full[:cut].endswith(b"\n"):
        assert "dropped an incomplete last row" in err.getvalue()


def test_resume_refuses_a_changed_input_or_policy_or_edited_output(tmp_path: Path,
                                                                   full_run: tuple[Path, Path, bytes]) -> None:
    src, policy, full = full_run
    lines = full.splitlines(keepends=True)
    out = tmp_path / "partial.jsonl"

    def resume(**kw: Any) -> None:
        run_scan(ScanOptions(src, out, workers=1, progress="never", **{"policy": str(policy), **kw}),
                 stderr=io.StringIO())

    out.write_bytes(b"".join(lines[:3]))
    other = _write_jsonl(tmp_path / "other.jsonl", [{"id": "zzz", "text": "x"}] * 20)
    with pytest.raises(ScanError, match="input changed"):
        run_scan(ScanOptions(other, out, policy=str(policy), workers=1, progress="never"), stderr=io.StringIO())
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(yaml.safe_dump(keyword_policy(name="renamed")), encoding="utf-8")
    with pytest.raises(ScanError, match="written with policy 'test'"):
        resume(policy=str(renamed))
    out.write_bytes(lines[0] + b"garbage\n" + b"".join(lines[1:3]))
    with pytest.raises(ScanError, match="not a complete decision record"):
        resume()
    out.write_bytes(lines[1] + lines[0])
    with pytest.raises(ScanError, match="comes after"):
        resume()
    short = _write_jsonl(tmp_path / "short.jsonl", [{"text": "x"}])
    out.write_bytes(full)
    with pytest.raises(ScanError, match="lines but the output already has rows"):
        run_scan(ScanOptions(short, out, policy=str(policy), workers=1, progress="never"), stderr=io.StringIO())
    # --no-resume starts over.
    run_scan(ScanOptions(short, out, policy=str(policy), workers=1, progress="never", resume=False),
             stderr=io.StringIO())
    assert len(_records(out)) == 1


_SLOW_SITECUSTOMIZE = """
import os, time
if os.environ.get("MHGUARD_TEST_SLOW"):
    import mhguard.guard as _g
    _orig = _g.Guard.check_input
    def _slow(self, *args, **kwargs):
        time.sleep(float(os.environ["MHGUARD_TEST_SLOW"]))
        return _orig(self, *args, **kwargs)
    _g.Guard.check_input = _slow
"""


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_sigkill_then_resume_gives_every_row_once(tmp_path: Path, policy_file: Path) -> None:
    rows = _rows(160)
    src = _write_jsonl(tmp_path / "t.jsonl", rows)
    out = tmp_path / "d.jsonl"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    # Every check sleeps a little (in the workers too, via sitecustomize) so the kill lands mid-scan.
    (hooks / "sitecustomize.py").write_text(_SLOW_SITECUSTOMIZE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")]),
           "MHGUARD_TEST_SLOW": "0.01"}
    argv = [sys.executable, "-m", "mhguard.cli", "scan", str(src), "-o", str(out), "--policy", str(policy_file),
            "--workers", "2", "--chunk-size", "4", "--progress", "always"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 40:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the scan ended before it could be killed"
    partial = _records(out)
    assert 0 < len({r["line"] for r in partial}) < len(rows)

    resumed = subprocess.run([*argv[:-2], "--progress", "always"], capture_output=True, text=True, check=False,
                             env={k: v for k, v in env.items() if k != "MHGUARD_TEST_SLOW"})
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after input line" in resumed.stderr
    assert "mhguard scan" in resumed.stderr and f"{len(rows)}/{len(rows)}" in resumed.stderr  # the progress bar

    fresh = tmp_path / "fresh.jsonl"
    run_scan(ScanOptions(src, fresh, policy=str(policy_file), workers=1, progress="never"), stderr=io.StringIO())
    records = _records(out)
    assert records == _records(fresh)
    firsts = [r["line"] for r in records if r["record_index"] == 0]
    assert firsts == list(range(1, len(rows) + 1))  # every row exactly once, in input order


# ---- progress -------------------------------------------------------------------------------------------
def test_line_progress_without_tqdm() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = LineProgress(stream, total=10, initial=2, tty=False, interval=1.0, clock=lambda: now[0])
    bar.update(3, 6)
    assert stream.getvalue() == ""  # not yet: at most one line per interval
    now[0] = 2.0
    bar.update(1, 2)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines == ["mhguard scan: 6/10 rows (60%), 8 messages, 4 messages/s"] * 2
    assert isinstance(open_progress("never", io.StringIO(), total=1), type(open_progress("auto", stream, total=1)))
    fallback = open_progress("always", io.StringIO(), total=1, use_tqdm=False)
    assert isinstance(fallback, LineProgress)
    with pytest.raises(ValueError):
        open_progress("sometimes", stream, total=1)
