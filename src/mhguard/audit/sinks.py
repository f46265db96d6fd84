"""Audit sinks: where records go. JSON lines (append-only, rotating) or SQLite (the embedded default).

Both are durable before ``write`` returns with the default ``fsync: always`` and safe to share between threads
and processes. See docs/audit.md for the durability contract of each ``fsync`` mode.
"""

from __future__ import annotations

import abc
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import Self

from mhguard.audit.records import AuditRecord, TextHasher, build_record
from mhguard.errors import AuditError
from mhguard.policy.models import AUDIT_SUFFIXES, AuditSettings
from mhguard.sqlite_setup import init_wal_schema
from mhguard.types import Decision

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writing process per file
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from mhguard.policy.loader import Policy

__all__ = ["AuditSink", "JSONLSink", "SQLiteSink", "open_sink", "sink_kind"]

logger = logging.getLogger("mhguard.audit")


def sink_kind(path: str | os.PathLike[str]) -> str:
    """``"jsonl"`` or ``"sqlite"`` from the file suffix; anything else raises :class:`AuditError`."""
    suffix = Path(path).suffix.lower()
    kind = AUDIT_SUFFIXES.get(suffix)
    if kind is None:
        raise AuditError(f"audit path {str(path)!r} must end in one of {', '.join(AUDIT_SUFFIXES)} "
                         f"(.jsonl for JSON lines, .db/.sqlite/.sqlite3 for SQLite)")
    return kind


def _salt(settings: AuditSettings) -> str | None:
    if settings.salt is not None:
        return settings.salt.get_secret_value() or None
    return os.environ.get(settings.salt_env) or None


class AuditSink(abc.ABC):
    """Receives audit records. Subclasses implement :meth:`write`, :meth:`flush` and :meth:`close`.

    ``record(decision, text=...)`` builds the record (the text is only hashed, or redacted when the settings
    say ``store_text: redacted``) and writes it. A sink is a context manager that closes on exit.
    """

    kind: ClassVar[str] = "custom"

    def __init__(self, settings: AuditSettings | None = None, *, hasher: TextHasher | None = None) -> None:
        self.settings = settings if settings is not None else AuditSettings()
        self.hasher = hasher if hasher is not None else TextHasher(_salt(self.settings))
        if self.hasher.ephemeral:
            logger.info("mhguard audit: no salt in $%s; text hashes use a random salt and are not linkable "
                        "across runs", self.settings.salt_env)

    def build(self, decision: Decision, *, text: str | None = None, policy: Policy | None = None,
              stage: str | None = None, latency_ms: float | None = None, epoch: float | None = None) -> AuditRecord:
        """The record this sink would write for ``decision`` (hashed and redacted per its settings)."""
        return build_record(decision, text=text, policy=policy, stage=stage, latency_ms=latency_ms,
                            hasher=self.hasher, store_text=self.settings.store_text, epoch=epoch)

    def record(self, decision: Decision, *, text: str | None = None, policy: Policy | None = None,
               stage: str | None = None, latency_ms: float | None = None, epoch: float | None = None) -> AuditRecord:
        """Build and write the record of ``decision``; returns it once written."""
        rec = self.build(decision, text=text, policy=policy, stage=stage, latency_ms=latency_ms, epoch=epoch)
        self.write(rec)
        return rec

    @abc.abstractmethod
    def write(self, record: AuditRecord | Mapping[str, Any]) -> None:
        """Store one record (durably, per the fsync setting) or raise :class:`AuditError`."""

    def flush(self) -> None:  # noqa: B027 - optional for sinks that never buffer
        """Make every record written so far durable."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release the file; later writes raise :class:`AuditError`."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _as_record(record: AuditRecord | Mapping[str, Any]) -> AuditRecord:
    if isinstance(record, AuditRecord):
        return record
    if isinstance(record, Mapping):
        try:
            return AuditRecord.from_dict(record)
        except (TypeError, ValueError) as exc:
            raise AuditError(f"not an audit record: {exc}") from None
    raise AuditError(f"an audit record must be an AuditRecord or a mapping, not {type(record).__name__}")


def _encode(record: AuditRecord) -> str:
    try:
        return json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AuditError(f"audit record {record.record_id} is not JSON-serialisable: {exc}") from None


def _fsync_dir(path: Path) -> None:
    """Make a created or renamed directory entry durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- JSON lines -----------------------------------------------------------------------------------------
