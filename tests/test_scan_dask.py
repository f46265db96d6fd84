"""Batch screening on Dask bags gives the same records as ``screen_record`` (and ``mhguard scan``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import keyword_policy
from mhguard import Guard
from mhguard.scan import ScanCounts, screen_record

dask = pytest.importorskip("dask")
db = pytest.importorskip("dask.bag")

from mhguard.scan_dask import cached_guard, scan_bag, summarize_bag  # noqa: E402

ROWS: list[Any] = [
    {"id": "a", "text": "I want to kill myself"},
    {"id": "b", "messages": [{"role": "user", "content": "hi"},
                             {"role": "assistant", "content": "He committed suicide."},
                             {"role": "user", "content": "I wish I was dead"}]},
    json.dumps({"id": "c", "text": "He committed suicide.", "role": "assistant"}),
    "{broken",
    {"id": "e", "text": "a normal day"},
]


def _expected(policy: dict[str, Any], *, lines: bool = True, include_text: bool = False) -> list[dict[str, Any]]:
    guard = Guard.from_policy(policy)
    return [r for line, row in enumerate(ROWS, 1)
            for r in screen_record(guard, row, line=line if lines else None, include_text=include_text)]


def test_scan_bag_with_the_synchronous_scheduler() -> None:
    policy = keyword_policy()
    bag = db.from_sequence(list(enumerate(ROWS, 1)), npartitions=3)
    records = scan_bag(bag, policy=policy)
    with dask.config.set(scheduler="sync"):
        got = records.compute()
        counts = summarize_bag(records).compute()
    assert got == _expected(policy)
    assert counts.to_dict() == ScanCounts().add_all(got).to_dict()
    assert counts.rows == 5 and counts.row_errors == 1 and counts.messages == 6
    assert cached_guard(policy) is cached_guard(dict(policy))  # one guard per policy and process


def test_scan_bag_on_a_local_distributed_cluster() -> None:
    distributed = pytest.importorskip("dask.distributed")
    policy = keyword_policy()
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        bag = db.from_sequence(ROWS, npartitions=2)  # plain rows: no line numbers in the records
        records = scan_bag(bag, policy=policy, include_text=True)
        got = client.compute(records).result()
        counts = client.compute(summarize_bag(records)).result()
    assert got == _expected(policy, lines=False, include_text=True)
    assert got[0]["text"] == "I want to kill myself"
    assert counts.messages == 6 and counts.errors == 1
