from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mhguard.errors import InputError, InputTypeError, MhguardError
from mhguard.sessions import (
    MAX_DISCLOSURES,
    MAX_RISK_HISTORY,
    MemorySessionStore,
    Session,
    SessionDataError,
    SessionStore,
    SQLiteSessionStore,
)
from mhguard.types import Tier

T0 = 1_700_000_000.0


# ---- workers for the multi-process test (module level so 'spawn' can import them) ------------------------
def _increment_n(session: Session) -> None:
    session.data["n"] = session.data.get("n", 0) + 1


def _process_worker(path: str, worker: int, count: int, start: Any) -> None:
    start.wait(30)
    with SQLiteSessionStore(path) as store:
        for i in range(count):
            def fn(session: Session, i: int = i) -> None:
                _increment_n(session)
                session.record_risk(T0 + worker * 1000 + i, "low")
            store.update("shared", fn, now=T0)


# ---- fixtures ---------------------------------------------------------------------------------------------
@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemorySessionStore | SQLiteSessionStore]:
    if request.param == "memory":
        yield MemorySessionStore()
    else:
        with SQLiteSessionStore(tmp_path / "sessions.db") as sqlite_store:
            yield sqlite_store


def _full_session() -> Session:
    s = Session(id="user-1", locale="en-US", created=T0)
    s.touch(T0 + 10)
    s.touch(T0 + 20)
    s.record_disclosure(T0 + 10)
    s.record_notice("care_notice", T0 + 15)
    s.record_risk(T0 + 10, "none")
    s.record_risk(T0 + 20, Tier.HIGH)
    s.data = {"plan": "free", "nested": {"a": [1, 2.5, None, True]}, "ünï": "côdé"}
    return s


# ---- the session ------------------------------------------------------------------------------------------
def test_session_defaults_are_not_shared() -> None:
    a, b = Session(id="a"), Session(id="b")
    a.disclosed_at.append(1.0)
    a.notices["x"] = 1.0
    a.risk_history.append((1.0, "low"))
    a.data["k"] = 1
    assert b.disclosed_at == [] and b.notices == {} and b.risk_history == [] and b.data == {}
    assert a.created == 0.0 and a.last_seen is None and a.previous_seen is None and a.locale is None


def test_helpers() -> None:
    s = Session(id="s")
    assert s.last_disclosed is None
    s.touch(T0)
    assert (s.previous_seen, s.last_seen) == (None, T0)
    s.touch(T0 + 3600)
    assert (s.previous_seen, s.last_seen) == (T0, T0 + 3600)
    s.record_disclosure(T0)
    s.record_disclosure(T0 + 5)
    assert s.last_disclosed == T0 + 5
    s.record_notice("break_reminder", T0)
    s.record_notice("break_reminder", T0 + 9)
    assert s.notices == {"break_reminder": T0 + 9}
    s.record_risk(T0, Tier.MODERATE)  # an enum member is stored as its value
    assert s.risk_history == [(T0, "moderate")]
    assert type(s.risk_history[0][1]) is str
    s.touch(5)  # ints are accepted and stored as floats
    assert isinstance(s.last_seen, float)


