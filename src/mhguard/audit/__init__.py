"""The audit trail: every decision recorded to a JSONL file or an SQLite database, without raw text.

::

    from mhguard.audit import open_sink

    with open_sink("audit.db") as sink:            # .jsonl -> JSON lines, .db/.sqlite/.sqlite3 -> SQLite
        decision = guard.check_input(text)
        sink.record(decision, text=text, policy=guard.policy)   # the text is only hashed (HMAC-SHA256)
        sink.write(record)                         # or write an AuditRecord (or its dict) you built
        sink.flush()                               # make everything durable (matters with fsync: batch)

A guard records its own decisions with ``Guard(..., audit="audit.db")`` or the policy's ``audit:`` section.
Read an audit with :func:`read_audit`; :mod:`mhguard.audit.report` counts detections and referrals.
See docs/audit.md for the record schema and the durability contract.
"""

from __future__ import annotations

from mhguard.audit.reader import AuditLog, AuditReader, read_audit
from mhguard.audit.records import SCHEMA_VERSION, AuditRecord, TextHasher, build_record
from mhguard.audit.redact import redact
from mhguard.audit.sinks import AuditSink, JSONLSink, SQLiteSink, open_sink, sink_kind
from mhguard.errors import AuditError
from mhguard.policy.models import AuditSettings

__all__ = [
    "SCHEMA_VERSION",
    "AuditError",
    "AuditLog",
    "AuditReader",
    "AuditRecord",
    "AuditSettings",
    "AuditSink",
    "JSONLSink",
    "SQLiteSink",
    "TextHasher",
    "build_record",
    "open_sink",
    "read_audit",
    "redact",
    "sink_kind",
]
