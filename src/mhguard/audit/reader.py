"""Read an audit trail back: a JSONL file (with its rotated siblings) or an SQLite database.

Reading never changes the audit. A JSONL line that cannot be parsed is skipped and reported by number (never
by content: it may hold text); a torn final line (a writer killed mid-write) is reported separately, since it
is expected after a crash and cannot hold an acknowledged record.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mhguard.audit.records import AuditRecord
from mhguard.audit.sinks import sink_kind
from mhguard.errors import AuditError

__all__ = ["AuditLog", "AuditReader", "read_audit", "rotated_files"]


def rotated_files(path: str | os.PathLike[str]) -> list[Path]:
    """``audit.jsonl`` and its rotated siblings (``audit.jsonl.N``), oldest first."""
    base = Path(path)
    pattern = re.compile(re.escape(base.name) + r"\.(\d+)")
    numbered = []
    if base.parent.is_dir():
        for candidate in base.parent.iterdir():
            match = pattern.fullmatch(candidate.name)
            if match:
                numbered.append((int(match.group(1)), candidate))
    files = [p for _, p in sorted(numbered, reverse=True)]
    if base.exists():
        files.append(base)
    return files


@dataclass
class AuditReader:
    """Iterate over the records of an audit; ``problems`` and ``torn_lines`` fill in as it reads."""

    path: Path
    include_rotated: bool = True
    problems: list[str] = field(default_factory=list)
    torn_lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.kind = sink_kind(self.path)
        if self.kind == "sqlite" and not self.path.exists():
            raise AuditError(f"audit database not found: {self.path}")
        if self.kind == "jsonl" and not (rotated_files(self.path) if self.include_rotated else
                                         [self.path] if self.path.exists() else []):
            raise AuditError(f"audit file not found: {self.path}")

    def __iter__(self) -> Iterator[AuditRecord]:
        if self.kind == "jsonl":
            files = rotated_files(self.path) if self.include_rotated else [self.path]
            for file in files:
                yield from self._jsonl(file)
        else:
            yield from self._sqlite()

    def _jsonl(self, file: Path) -> Iterator[AuditRecord]:
        try:
            handle = file.open("rb")
        except OSError as exc:
            raise AuditError(f"cannot read audit file {file}: {exc}") from exc
        with handle:
            number = 0
            for raw in handle:
                number += 1
                if not raw.strip():
                    continue
                complete = raw.endswith(b"\n")
                try:
                    data = json.loads(raw.decode("utf-8", "surrogatepass"))
                    if not isinstance(data, dict):
                        raise ValueError("not a JSON object")
                    record = AuditRecord.from_dict(data)
                except (ValueError, TypeError, RecursionError) as exc:
                    where = f"{file}:{number}"
                    if not complete:
                        self.torn_lines.append(f"{where}: torn final line (a writer stopped mid-record)")
                    else:
                        self.problems.append(f"{where}: unreadable record ({type(exc).__name__})")
                    continue
                yield record

    def _sqlite(self) -> Iterator[AuditRecord]:
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as exc:
            raise AuditError(f"cannot open audit database {self.path}: {exc}") from exc
        try:
            try:
                rows = conn.execute("SELECT record_id, record FROM mhguard_audit ORDER BY epoch, rowid")
            except sqlite3.Error as exc:
                raise AuditError(f"{self.path} is not an mhguard audit database: {exc}") from exc
            for record_id, payload in rows:
                try:
                    data = json.loads(payload)
                    if not isinstance(data, dict):
                        raise ValueError("not a JSON object")
                    yield AuditRecord.from_dict(data)
                except (ValueError, TypeError, RecursionError) as exc:
                    self.problems.append(f"{self.path}: record {record_id!s}: unreadable ({type(exc).__name__})")
        finally:
            conn.close()


@dataclass(frozen=True)
class AuditLog:
    """Every readable record of an audit, with what could not be read."""

    records: tuple[AuditRecord, ...]
    problems: tuple[str, ...]
    torn_lines: tuple[str, ...]


def read_audit(path: str | os.PathLike[str], *, include_rotated: bool = True) -> AuditLog:
    """Read a whole audit (JSONL with rotated files, oldest first, or SQLite) into memory."""
    reader = AuditReader(Path(path), include_rotated=include_rotated)
    records = tuple(reader)
    return AuditLog(records, tuple(reader.problems), tuple(reader.torn_lines))
