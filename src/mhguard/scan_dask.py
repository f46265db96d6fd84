"""Batch screening on Dask (``pip install 'mhguard[dask]'``): the same records as ``mhguard scan``.

::

    import dask.bag as db
    from mhguard.scan_dask import scan_bag, summarize_bag

    rows = db.read_text("transcripts-*.jsonl")            # JSON lines, or a bag of dicts
    records = scan_bag(rows, policy="default")             # a bag of decision records (no text by default)
    records.map(json.dumps).to_textfiles("decisions-*.jsonl")
    summary = summarize_bag(records).compute()             # the counts of DECISIONS.summary.json

Each Dask worker process builds one :class:`~mhguard.guard.Guard` per policy and keeps it (building one
loads the lexicons, which takes seconds); its threads share it. Partitions call
:func:`mhguard.scan.screen_record`, so every row gives at least one record and a bad row gives an error
record, never an exception. Elements may be ``(line, row)`` pairs to put a line number in the records.
"""

from __future__ import annotations

import functools
import importlib
import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mhguard.guard import Guard
from mhguard.scan import ScanCounts, screen_record

__all__ = ["cached_guard", "scan_bag", "screen_partition", "summarize_bag"]

PolicyArg = str | Path | Mapping[str, Any]

_GUARDS: dict[str, Guard] = {}
_LOCK = threading.Lock()


def _key(policy: PolicyArg) -> str:
    if isinstance(policy, Mapping):
        return "dict:" + json.dumps(policy, sort_keys=True, default=str)
    return f"{type(policy).__name__}:{policy}"


def cached_guard(policy: PolicyArg) -> Guard:
    """This process's guard for ``policy``, built on first use. The lock makes concurrent threads of one
    worker wait for one build instead of each building its own."""
    key = _key(policy)
    guard = _GUARDS.get(key)
    if guard is None:
        with _LOCK:
            guard = _GUARDS.get(key)
            if guard is None:
                guard = _GUARDS[key] = Guard.from_policy(policy)
    return guard


def screen_partition(rows: Iterable[Any], *, policy: PolicyArg = "default", locale: str | None = None,
                     include_text: bool = False) -> list[dict[str, Any]]:
    """Decision records of one partition. An element is a row (dict or JSON line) or a ``(line, row)`` pair."""
    guard = cached_guard(policy)
    out: list[dict[str, Any]] = []
    for element in rows:
        line: int | None = None
        row = element
        if isinstance(element, tuple) and len(element) == 2 and isinstance(element[0], int):
            line, row = element
        out.extend(screen_record(guard, row, line=line, locale=locale, include_text=include_text))
    return out


def _bag_module() -> Any:
    try:
        # By name: dask is an optional extra, and mypy need not know its types to check this module.
        return importlib.import_module("dask.bag")
    except ImportError as exc:
        raise ImportError("mhguard.scan_dask needs Dask: pip install 'mhguard[dask]'") from exc


def scan_bag(bag: Any, policy: PolicyArg = "default", *, locale: str | None = None,
             include_text: bool = False) -> Any:
    """A lazy ``dask.bag.Bag`` of decision records for a bag of rows (see :func:`screen_partition`)."""
    _bag_module()
    # A partial, not map_partitions(**kwargs): Dask would otherwise walk a dict policy looking for tasks.
    func = functools.partial(screen_partition, policy=policy, locale=locale, include_text=include_text)
    return bag.map_partitions(func)


def _count(records: Iterable[Mapping[str, Any]]) -> ScanCounts:
    return ScanCounts().add_all(records)


def _merge(parts: Iterable[ScanCounts]) -> ScanCounts:
    total = ScanCounts()
    for part in parts:
        total = total.merge(part)
    return total


def summarize_bag(records: Any) -> Any:
    """A lazy Dask item: the :class:`~mhguard.scan.ScanCounts` of a bag of records (``.compute()`` it,
    then ``.to_dict()``)."""
    return records.reduction(_count, _merge)
