"""Per-conversation state that the guard needs to remember between turns.

Chatbot laws (NY GBL Art. 47, CA SB 243, Utah HB 452) make an operator disclose that the user is talking to an
AI at the start of a session, again every few hours, and after a long absence; the guard also remembers a
person's recent risk. A :class:`Session` records exactly what that needs, and nothing more:

* times (epoch seconds, UTC, as floats, so tests can inject a clock),
* which notices were shown and when,
* the risk tier of the latest user turns,
* a free-form, JSON-serialisable ``data`` dict for operators.

Privacy: a session never stores message text. (``data`` is the operator's; do not put message text in it.)

Stores keep sessions by id and offer an atomic read-modify-write, :meth:`SessionStore.update`:

* :class:`MemorySessionStore`: in process, thread-safe, optional least-recently-used eviction.
* :class:`SQLiteSessionStore`: one SQLite file, safe for many threads *and* processes, survives restarts.

Both stores hand out copies: changing a returned :class:`Session` changes nothing stored. Change a stored
session with ``update``::

    store.update(sid, lambda s: s.touch(now))
"""

from __future__ import annotations

import copy
import json
import math
import os
import sqlite3
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from typing_extensions import Self

from mhguard.errors import InputError, InputTypeError
from mhguard.sqlite_setup import init_wal_schema

__all__ = [
    "MAX_DISCLOSURES",
    "MAX_NOTICE_KIND_LENGTH",
    "MAX_RISK_HISTORY",
    "MAX_SESSION_ID_LENGTH",
    "MemorySessionStore",
    "SQLiteSessionStore",
    "Session",
    "SessionDataError",
    "SessionStore",
    "validate_session_id",
]

MAX_SESSION_ID_LENGTH = 256
"""Session ids are non-empty strings of at most this many characters."""

MAX_DISCLOSURES = 20
"""``Session.disclosed_at`` keeps the newest this many times."""

MAX_RISK_HISTORY = 50
"""``Session.risk_history`` keeps the newest this many entries."""

MAX_NOTICE_KIND_LENGTH = 128
"""Notice kinds (``"care_notice"``...) are non-empty strings of at most this many characters."""

_FORMAT_VERSION = 1


class SessionDataError(InputError):
    """Session data cannot be used: a stored payload is corrupt or has the wrong shape, or ``Session.data``
    is not JSON-serialisable. The message names the session and the field."""


# ---- validation helpers ---------------------------------------------------------------------------------
def validate_session_id(session_id: object) -> str:
    """Return ``session_id`` if it is a valid id (a non-empty ``str`` of at most 256 characters), else raise
    :class:`~mhguard.errors.InputError` (:class:`~mhguard.errors.InputTypeError` when it is not a ``str``)."""
    if not isinstance(session_id, str):
        raise InputTypeError(f"session id must be a str, not {type(session_id).__name__}")
    if not session_id:
        raise InputError("session id must not be empty")
    if len(session_id) > MAX_SESSION_ID_LENGTH:
        raise InputError(f"session id is {len(session_id)} characters long; the limit is {MAX_SESSION_ID_LENGTH}")
    return session_id