class JSONLSink(AuditSink):
    """One JSON object per line, appended.

    * Each record is one ``write(2)`` on an ``O_APPEND`` descriptor (no user-space buffer), so a crash of the
      process never loses an acknowledged record; ``fsync`` decides what survives an OS crash or power loss.
    * Writers in several threads and processes take an exclusive ``flock`` on ``<path>.lock`` per record, so
      lines never interleave and rotation is safe. A line torn by a killed writer is closed with a newline
      before the next record, so only the torn line itself is unreadable (the reader reports it).
    * ``rotate_bytes``: before a record would grow the file past it, ``audit.jsonl`` becomes ``audit.jsonl.1``
      (older files shift up; ``keep`` are kept) and a new file starts.
    * Files are created with mode 0600.
    """

    kind = "jsonl"

    def __init__(self, path: str | os.PathLike[str], settings: AuditSettings | None = None, *,
                 hasher: TextHasher | None = None) -> None:
        super().__init__(settings, hasher=hasher)
        if sink_kind(path) != "jsonl":
            raise AuditError(f"JSONLSink needs a .jsonl path, not {str(path)!r}")
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._unsynced = 0
        self._closed = False
        try:
            self._lock_fd = self._open_lock()
            with self._file_lock():
                self._open()
        except OSError as exc:
            raise AuditError(f"cannot open audit file {self.path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"JSONLSink({str(self.path)!r})"

    def _open_lock(self) -> int:
        return os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _open(self) -> None:
        existed = self.path.exists()
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.path, flags, 0o600)
        self._pid = os.getpid()
        if not existed and self.settings.fsync != "never":
            _fsync_dir(self.path.parent)

    def _check_fork(self) -> None:
        # flock belongs to the open file description, which a forked child shares with its parent: the child
        # opens its own lock and file descriptors (the inherited ones are left to the parent).
        if self._pid != os.getpid():
            self._lock_fd = self._open_lock()
            self._fd = None
            self._pid = os.getpid()

    def _current_fd(self) -> int:
        """Our descriptor, reopened after a fork or after another process rotated the file."""
        if self._fd is None:
            self._open()
        assert self._fd is not None
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            on_disk = None
        mine = os.fstat(self._fd)
        if on_disk is None or (on_disk.st_ino, on_disk.st_dev) != (mine.st_ino, mine.st_dev):
            os.close(self._fd)
            self._open()
            assert self._fd is not None
        return self._fd

    def _rotate(self) -> None:
        assert self._fd is not None
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        keep = self.settings.keep
        for i in range(keep - 1, 0, -1):
            older = Path(f"{self.path}.{i}")
            if older.exists():
                os.replace(older, f"{self.path}.{i + 1}")
        os.replace(self.path, f"{self.path}.1")
        # Files beyond ``keep`` (left by a run with a larger ``keep``) go too, so retention means what it says.
        extra = keep + 1
        while Path(f"{self.path}.{extra}").exists():
            os.remove(f"{self.path}.{extra}")
            extra += 1
        self._open()
        _fsync_dir(self.path.parent)

    def write(self, record: AuditRecord | Mapping[str, Any]) -> None:
        rec = _as_record(record)
        data = (_encode(rec) + "\n").encode("utf-8", "surrogatepass")
        with self._lock:
            if self._closed:
                raise AuditError(f"audit sink {self.path} is closed")
            try:
                self._check_fork()
                with self._file_lock():
                    fd = self._current_fd()
                    size = os.fstat(fd).st_size
                    rotate = self.settings.rotate_bytes
                    if rotate is not None and size > 0 and size + len(data) > rotate:
                        self._rotate()
                        fd = self._current_fd()
                        size = 0
                    if size > 0 and _last_byte(fd, size) != b"\n":
                        data = b"\n" + data  # close a line torn by a writer that was killed mid-write
                    _write_all(fd, data)
                    self._sync(fd)
            except OSError as exc:
                raise AuditError(f"cannot write audit record {rec.record_id} to {self.path}: {exc}") from exc

    def _sync(self, fd: int) -> None:
        mode = self.settings.fsync
        if mode == "always":
            os.fsync(fd)
        elif mode == "batch":
            self._unsynced += 1
            if self._unsynced >= self.settings.batch_records:
                os.fsync(fd)
                self._unsynced = 0

    def flush(self) -> None:
        with self._lock:
            if self._fd is not None and not self._closed and self._pid == os.getpid():
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    raise AuditError(f"cannot flush audit file {self.path}: {exc}") from exc
                self._unsynced = 0

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        with self._lock:
            self._closed = True
            if self._pid == os.getpid():
                for fd in (self._fd, self._lock_fd):
                    if fd is not None:
                        os.close(fd)
            self._fd = None


