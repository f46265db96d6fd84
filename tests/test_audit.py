"""The audit trail: records, sinks, configuration, the Guard integration, privacy and failure behaviour."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from conftest import keyword_policy
from mhguard import AuditError, Guard, MhguardError, PolicyError, load_policy
from mhguard.audit import (
    AuditRecord,
    AuditSettings,
    AuditSink,
    JSONLSink,
    SQLiteSink,
    TextHasher,
    build_record,
    open_sink,
    read_audit,
)
from mhguard.cli import main
from mhguard.testing import FakeChatModel
from mhguard.types import Action, Decision, Stage, Tier

# A message the default policy escalates (tier high), chosen so that none of its words is also part of a rule
# id, category or field name: the privacy test can then demand that no word appears at all.
CRISIS = "I have the rope ready and I am going to hang myself tonight after dinner"
SUFFIXES = ("jsonl", "db")


def words_of(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", text.lower()) if len(w) >= 3]


def raw_bytes(path: Path) -> str:
    """Everything on disk for an audit (the file, a SQLite WAL and rotated files), as lower-case text."""
    parts = []
    for candidate in sorted(path.parent.iterdir()):
        if candidate.name.startswith(path.name):
            parts.append(candidate.read_bytes().decode("utf-8", "replace").lower())
    return "\n".join(parts)


class Recording(AuditSink):
    """A sink that keeps records in memory (or fails on demand)."""

    def __init__(self, settings: AuditSettings | None = None, *, fail: bool = False) -> None:
        super().__init__(settings)
        self.records: list[AuditRecord] = []
        self.fail = fail
        self.closed = False

    def write(self, record: AuditRecord | Mapping[str, Any]) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        assert isinstance(record, AuditRecord)
        self.records.append(record)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def keyword_guard() -> Guard:
    return Guard.from_policy(keyword_policy(), audit=Recording())


# ---- configuration ---------------------------------------------------------------------------------------
def test_policy_audit_section_is_validated_with_locations(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\naudit:\n  path: a.jsonl\n  fsink: always\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(policy)
    message = str(info.value)
    assert "p.yaml:4" in message and "audit.fsink" in message and "did you mean 'fsync'" in message
    for bad, where in (({"path": "audit.txt"}, "audit.path"), ({"fsync": "sometimes"}, "audit.fsync"),
                       ({"store_text": "raw"}, "audit.store_text"), ({"keep": 0}, "audit.keep"),
                       ({"path": "a.db", "rotate_bytes": 10_000}, "audit")):
        with pytest.raises(PolicyError, match=re.escape(where)):
            load_policy({"name": "x", "audit": bad})
    ok = load_policy({"name": "x", "audit": {"path": "a.jsonl", "fsync": "batch", "rotate_bytes": 8192}})
    assert ok.document.audit.fsync == "batch" and ok.document.audit.rotate_bytes == 8192


def test_policy_content_hash_identifies_the_rules() -> None:
    a = load_policy(keyword_policy())
    b = load_policy(keyword_policy())
    c = load_policy(keyword_policy(version="2"))
    assert a.digest == b.digest and a.digest != c.digest and len(a.digest) == 64


def test_open_sink_picks_the_format_by_suffix(tmp_path: Path) -> None:
    for name, kind in (("a.jsonl", JSONLSink), ("a.db", SQLiteSink), ("a.sqlite", SQLiteSink),
                       ("a.SQLITE3", SQLiteSink)):
        with open_sink(tmp_path / name) as sink:
            assert isinstance(sink, kind)
    for bad in ("a.json", "a.log", "audit"):
        with pytest.raises(AuditError, match="must end in one of"):
            open_sink(tmp_path / bad)
    with pytest.raises(AuditError, match="invalid audit settings"):
        open_sink({"path": str(tmp_path / "a.jsonl"), "colour": "red"})
    with pytest.raises(AuditError, match="no path"):
        open_sink(AuditSettings())
    assert issubclass(AuditError, MhguardError)


def test_guard_audit_argument_forms(tmp_path: Path) -> None:
    policy = keyword_policy(audit={"path": str(tmp_path / "from_policy.jsonl"), "fsync": "batch"})
    guard = Guard.from_policy(policy)
    assert isinstance(guard.audit, JSONLSink) and guard.audit.settings.fsync == "batch"
    guard.audit.close()
    # A path given to the Guard wins over the policy's path and keeps the policy's other settings.
    guard = Guard(policy, audit=tmp_path / "given.db")
    assert isinstance(guard.audit, SQLiteSink) and guard.audit.settings.fsync == "batch"
    guard.audit.close()
    assert Guard(policy, audit=False).audit is None
    assert Guard(keyword_policy()).audit is None
    sink = Recording()
    assert Guard(keyword_policy(), audit=sink).audit is sink
    with pytest.raises(AuditError):
        Guard(keyword_policy(), audit=True)
    with pytest.raises(AuditError):
        Guard(keyword_policy(), audit=tmp_path / "wrong.txt")


# ---- records ---------------------------------------------------------------------------------------------
def test_record_fields(keyword_guard: Guard) -> None:
    decision = keyword_guard.check_input("ok so I want to kill myself", session="s-1", locale="en-GB")
    sink = keyword_guard.audit
    assert isinstance(sink, Recording)
    (record,) = sink.records
    data = record.to_dict()
    assert data["stage"] == "input" and data["action"] == "escalate" and data["risk"] == "high"
    assert data["categories"] == ["suicide"] and data["status"] == "ok"
    assert data["session_id"] == "s-1" and data["locale"] == "en-GB"
    assert data["policy"] == "test" and data["policy_version"] == "1"
    assert data["policy_hash"] == keyword_guard.policy.digest
    assert data["mhguard_version"] and data["schema"] == 1 and len(data["record_id"]) == 32
    assert data["ts"].endswith("+00:00") and isinstance(data["epoch"], float)
    assert isinstance(data["latency_ms"], float) and data["latency_ms"] >= 0
    assert data["findings"] == [{"filter_id": "risk", "rule_id": "t.high", "category": "suicide", "tier": "high",
                                 "modifiers": [], "span": [16, 27]}]
    assert data["text"] is None and data["text_hash"].startswith("hmac-sha256:")
    assert data["salt_id"] == sink.hasher.salt_id
    assert decision.findings[0].span == (16, 27)
    assert AuditRecord.from_dict(json.loads(json.dumps(data))) == record


def test_text_hash_is_salted_and_linkable_only_with_the_same_salt(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "I want to kill myself"
    decision = Guard.from_policy(keyword_policy()).check_input(text)
    same_a, same_b, other = TextHasher("pepper"), TextHasher(b"pepper"), TextHasher("salt")
    assert same_a(text) == same_b(text) != other(text)
    assert same_a(text) != same_a(text + " ")
    import hashlib

    assert hashlib.sha256(text.encode()).hexdigest() not in same_a(text)
    random_a, random_b = TextHasher(), TextHasher()
    assert random_a.ephemeral and random_a(text) != random_b(text)
    monkeypatch.setenv("MHGUARD_AUDIT_SALT", "from-env")
    sink_a, sink_b = Recording(), Recording()
    assert not sink_a.hasher.ephemeral
    assert sink_a.build(decision, text=text).text_hash == sink_b.build(decision, text=text).text_hash
    configured = Recording(AuditSettings(salt_env="OTHER_SALT_VAR"))
    assert configured.hasher.ephemeral
    direct = Recording(AuditSettings.model_validate({"salt": "from-env"}))
    assert direct.build(decision, text=text).text_hash == sink_a.build(decision, text=text).text_hash
    assert "from-env" not in repr(direct.settings)


def test_store_text_redacted_is_opt_in() -> None:
    text = "I want to kill myself, mail jo@example.org or call 555-123-4567"
    decision = Guard.from_policy(keyword_policy()).check_input(text)
    assert build_record(decision, text=text).text is None
    redacted = build_record(decision, text=text, store_text="redacted").text
    assert redacted == "I want to kill myself, mail [EMAIL] or call [PHONE]"
    with pytest.raises(ValueError):
        build_record(decision, text=text, store_text="raw")


def test_findings_never_carry_matched_text_reason_or_replacement() -> None:
    guard = Guard.from_policy(keyword_policy(), audit=Recording())
    guard.check_output("He committed suicide in 1990.")
    assert isinstance(guard.audit, Recording)
    (record,) = guard.audit.records
    assert record.action == "rewrite"
    (finding,) = record.findings
    assert set(finding) == {"filter_id", "rule_id", "category", "tier", "modifiers", "span"}


# ---- the guard records every decision --------------------------------------------------------------------
def test_every_check_path_is_recorded(keyword_guard: Guard) -> None:
    sink = keyword_guard.audit
    assert isinstance(sink, Recording)
    keyword_guard.check_input("hello")
    keyword_guard.check_output("a reply")
    asyncio.run(keyword_guard.acheck_input("i wish i was dead"))
    asyncio.run(keyword_guard.acheck_output("He committed suicide."))
    assert [(r.stage, r.action) for r in sink.records] == [
        ("input", "allow"), ("output", "allow"), ("input", "annotate"), ("output", "rewrite")]

    sink.records.clear()
    chat = keyword_guard.wrap(FakeChatModel(["Fine."]))
    chat("hi there")
    chat("I want to kill myself")  # escalates: no model call, no output record
    assert [(r.stage, r.action) for r in sink.records] == [("input", "allow"), ("output", "allow"),
                                                           ("input", "escalate")]

    sink.records.clear()
    stream = keyword_guard.wrap(FakeChatModel(["One. He committed suicide. Two."], chunk_size=4).stream)
    assert "".join(stream("hi", mhguard_session="s-9")) == "One. He died by suicide. Two."
    assert [(r.stage, r.action) for r in sink.records] == [("input", "allow"), ("stream", "rewrite")]
    summary = sink.records[1]
    assert summary.pieces is not None and summary.pieces >= 2 and summary.session_id == "s-9"
    assert summary.text_hash is None  # the streamed reply is never held whole

    sink.records.clear()
    model = FakeChatModel(["Async one. Two."], chunk_size=3)
    astream = keyword_guard.wrap(model.astream)

    async def consume() -> str:
        return "".join([piece async for piece in astream("hi")])

    assert asyncio.run(consume()) == "Async one. Two."
    assert [r.stage for r in sink.records] == ["input", "stream"]


def test_guard_writes_to_jsonl_and_sqlite_files(tmp_path: Path) -> None:
    for suffix in SUFFIXES:
        path = tmp_path / f"audit.{suffix}"
        guard = Guard.from_policy(keyword_policy(), audit=path)
        guard.check_input("I want to kill myself", session="s-1")
        guard.check_input("hello")
        assert guard.audit is not None
        guard.audit.close()
        log = read_audit(path)
        assert [(r.action, r.session_id) for r in log.records] == [("escalate", "s-1"), ("allow", None)]
        assert not log.problems and not log.torn_lines


# ---- privacy ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_default_record_of_a_crisis_message_holds_no_word_of_it(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"audit.{suffix}"
    guard = Guard.from_policy("default", audit=path)
    chat = guard.wrap(FakeChatModel(["never called"]))
    decision = guard.check_input(CRISIS, session="user-7")
    assert decision.action is Action.ESCALATE and decision.risk >= Tier.HIGH
    assert chat(CRISIS) != "never called"
    assert guard.audit is not None
    guard.audit.close()
    log = read_audit(path)
    assert len(log.records) == 2 and all(r.risk in ("high", "imminent") for r in log.records)
    serialized = json.dumps([r.to_dict() for r in log.records], ensure_ascii=False).lower()
    on_disk = raw_bytes(path)
    words = words_of(CRISIS)
    assert len(words) >= 10
    for word in words:
        assert word not in serialized, word
        assert word not in on_disk, word
    # The check itself is live: the same words are there once text is stored redacted.
    assert "rope" in json.dumps(build_record(decision, text=CRISIS, store_text="redacted").to_dict())


def test_escalation_text_include_setting_does_not_leak_into_audit(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    guard = Guard.from_policy(keyword_policy(escalation={"include_text": True, "threshold": "high"}), audit=path)
    guard.check_input("please, I want to kill myself tonight")
    assert guard.audit is not None
    guard.audit.close()
    assert "tonight" not in path.read_text(encoding="utf-8")


# ---- failures --------------------------------------------------------------------------------------------
def test_failing_sink_raises_audit_error_and_the_model_is_not_called() -> None:
    guard = Guard.from_policy(keyword_policy(), audit=Recording(fail=True))
    with pytest.raises(AuditError) as info:
        guard.check_input("I want to kill myself")
    failed = info.value.decision
    assert isinstance(failed, Decision) and failed.action is Action.ESCALATE and failed.text == "CRISIS RESPONSE"
    assert isinstance(info.value.__cause__, OSError)
    model = FakeChatModel(["should not be called"])
    with pytest.raises(AuditError):
        guard.wrap(model)("hello")
    assert model.call_count == 0
    with pytest.raises(AuditError):
        asyncio.run(guard.acheck_output("fine reply"))


def test_failing_sink_still_pages_the_humans_on_call() -> None:
    events: list[Any] = []
    seen: list[Decision] = []
    guard = Guard.from_policy(keyword_policy(), audit=Recording(fail=True), hooks=[seen.append],
                              escalation_handlers=[events.append])
    with pytest.raises(AuditError):
        guard.check_input("I want to kill myself", session="s-3")
    assert [d.action for d in seen] == [Action.ESCALATE]
    assert len(events) == 1 and events[0].session_id == "s-3" and events[0].tier == "high"


def test_failing_sink_with_on_error_block_closes_the_decision_and_logs_the_record(
        caplog: pytest.LogCaptureFixture) -> None:
    sink = Recording(AuditSettings(on_error="block"), fail=True)
    guard = Guard.from_policy(keyword_policy(), audit=sink)
    model = FakeChatModel(["a reply the audit could not record"])
    chat = guard.wrap(model)
    with caplog.at_level(logging.ERROR, logger="mhguard.audit"):
        result = chat.detailed("hello")
    assert result.model_called is False and result.input.action is Action.BLOCK
    assert result.input.status == "error" and result.text == "BLOCKED RESPONSE"
    assert result.input.findings[-1].rule_id == "audit_error"
    assert model.call_count == 0
    logged = [r for r in caplog.records if r.name == "mhguard.audit" and r.levelno == logging.ERROR]
    assert len(logged) == 1
    assert "record_id" in logged[0].getMessage() and "hello" not in logged[0].getMessage()
    # A crisis keeps its crisis response: closing never takes help away.
    crisis = guard.check_input("I want to kill myself")
    assert crisis.action is Action.ESCALATE and crisis.text == "CRISIS RESPONSE" and crisis.status == "error"


def test_closed_and_broken_sinks_raise(tmp_path: Path) -> None:
    decision = Guard.from_policy(keyword_policy()).check_input("hi")
    for suffix in SUFFIXES:
        sink = open_sink(tmp_path / f"closed.{suffix}")
        sink.close()
        sink.close()  # idempotent
        with pytest.raises(AuditError, match="closed"):
            sink.record(decision)
    with pytest.raises(AuditError, match="not an audit record"):
        open_sink(tmp_path / "x.jsonl").write({"stage": "input"})
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(AuditError, match="cannot open"):
        open_sink(tmp_path / "dir.jsonl")
    (tmp_path / "notadb.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(AuditError):
        open_sink(tmp_path / "notadb.db")


# ---- sinks -----------------------------------------------------------------------------------------------
def test_jsonl_rotation_keeps_every_record_until_keep(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    decision = Guard.from_policy(keyword_policy()).check_input("hello")
    settings = AuditSettings(path=str(path), rotate_bytes=4096, keep=50)
    ids = []
    with open_sink(settings) as sink:
        for _ in range(60):
            ids.append(sink.record(decision).record_id)
    rotated = sorted(p.name for p in tmp_path.glob("audit.jsonl.*") if p.suffix != ".lock")
    assert len(rotated) >= 2
    for file in [path, *(tmp_path / name for name in rotated)]:
        assert file.stat().st_size <= 4096
    assert [r.record_id for r in read_audit(path).records] == ids  # oldest first across files
    newest = read_audit(path, include_rotated=False).records
    assert 0 < len(newest) < len(ids) and [r.record_id for r in newest] == ids[-len(newest):]
    with open_sink(AuditSettings(path=str(path), rotate_bytes=4096, keep=2)) as sink:
        for _ in range(60):
            sink.record(decision)
    assert sorted(p.name for p in tmp_path.glob("audit.jsonl.[0-9]*")) == ["audit.jsonl.1", "audit.jsonl.2"]


def test_jsonl_reader_reports_torn_final_line_and_corrupt_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    decision = Guard.from_policy(keyword_policy()).check_input("hello")
    with open_sink(path) as sink:
        first = sink.record(decision)
    with path.open("ab") as handle:
        handle.write(b'{"stage": "input", "action": "al')  # a writer killed mid-record
    log = read_audit(path)
    assert [r.record_id for r in log.records] == [first.record_id]
    assert len(log.torn_lines) == 1 and "torn final line" in log.torn_lines[0] and not log.problems
    # The next writer closes the torn line, so its own record stays readable.
    with open_sink(path) as sink:
        second = sink.record(decision)
    log = read_audit(path)
    assert [r.record_id for r in log.records] == [first.record_id, second.record_id]
    assert len(log.problems) == 1 and ":2:" in log.problems[0] and not log.torn_lines
    assert "al" not in log.problems[0].split(":")[-1]  # lines are reported by number, never by content


def test_sqlite_sink_schema_and_modes(tmp_path: Path) -> None:
    decision = Guard.from_policy(keyword_policy()).check_input("I want to kill myself", session="s")
    for fsync, expected in (("always", 2), ("batch", 1), ("never", 0)):
        path = tmp_path / f"{fsync}.db"
        with open_sink(AuditSettings(path=str(path), fsync=fsync)) as sink:
            assert isinstance(sink, SQLiteSink)
            sink.record(decision, stage="input")
            assert sink._connection().execute("PRAGMA synchronous").fetchone()[0] == expected
            if os.name == "posix":
                for file in (path, Path(f"{path}-wal")):
                    assert file.stat().st_mode & 0o077 == 0, file  # the WAL holds records too
            sink.flush()
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        row = conn.execute("SELECT stage, action, risk, session_id, record FROM mhguard_audit").fetchone()
        conn.close()
        assert row[:4] == ("input", "escalate", "high", "s") and json.loads(row[4])["action"] == "escalate"


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_threads_share_a_sink_without_losing_records(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"audit.{suffix}"
    guard = Guard.from_policy(keyword_policy(), audit=path)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                guard.check_input(f"message {i}", session=f"thread-{n}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert guard.audit is not None
    guard.audit.close()
    assert not errors
    log = read_audit(path)
    assert len(log.records) == 100 and len({r.record_id for r in log.records}) == 100
    assert not log.problems and not log.torn_lines


def test_mapping_records_can_be_written(tmp_path: Path) -> None:
    decision = Guard.from_policy(keyword_policy()).check_input("hello")
    record = build_record(decision, text="hello", hasher=TextHasher("k"), stage="input", latency_ms=1.23456)
    assert record.latency_ms == 1.235
    with pytest.raises(ValueError):
        build_record(decision, stage="thinking")
    for suffix in SUFFIXES:
        with open_sink(tmp_path / f"m.{suffix}") as sink:
            sink.write(record.to_dict())
        assert read_audit(tmp_path / f"m.{suffix}").records == (record,)


def test_decision_stage_enum_round_trips_through_records() -> None:
    decision = Decision(stage=Stage.OUTPUT, action=Action.ALLOW, risk=Tier.NONE, policy="p")
    assert build_record(decision).stage == "output"


# ---- command line ----------------------------------------------------------------------------------------
def test_cli_check_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cli.db"
    assert main(["check", "--audit", str(path), CRISIS]) == 3
    assert main(["check", "--audit", str(path), "--stage", "output", "a calm reply"]) == 0
    capsys.readouterr()
    records = read_audit(path).records
    assert [(r.stage, r.action) for r in records][:1] == [("input", "escalate")]
    assert [r.stage for r in records] == ["input", "output"]
    assert main(["check", "--audit", str(tmp_path / "cli.txt"), "hello"]) == 1
    assert "must end in one of" in capsys.readouterr().err