def _check_time(value: object, what: str) -> float:
    """A finite epoch time as a float; ``bool`` and non-numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputTypeError(f"{what} must be a number of epoch seconds, not {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result):
        raise InputError(f"{what} must be finite, not {result!r}")
    return result


def _check_kind(kind: object) -> str:
    if not isinstance(kind, str):
        raise InputTypeError(f"notice kind must be a str, not {type(kind).__name__}")
    if not kind or len(kind) > MAX_NOTICE_KIND_LENGTH:
        raise InputError(f"notice kind must be 1 to {MAX_NOTICE_KIND_LENGTH} characters long")
    return kind


def _check_tier(tier: object) -> str:
    value = tier.value if isinstance(tier, Enum) else tier  # accept mhguard.types.Tier as well as its value
    if not isinstance(value, str):
        raise InputTypeError(f"risk tier must be a str, not {type(tier).__name__}")
    if not value:
        raise InputError("risk tier must not be empty")
    return value


def _now(now: float | None) -> float:
    return time.time() if now is None else _check_time(now, "now")


# ---- the session ----------------------------------------------------------------------------------------
@dataclass
class Session:
    """What the guard remembers about one conversation. Never message text.

    Times are epoch seconds (UTC) as floats.
    """

    id: str
    locale: str | None = None
    created: float = 0.0
    """When the session was created; set by the store."""
    last_seen: float | None = None
    """Time of the latest user turn."""
    previous_seen: float | None = None
    """``last_seen`` before the latest user turn, to know how long the person was away."""
    disclosed_at: list[float] = field(default_factory=list)
    """Times an AI disclosure was shown, oldest first; the newest :data:`MAX_DISCLOSURES` are kept."""
    notices: dict[str, float] = field(default_factory=dict)
    """Notice kind (``"care_notice"``, ``"break_reminder"``, ``"minor_notice"``...) -> last time shown."""
    risk_history: list[tuple[float, str]] = field(default_factory=list)
    """``(time, tier value)`` of the latest user turns, oldest first; the newest :data:`MAX_RISK_HISTORY` kept."""
    data: dict[str, Any] = field(default_factory=dict)
    """Free-form, JSON-serialisable data for operators."""

    def __post_init__(self) -> None:
        validate_session_id(self.id)

    # -- helpers ------------------------------------------------------------------------------------------
    def touch(self, now: float) -> None:
        """Record a new user turn at ``now``: ``previous_seen = last_seen; last_seen = now``."""
        now = _check_time(now, "now")
        self.previous_seen = self.last_seen
        self.last_seen = now

    def record_disclosure(self, now: float) -> None:
        """Record that an AI disclosure was shown at ``now`` (keeps the newest :data:`MAX_DISCLOSURES`)."""
        self.disclosed_at.append(_check_time(now, "now"))
        if len(self.disclosed_at) > MAX_DISCLOSURES:
            del self.disclosed_at[:-MAX_DISCLOSURES]

    def record_notice(self, kind: str, now: float) -> None:
        """Record that a notice of ``kind`` was shown at ``now``."""
        self.notices[_check_kind(kind)] = _check_time(now, "now")

    def record_risk(self, now: float, tier: str) -> None:
        """Record the risk tier of a user turn (a :class:`~mhguard.types.Tier` or its value), keeping the newest
        :data:`MAX_RISK_HISTORY`."""
        self.risk_history.append((_check_time(now, "now"), _check_tier(tier)))
        if len(self.risk_history) > MAX_RISK_HISTORY:
            del self.risk_history[:-MAX_RISK_HISTORY]

    @property
    def last_disclosed(self) -> float | None:
        """When an AI disclosure was last shown, or ``None`` if never."""
        return self.disclosed_at[-1] if self.disclosed_at else None

    # -- serialisation ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (a deep copy; nothing in it is shared with the session)."""
        return {
            "version": _FORMAT_VERSION,
            "id": self.id,
            "locale": self.locale,
            "created": self.created,
            "last_seen": self.last_seen,
            "previous_seen": self.previous_seen,
            "disclosed_at": list(self.disclosed_at),
            "notices": dict(self.notices),
            "risk_history": [[t, tier] for t, tier in self.risk_history],
            "data": copy.deepcopy(self.data),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        """Build a session from :meth:`to_dict` output (for instance after a JSON round trip).

        Unknown keys are ignored and missing ones take their defaults (only ``id`` is required); lists longer
        than their bound are cut to the newest entries. Data of the wrong shape raises
        :class:`SessionDataError`, naming the field.
        """
        if not isinstance(data, Mapping):
            raise SessionDataError(f"session data must be a JSON object, not {type(data).__name__}")
        raw_id = data.get("id")
        try:
            sid = validate_session_id(raw_id)
        except InputError as exc:
            raise SessionDataError(f"session data has no valid 'id': {exc}") from None
        where = f"session {sid!r}"

        def bad(name: str, expected: str, value: object) -> SessionDataError:
            return SessionDataError(f"{where}: field {name!r} must be {expected}, not {_describe(value)}")

        def time_or_none(name: str) -> float | None:
            value = data.get(name)
            if value is None:
                return None
            try:
                return _check_time(value, name)
            except InputError:
                raise bad(name, "a finite number or null", value) from None

        locale = data.get("locale")
        if locale is not None and not isinstance(locale, str):
            raise bad("locale", "a string or null", locale)
        created = time_or_none("created")

        disclosed_raw = data.get("disclosed_at")
        disclosed: list[float] = []
        if disclosed_raw is not None:
            if not isinstance(disclosed_raw, (list, tuple)):
                raise bad("disclosed_at", "a list of times", disclosed_raw)
            for i, value in enumerate(disclosed_raw):
                try:
                    disclosed.append(_check_time(value, "disclosed_at"))
                except InputError:
                    raise bad(f"disclosed_at[{i}]", "a finite number", value) from None

        notices_raw = data.get("notices")
        notices: dict[str, float] = {}
        if notices_raw is not None:
            if not isinstance(notices_raw, Mapping):
                raise bad("notices", "an object of kind -> time", notices_raw)
            for kind, value in notices_raw.items():
                try:
                    notices[_check_kind(kind)] = _check_time(value, "notice time")
                except InputError:
                    raise bad(f"notices[{kind!r}]", "a finite number under a non-empty kind", value) from None

        risk_raw = data.get("risk_history")
        risk: list[tuple[float, str]] = []
        if risk_raw is not None:
            if not isinstance(risk_raw, (list, tuple)):
                raise bad("risk_history", "a list of [time, tier] pairs", risk_raw)
            for i, entry in enumerate(risk_raw):
                if not isinstance(entry, (list, tuple)) or len(entry) != 2:
                    raise bad(f"risk_history[{i}]", "a [time, tier] pair", entry)
                try:
                    risk.append((_check_time(entry[0], "risk time"), _check_tier(entry[1])))
                except InputError:
                    raise bad(f"risk_history[{i}]", "a [time, tier] pair", entry) from None

        extra = data.get("data")
        if extra is None:
            extra = {}
        elif not isinstance(extra, Mapping):
            raise bad("data", "an object", extra)

        return cls(
            id=sid,
            locale=locale,
            created=0.0 if created is None else created,
            last_seen=time_or_none("last_seen"),
            previous_seen=time_or_none("previous_seen"),
            disclosed_at=disclosed[-MAX_DISCLOSURES:],
            notices=notices,
            risk_history=risk[-MAX_RISK_HISTORY:],
            data=copy.deepcopy(dict(extra)),
        )


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _dumps(session: Session) -> str:
    """Serialise a session to strict JSON, or raise :class:`SessionDataError`."""
    try:
        return json.dumps(session.to_dict(), allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise SessionDataError(f"session {session.id!r}: data is not JSON-serialisable: {exc}") from None


def _loads(payload: object, session_id: str, source: str) -> Session:
    """Parse a stored payload, or raise :class:`SessionDataError` naming the session and where it came from."""
    if not isinstance(payload, str):
        raise SessionDataError(f"session {session_id!r} in {source}: stored payload is a "
                               f"{type(payload).__name__}, not JSON text")
    try:
        raw = json.loads(payload)
    except ValueError as exc:  # json.JSONDecodeError
        raise SessionDataError(f"session {session_id!r} in {source}: stored payload is not valid JSON ({exc}); "
                               "delete() the session to start it afresh") from None
    except RecursionError:
        raise SessionDataError(f"session {session_id!r} in {source}: stored payload is nested too deeply") from None
    try:
        session = Session.from_dict(raw)
    except SessionDataError as exc:
        raise SessionDataError(f"corrupt session {session_id!r} in {source}: {exc}; "
                               "delete() the session to start it afresh") from None
    if session.id != session_id:
        raise SessionDataError(f"session {session_id!r} in {source}: stored payload belongs to {session.id!r}")
    return session


def _apply(session: Session, fn: Callable[[Session], None]) -> None:
    sid = session.id
    fn(session)
    if session.id != sid:
        raise InputError(f"an update must not change the session id ({sid!r} -> {session.id!r})")


# ---- the store protocol ---------------------------------------------------------------------------------
@runtime_checkable
class SessionStore(Protocol):
    """Where sessions live. Implementations must make :meth:`update` atomic."""

    def get(self, session_id: str) -> Session | None:
        """The stored session, or ``None``."""
        ...

    def get_or_create(self, session_id: str, *, locale: str | None = None, now: float | None = None) -> Session:
        """The stored session, created (``created = now``) and saved if missing."""
        ...

    def update(self, session_id: str, fn: Callable[[Session], None], *, locale: str | None = None,
               now: float | None = None) -> Session:
        """Atomic read-modify-write: load (or create), apply ``fn``, save; returns the saved session."""
        ...

    def delete(self, session_id: str) -> None:
        """Forget a session (nothing happens if it does not exist)."""
        ...


def _activity(session: Session) -> float:
    """When the session was last active: its latest user turn, or its creation."""
    return session.last_seen if session.last_seen is not None else session.created


# ---- in memory ------------------------------------------------------------------------------------------
class MemorySessionStore:
    """Sessions in a dict, for one process. Thread-safe.

    ``max_sessions`` bounds memory: when a new session would exceed it, the least recently used one (by
    ``get``, ``get_or_create`` or ``update``) is evicted.

    ``locale``: a new session takes it; ``get_or_create`` fills it into a session that has none; ``update``
    stores it (the latest wins) before calling ``fn``. ``fn`` must not call the store.
    """

    def __init__(self, max_sessions: int | None = None) -> None:
        if max_sessions is not None and (isinstance(max_sessions, bool) or not isinstance(max_sessions, int)
                                         or max_sessions < 1):
            raise ValueError(f"max_sessions must be a positive int or None, not {max_sessions!r}")
        self.max_sessions = max_sessions
        self._items: OrderedDict[str, str] = OrderedDict()  # id -> JSON payload, least recently used first
        self._lock = threading.RLock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, session_id: object) -> bool:
        with self._lock:
            return session_id in self._items

    def _load(self, session_id: str) -> Session | None:
        payload = self._items.get(session_id)
        if payload is None:
            return None
        self._items.move_to_end(session_id)
        return _loads(payload, session_id, "memory")

    def _save(self, session: Session) -> None:
        payload = _dumps(session)
        self._items[session.id] = payload
        self._items.move_to_end(session.id)
        if self.max_sessions is not None:
            while len(self._items) > self.max_sessions:
                self._items.popitem(last=False)

    def get(self, session_id: str) -> Session | None:
        validate_session_id(session_id)
        with self._lock:
            return self._load(session_id)

    def get_or_create(self, session_id: str, *, locale: str | None = None, now: float | None = None) -> Session:
        validate_session_id(session_id)
        created = _now(now)
        with self._lock:
            session = self._load(session_id)
            if session is None:
                session = Session(id=session_id, locale=locale, created=created)
            elif locale is None or session.locale is not None:
                return session
            else:
                session.locale = locale
            self._save(session)
            return session

    def update(self, session_id: str, fn: Callable[[Session], None], *, locale: str | None = None,
               now: float | None = None) -> Session:
        validate_session_id(session_id)
        created = _now(now)
        with self._lock:
            session = self._load(session_id) or Session(id=session_id, created=created)
            if locale is not None:
                session.locale = locale
            _apply(session, fn)
            self._save(session)  # nothing is saved if fn raised
            return session

    def delete(self, session_id: str) -> None:
        validate_session_id(session_id)
        with self._lock:
            self._items.pop(session_id, None)

    def prune(self, older_than: float) -> int:
        """Delete sessions not seen since ``older_than`` (last user turn, or creation if none); returns how
        many. A corrupt session is kept (it is only ever in memory if someone put it there)."""
        cutoff = _check_time(older_than, "older_than")
        with self._lock:
            stale: list[str] = []
            for sid, payload in self._items.items():
                try:
                    if _activity(_loads(payload, sid, "memory")) < cutoff:
                        stale.append(sid)
                except SessionDataError:
                    continue
            for sid in stale:
                del self._items[sid]
            return len(stale)


# ---- SQLite ---------------------------------------------------------------------------------------------
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS mhguard_sessions ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " payload TEXT NOT NULL,"
    " updated REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS mhguard_sessions_updated ON mhguard_sessions (updated)",
)