def _last_byte(fd: int, size: int) -> bytes:
    return os.pread(fd, 1, size - 1)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# ---- SQLite ---------------------------------------------------------------------------------------------
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS mhguard_audit ("
    " record_id TEXT PRIMARY KEY NOT NULL,"
    " epoch REAL NOT NULL,"
    " stage TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " risk TEXT NOT NULL,"
    " session_id TEXT,"
    " locale TEXT,"
    " policy TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " record TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS mhguard_audit_epoch ON mhguard_audit (epoch)",
    "CREATE INDEX IF NOT EXISTS mhguard_audit_session ON mhguard_audit (session_id)",
)
_SYNCHRONOUS = {"always": "FULL", "batch": "NORMAL", "never": "OFF"}


class SQLiteSink(AuditSink):
    """Records in one SQLite file (table ``mhguard_audit``; the full record as JSON in ``record``, indexed
    columns beside it).

    * WAL journal; one transaction per record, committed before :meth:`write` returns.
    * ``fsync: always`` -> ``synchronous=FULL`` (durable against power loss), ``batch`` -> ``NORMAL`` (durable
      against a process crash; the last commits may roll back on power loss until a checkpoint, which
      :meth:`flush` runs), ``never`` -> ``OFF``.
    * One connection per process, shared by its threads under a lock; processes queue on SQLite's write lock
      (up to ``timeout`` seconds).
    """

    kind = "sqlite"

    def __init__(self, path: str | os.PathLike[str], settings: AuditSettings | None = None, *,
                 hasher: TextHasher | None = None, timeout: float = 30.0) -> None:
        super().__init__(settings, hasher=hasher)
        if sink_kind(path) != "sqlite":
            raise AuditError(f"SQLiteSink needs a .db/.sqlite/.sqlite3 path, not {str(path)!r}")
        self.path = Path(path)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._closed = False
        try:
            # Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the same mode.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600))
            self._connection()
        except (sqlite3.Error, OSError) as exc:
            raise AuditError(f"cannot open audit database {self.path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SQLiteSink({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        try:
            self._init(conn)
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _init(self, conn: sqlite3.Connection) -> None:
        init_wal_schema(conn, _SCHEMA, timeout=self.timeout,
                        pragmas=[f"PRAGMA synchronous={_SYNCHRONOUS[self.settings.fsync]}"])

    def write(self, record: AuditRecord | Mapping[str, Any]) -> None:
        rec = _as_record(record)
        payload = _encode(rec)
        with self._lock:
            if self._closed:
                raise AuditError(f"audit sink {self.path} is closed")
            try:
                # Autocommit: the INSERT is its own transaction, committed (and synced) before returning.
                self._connection().execute(
                    "INSERT INTO mhguard_audit (record_id, epoch, stage, action, risk, session_id, locale, policy,"
                    " status, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.record_id, rec.epoch, rec.stage, rec.action, rec.risk, rec.session_id, rec.locale,
                     rec.policy, rec.status, payload),
                )
            except sqlite3.Error as exc:
                raise AuditError(f"cannot write audit record {rec.record_id} to {self.path}: {exc}") from exc

    def flush(self) -> None:
        with self._lock:
            if self._conn is None or self._closed or self._pid != os.getpid():
                return
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:
                raise AuditError(f"cannot flush audit database {self.path}: {exc}") from exc

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        with self._lock:
            self._closed = True
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def open_sink(path_or_config: str | os.PathLike[str] | AuditSettings | Mapping[str, Any], *,
              settings: AuditSettings | None = None) -> AuditSink:
    """Open the audit sink for a path (``.jsonl`` -> :class:`JSONLSink`, ``.db``/``.sqlite``/``.sqlite3`` ->
    :class:`SQLiteSink`), for :class:`AuditSettings`, or for a mapping of audit settings (the policy's
    ``audit:`` keys). ``settings`` supplies the other keys when a path is given (the path wins).

    >>> with open_sink("audit.db") as sink:          # doctest: +SKIP
    ...     sink.record(guard.check_input(text), text=text, policy=guard.policy)
    """
    if isinstance(path_or_config, Mapping):
        try:
            config = AuditSettings.model_validate(dict(path_or_config))
        except ValueError as exc:
            raise AuditError(f"invalid audit settings: {exc}") from None
    elif isinstance(path_or_config, AuditSettings):
        config = path_or_config
    elif isinstance(path_or_config, (str, os.PathLike)):
        base = settings if settings is not None else AuditSettings()
        path = os.fspath(path_or_config)
        sink_kind(path)
        rotate = base.rotate_bytes if path.lower().endswith(".jsonl") else None
        config = base.model_copy(update={"path": path, "rotate_bytes": rotate})
    else:
        raise AuditError(f"open_sink needs a path, AuditSettings or a mapping, not {type(path_or_config).__name__}")
    if config.path is None:
        raise AuditError("the audit settings have no path")
    if sink_kind(config.path) == "jsonl":
        return JSONLSink(config.path, config)
    return SQLiteSink(config.path, config)
