"""Opening an SQLite file for several threads and processes at once (session store, audit sink)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

__all__ = ["init_wal_schema"]


def init_wal_schema(conn: sqlite3.Connection, schema: Sequence[str], *, timeout: float,
                    pragmas: Sequence[str] = ()) -> None:
    """Switch ``conn``'s file to WAL, apply ``pragmas`` and create ``schema`` in one transaction.

    Switching a new file to WAL needs a moment of exclusive access; when several processes start at once
    SQLite may report "locked" without waiting for its busy timeout, so this retries until ``timeout``.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            for pragma in pragmas:
                conn.execute(pragma)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in schema:
                    conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return
        except sqlite3.OperationalError as exc:
            transient = "locked" in str(exc) or "busy" in str(exc)
            if not transient or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