def test_helpers_refuse_bad_values() -> None:
    s = Session(id="s")
    for bad in (float("nan"), float("inf"), "1", None, True):
        with pytest.raises(InputError):
            s.touch(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        s.record_notice("", T0)
    with pytest.raises(InputError):
        s.record_risk(T0, 3)  # type: ignore[arg-type]
    assert s.last_seen is None and s.notices == {} and s.risk_history == []


def test_bounded_lists() -> None:
    s = Session(id="s")
    for i in range(MAX_DISCLOSURES + 15):
        s.record_disclosure(T0 + i)
    assert MAX_DISCLOSURES == 20
    assert s.disclosed_at == [T0 + i for i in range(15, 35)]
    assert s.last_disclosed == T0 + 34
    for i in range(MAX_RISK_HISTORY + 30):
        s.record_risk(T0 + i, "low" if i % 2 else "high")
    assert MAX_RISK_HISTORY == 50
    assert len(s.risk_history) == 50
    assert s.risk_history[0] == (T0 + 30, "high") and s.risk_history[-1] == (T0 + 79, "low")


def test_round_trip_through_json() -> None:
    s = _full_session()
    d = s.to_dict()
    back = Session.from_dict(json.loads(json.dumps(d)))
    assert back == s
    assert back.risk_history == [(T0 + 10, "none"), (T0 + 20, "high")]
    assert isinstance(back.risk_history[0], tuple)
    # to_dict is a copy: changing it does not change the session
    d["data"]["nested"]["a"].append(99)
    d["disclosed_at"].append(0.0)
    assert s.data["nested"]["a"] == [1, 2.5, None, True] and s.disclosed_at == [T0 + 10]


def test_from_dict_ignores_unknown_and_defaults_missing() -> None:
    s = Session.from_dict({"id": "x", "future_field": {"whatever": 1}, "version": 99})
    assert s == Session(id="x")
    # over-long lists in stored data are cut to the newest entries
    s = Session.from_dict({"id": "x", "disclosed_at": list(range(30)),
                           "risk_history": [[i, "low"] for i in range(60)]})
    assert s.disclosed_at == [float(i) for i in range(10, 30)]
    assert len(s.risk_history) == 50 and s.risk_history[0] == (10.0, "low")


@pytest.mark.parametrize("payload, field", [
    ({"id": "x", "disclosed_at": "yesterday"}, "disclosed_at"),
    ({"id": "x", "disclosed_at": [1, "2"]}, "disclosed_at[1]"),
    ({"id": "x", "notices": {"care_notice": "soon"}}, "notices"),
    ({"id": "x", "risk_history": [[1.0]]}, "risk_history[0]"),
    ({"id": "x", "last_seen": "now"}, "last_seen"),
    ({"id": "x", "created": True}, "created"),
    ({"id": "x", "locale": 7}, "locale"),
    ({"id": "x", "data": [1, 2]}, "data"),
])
def test_from_dict_wrong_shapes_name_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(SessionDataError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Session.from_dict(payload)


def test_from_dict_requires_a_valid_id() -> None:
    payloads: list[Any] = [{}, {"id": ""}, {"id": 3}, []]
    for payload in payloads:
        with pytest.raises(SessionDataError):
            Session.from_dict(payload)
    assert issubclass(SessionDataError, InputError) and issubclass(SessionDataError, MhguardError)


@pytest.mark.parametrize("bad", ["", "x" * 257, None, 12, b"bytes"])
def test_bad_session_ids(bad: Any, store: MemorySessionStore | SQLiteSessionStore) -> None:
    with pytest.raises(InputError):
        Session(id=bad)
    with pytest.raises(InputError):
        store.get(bad)
    with pytest.raises(InputError):
        store.get_or_create(bad)
    with pytest.raises(InputError):
        store.update(bad, _increment_n)
    with pytest.raises(InputError):
        store.delete(bad)
    if not isinstance(bad, str):
        with pytest.raises(InputTypeError):
            store.get(bad)
    assert len(store) == 0


def test_longest_id_is_accepted(store: MemorySessionStore | SQLiteSessionStore) -> None:
    sid = "x" * 256
    assert store.get_or_create(sid, now=T0).id == sid


# ---- both stores ------------------------------------------------------------------------------------------
def test_store_protocol(store: MemorySessionStore | SQLiteSessionStore) -> None:
    assert isinstance(store, SessionStore)


def test_get_or_create_update_delete(store: MemorySessionStore | SQLiteSessionStore) -> None:
    assert store.get("a") is None
    s = store.get_or_create("a", locale="de-DE", now=T0)
    assert (s.id, s.locale, s.created) == ("a", "de-DE", T0)
    assert store.get_or_create("a", locale="fr-FR", now=T0 + 50) == s  # existing: unchanged
    assert store.get("a") == s

    def turn(session: Session) -> None:
        session.touch(T0 + 60)
        session.record_disclosure(T0 + 60)
        session.record_risk(T0 + 60, Tier.LOW)

    saved = store.update("a", turn, now=T0 + 60)
    assert saved.last_seen == T0 + 60 and saved.created == T0
    assert store.get("a") == saved

    # update creates a missing session, with created = now, and records the locale
    b = store.update("b", lambda s: s.record_notice("minor_notice", T0 + 5), locale="es-MX", now=T0 + 5)
    assert (b.created, b.locale, b.notices) == (T0 + 5, "es-MX", {"minor_notice": T0 + 5})

    store.delete("a")
    store.delete("a")  # deleting a missing session is fine
    assert store.get("a") is None and store.get("b") == b


def test_get_or_create_fills_a_missing_locale(store: MemorySessionStore | SQLiteSessionStore) -> None:
    store.get_or_create("a", now=T0)
    assert store.get_or_create("a", locale="en-GB").locale == "en-GB"
    assert store.get("a").locale == "en-GB"  # type: ignore[union-attr]


def test_returned_sessions_are_copies(store: MemorySessionStore | SQLiteSessionStore) -> None:
    s = store.get_or_create("a", now=T0)
    s.data["x"] = 1
    s.touch(T0 + 1)
    assert store.get("a") == Session(id="a", created=T0)


def test_failed_update_changes_nothing(store: MemorySessionStore | SQLiteSessionStore) -> None:
    store.update("a", _increment_n, now=T0)

    def boom(session: Session) -> None:
        _increment_n(session)
        raise RuntimeError("operator bug")

    with pytest.raises(RuntimeError, match="operator bug"):
        store.update("a", boom)
    with pytest.raises(RuntimeError):
        store.update("new", boom)
    assert store.get("a").data == {"n": 1}  # type: ignore[union-attr]
    assert store.get("new") is None
    # the store still works afterwards (no transaction left open)
    assert store.update("a", _increment_n).data == {"n": 2}


def test_update_must_not_change_the_id(store: MemorySessionStore | SQLiteSessionStore) -> None:
    def rename(session: Session) -> None:
        session.id = "other"

    with pytest.raises(InputError):
        store.update("a", rename, now=T0)
    assert store.get("a") is None and store.get("other") is None


def test_unserialisable_data_is_refused(store: MemorySessionStore | SQLiteSessionStore) -> None:
    def put(value: object) -> Any:
        return lambda s: s.data.__setitem__("bad", value)

    for value in (object(), {1, 2}, float("nan")):
        with pytest.raises(SessionDataError, match="JSON"):
            store.update("a", put(value), now=T0)
    assert store.get("a") is None


def test_prune(store: MemorySessionStore | SQLiteSessionStore) -> None:
    store.get_or_create("never-seen-old", now=T0)
    store.get_or_create("never-seen-new", now=T0 + 500)
    store.update("seen-old", lambda s: s.touch(T0 + 100), now=T0)
    store.update("seen-recently", lambda s: s.touch(T0 + 1000), now=T0)
    assert store.prune(T0 + 400) == 2
    assert store.get("never-seen-old") is None and store.get("seen-old") is None
    assert store.get("never-seen-new") is not None and store.get("seen-recently") is not None
    assert store.prune(T0 + 400) == 0


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_concurrent_updates_from_threads_lose_nothing(kind: str, tmp_path: Path) -> None:
    store: MemorySessionStore | SQLiteSessionStore
    store = MemorySessionStore() if kind == "memory" else SQLiteSessionStore(tmp_path / "threads.db")
    threads, per_thread = 8, 50
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                def fn(session: Session, i: int = i) -> None:
                    _increment_n(session)
                    session.data[f"w{worker}"] = session.data.get(f"w{worker}", 0) + 1
                    session.record_risk(T0 + worker * 1000 + i, "concern")
                store.update("shared", fn, now=T0)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    s = store.get("shared")
    assert s is not None
    assert s.data["n"] == threads * per_thread == 400
    assert all(s.data[f"w{w}"] == per_thread for w in range(threads))
    assert len(s.risk_history) == MAX_RISK_HISTORY
    if isinstance(store, SQLiteSessionStore):
        store.close()


def test_concurrent_updates_from_processes_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "procs.db")
    SQLiteSessionStore(path).close()  # create the file first
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    processes, per_process = 4, 50
    procs = [ctx.Process(target=_process_worker, args=(path, w, per_process, start)) for w in range(processes)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * processes
    with SQLiteSessionStore(path) as store:
        s = store.get("shared")
    assert s is not None
    assert s.data["n"] == processes * per_process == 200
    assert len(s.risk_history) == MAX_RISK_HISTORY


# ---- memory store -----------------------------------------------------------------------------------------
def test_memory_store_lru_eviction() -> None:
    store = MemorySessionStore(max_sessions=3)
    for sid in ("a", "b", "c"):
        store.get_or_create(sid, now=T0)
    store.get("a")  # a is now the most recently used, b the least
    store.get_or_create("d", now=T0)
    assert len(store) == 3
    assert store.get("b") is None
    assert [sid for sid in ("a", "c", "d") if store.get(sid) is not None] == ["a", "c", "d"]
    store.update("c", _increment_n)  # order of use now: a, d, c
    store.update("e", _increment_n)  # evicts a
    assert "a" not in store and all(sid in store for sid in ("c", "d", "e"))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_memory_store_bad_max_sessions(bad: Any) -> None:
    with pytest.raises(ValueError):
        MemorySessionStore(max_sessions=bad)


# ---- SQLite store -----------------------------------------------------------------------------------------
def test_sqlite_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "persist.db"
    first = SQLiteSessionStore(path)
    def turn(session: Session) -> None:
        session.touch(T0 + 1)
        session.record_disclosure(T0 + 1)

    first.update("a", turn, locale="en-US", now=T0)
    saved = first.get("a")
    first.close()
    with pytest.raises(RuntimeError, match="closed"):
        first.get("a")

    with SQLiteSessionStore(str(path)) as second:  # a str path works too
        assert second.get("a") == saved
        assert len(second) == 1 and "a" in second
        second.update("a", lambda s: s.touch(T0 + 2))

    with SQLiteSessionStore(path) as third:
        s = third.get("a")
        assert s is not None and (s.previous_seen, s.last_seen, s.locale) == (T0 + 1, T0 + 2, "en-US")

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        columns = [(row[1], row[2].upper()) for row in conn.execute("PRAGMA table_info(mhguard_sessions)")]
        assert columns == [("id", "TEXT"), ("payload", "TEXT"), ("updated", "REAL")]
        payload = conn.execute("SELECT payload FROM mhguard_sessions").fetchone()[0]
        assert json.loads(payload)["id"] == "a"
    finally:
        conn.close()


def test_sqlite_store_used_from_another_thread(tmp_path: Path) -> None:
    with SQLiteSessionStore(tmp_path / "t.db") as store:
        store.get_or_create("a", now=T0)
        seen: list[Session | None] = []
        t = threading.Thread(target=lambda: seen.append(store.get("a")))
        t.start()
        t.join()
        assert seen == [store.get("a")]


def test_sqlite_refuses_in_memory_database() -> None:
    with pytest.raises(ValueError):
        SQLiteSessionStore(":memory:")


@pytest.mark.parametrize("payload, match", [
    ("not json {", "not valid JSON"),
    ('["a", "list"]', "JSON object"),
    ('{"id": "a", "risk_history": "lots"}', "risk_history"),
    ('{"id": "someone-else"}', "someone-else"),
])
def test_sqlite_corrupt_payload_gives_a_clear_error(tmp_path: Path, payload: str, match: str) -> None:
    path = tmp_path / "corrupt.db"
    with SQLiteSessionStore(path) as store:
        store.get_or_create("a", now=T0)
        conn = sqlite3.connect(path)
        try:
            with conn:
                conn.execute("UPDATE mhguard_sessions SET payload = ? WHERE id = 'a'", (payload,))
        finally:
            conn.close()
        with pytest.raises(SessionDataError, match=match) as info:
            store.get("a")
        assert "'a'" in str(info.value)
        assert isinstance(info.value, InputError) and isinstance(info.value, MhguardError)
        with pytest.raises(SessionDataError):
            store.update("a", _increment_n)
        with pytest.raises(SessionDataError):
            store.get_or_create("a")
        # the store still works: other sessions, and deleting the corrupt one starts it afresh
        assert store.update("b", _increment_n, now=T0).data == {"n": 1}
        store.delete("a")
        assert store.update("a", _increment_n, now=T0).data == {"n": 1}