class _Conn:
    """Holds one thread's connection. When the thread ends its thread-local copy is dropped, this holder is
    collected and the connection closes with it; the store only keeps a weak reference for :meth:`close`."""

    __slots__ = ("__weakref__", "conn", "pid")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.pid = os.getpid()


class SQLiteSessionStore:
    """Sessions in one SQLite file, shared safely by many threads and processes; survives restarts.

    * One table ``mhguard_sessions (id TEXT PRIMARY KEY, payload TEXT (JSON), updated REAL)``, where ``updated``
      is the session's last activity (its latest user turn, or its creation) and is what :meth:`prune` uses.
    * WAL journal mode, so readers do not block the writer.
    * :meth:`update` runs in ``BEGIN IMMEDIATE ... COMMIT``: concurrent writers, in threads or processes, queue
      for the write lock (up to ``timeout`` seconds) and never lose each other's updates. If ``fn`` raises,
      the transaction is rolled back and nothing changes.
    * One connection per thread (and per process: a forked child opens its own).
    * A corrupt row raises :class:`SessionDataError` naming the session; ``delete()`` it to start afresh.

    Call :meth:`close` (or use the store as a context manager) when done, once no operation is in progress.
    ``fn`` must not call the store. An in-memory database (``":memory:"``) is refused: use
    :class:`MemorySessionStore`.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be a str or Path, not {type(path).__name__}")
        text = str(path)
        if text in ("", ":memory:") or (text.startswith("file:") and "memory" in text):
            raise ValueError("SQLiteSessionStore needs a database file; use MemorySessionStore for memory")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
        if not math.isfinite(timeout) or timeout < 0:
            raise ValueError(f"timeout must be a finite number of seconds >= 0, not {timeout!r}")
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()
        self._conns: weakref.WeakSet[_Conn] = weakref.WeakSet()
        self._conns_lock = threading.Lock()
        self._closed = False
        self._schema_ready = False
        self._conn()  # create the schema now, so a bad path fails here

    # -- connections --------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError(f"SQLiteSessionStore({str(self.path)!r}) is closed")
        holder: _Conn | None = getattr(self._local, "holder", None)
        if holder is not None and holder.pid == os.getpid():
            return holder.conn
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        try:
            if not self._schema_ready:
                self._init_schema(conn)
        except BaseException:
            conn.close()
            raise
        holder = _Conn(conn)
        self._local.holder = holder
        with self._conns_lock:
            self._conns.add(holder)
        return conn

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        init_wal_schema(conn, _SCHEMA, timeout=self.timeout)
        self._schema_ready = True

    def close(self) -> None:
        """Close every connection this store opened. Later operations raise ``RuntimeError``."""
        self._closed = True
        with self._conns_lock:
            holders = list(self._conns)
            self._conns.clear()
        for holder in holders:
            if holder.pid == os.getpid():
                holder.conn.close()
        self._local = threading.local()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __len__(self) -> int:
        row = self._conn().execute("SELECT COUNT(*) FROM mhguard_sessions").fetchone()
        return int(row[0])

    def __contains__(self, session_id: object) -> bool:
        if not isinstance(session_id, str):
            return False
        row = self._conn().execute("SELECT 1 FROM mhguard_sessions WHERE id = ?", (session_id,)).fetchone()
        return row is not None

    # -- rows ---------------------------------------------------------------------------------------------
    def _load(self, conn: sqlite3.Connection, session_id: str) -> Session | None:
        row = conn.execute("SELECT payload FROM mhguard_sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        return _loads(row[0], session_id, str(self.path))

    @staticmethod
    def _save(conn: sqlite3.Connection, session: Session) -> None:
        conn.execute(
            "INSERT INTO mhguard_sessions (id, payload, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET payload = excluded.payload, updated = excluded.updated",
            (session.id, _dumps(session), _activity(session)),
        )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` (take the write lock now, waiting up to ``timeout``) ... ``COMMIT``, or
        ``ROLLBACK`` if the body raised."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- the store ----------------------------------------------------------------------------------------
    def get(self, session_id: str) -> Session | None:
        validate_session_id(session_id)
        return self._load(self._conn(), session_id)

    def get_or_create(self, session_id: str, *, locale: str | None = None, now: float | None = None) -> Session:
        validate_session_id(session_id)
        created = _now(now)
        session = self.get(session_id)
        if session is not None and (locale is None or session.locale is not None):
            return session
        with self._write() as conn:
            session = self._load(conn, session_id)
            if session is None:
                session = Session(id=session_id, locale=locale, created=created)
            elif locale is None or session.locale is not None:
                return session  # someone else created or filled it meanwhile
            else:
                session.locale = locale
            self._save(conn, session)
        return session

    def update(self, session_id: str, fn: Callable[[Session], None], *, locale: str | None = None,
               now: float | None = None) -> Session:
        validate_session_id(session_id)
        created = _now(now)
        with self._write() as conn:
            session = self._load(conn, session_id) or Session(id=session_id, created=created)
            if locale is not None:
                session.locale = locale
            _apply(session, fn)
            self._save(conn, session)
        return session

    def delete(self, session_id: str) -> None:
        validate_session_id(session_id)
        self._conn().execute("DELETE FROM mhguard_sessions WHERE id = ?", (session_id,))

    def prune(self, older_than: float) -> int:
        """Delete sessions not seen since ``older_than`` (their latest user turn, or creation if none);
        returns how many were deleted."""
        cutoff = _check_time(older_than, "older_than")
        cursor = self._conn().execute("DELETE FROM mhguard_sessions WHERE updated < ?", (cutoff,))
        return max(cursor.rowcount, 0)
