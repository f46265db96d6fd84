"""Durability of the audit sinks: a writer killed with SIGKILL loses no acknowledged record, and several
processes can write to one audit.

A child process writes records in a loop and prints each record id only after ``write`` returned (the
acknowledgement). The parent kills it after enough acknowledgements and checks that every acknowledged record
is present and readable. Nothing here measures time; the timeouts only stop a hung child.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mhguard.audit import read_audit

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

WRITER = textwrap.dedent("""
    import sys
    from mhguard.audit import open_sink
    from mhguard.audit.records import build_record
    from mhguard.types import Action, Decision, Stage, Tier

    path, limit, rotate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    config = {"path": path, "fsync": "always"}
    if rotate:
        config.update(rotate_bytes=rotate, keep=10_000)
    decision = Decision(stage=Stage.INPUT, action=Action.ESCALATE, risk=Tier.HIGH, categories=("suicide",),
                        policy="p", session_id="s")
    sink = open_sink(config)
    print("ready", flush=True)
    count = 0
    while limit == 0 or count < limit:
        record = build_record(decision, stage="input")
        sink.write(record)
        print(record.record_id, flush=True)  # acknowledged: write() returned
        count += 1
    sink.close()
""")

ACKNOWLEDGED = 200


def _spawn(path: Path, limit: int = 0, rotate: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(limit), str(rotate)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_after_acknowledgements(path: Path) -> list[str]:
    child = _spawn(path)
    assert child.stdout is not None
    acknowledged: list[str] = []
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read() if child.stderr else ""
        while len(acknowledged) < ACKNOWLEDGED:
            line = child.stdout.readline()
            assert line, f"writer stopped early: {child.stderr.read() if child.stderr else ''}"
            acknowledged.append(line.strip())
        os.kill(child.pid, signal.SIGKILL)
        # Ids printed before the kill landed are acknowledged too; a half-printed last line is not.
        rest = child.stdout.read()
        acknowledged += [line for line in rest.split("\n")[:-1] if line]
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=60)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL
    return acknowledged


def test_jsonl_sigkill_loses_no_acknowledged_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    acknowledged = _kill_after_acknowledgements(path)
    assert len(acknowledged) >= ACKNOWLEDGED
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    for line in complete:
        json.loads(line)  # every complete line parses
    log = read_audit(path)
    assert not log.problems
    # A torn final line is tolerated and reported, never silently taken for a record.
    assert len(log.torn_lines) == (1 if tail else 0)
    stored = {r.record_id for r in log.records}
    missing = [rid for rid in acknowledged if rid not in stored]
    assert not missing
    assert len(stored) == len(log.records) >= len(acknowledged)


def test_sqlite_sigkill_loses_no_acknowledged_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    acknowledged = _kill_after_acknowledgements(path)
    assert len(acknowledged) >= ACKNOWLEDGED
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in conn.execute("SELECT record_id FROM mhguard_audit")}
    finally:
        conn.close()
    missing = [rid for rid in acknowledged if rid not in stored]
    assert not missing
    log = read_audit(path)
    assert not log.problems and len(log.records) == len(stored)


@pytest.mark.parametrize("name, rotate", [("audit.jsonl", 0), ("audit.jsonl", 8192), ("audit.db", 0)])
def test_processes_write_to_one_audit(tmp_path: Path, name: str, rotate: int) -> None:
    path = tmp_path / name
    children = [_spawn(path, limit=120, rotate=rotate) for _ in range(3)]
    acknowledged: list[str] = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        acknowledged += [line for line in out.split("\n")[1:] if line]
    assert len(acknowledged) == 360
    log = read_audit(path)
    assert not log.problems and not log.torn_lines
    assert sorted(r.record_id for r in log.records) == sorted(acknowledged)
    if rotate:
        assert len(list(tmp_path.glob(f"{name}.[0-9]*"))) >= 2
