"""The benchmark scripts still run (with tiny sizes and a small keyword policy). No timing is checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, keyword_policy

BENCH = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "policy.yaml"
    path.write_text(yaml.safe_dump(keyword_policy()), encoding="utf-8")
    return path


CASES = {
    "bench_core": (["--number", "2"], "| check_input, 200 chars |"),
    "bench_normalize": (["--number", "2", "--large-chars", "2000"], "plain ASCII"),
    "bench_scale": (["--number", "2", "--messages", "20", "--workers", "1", "--no-full-alternation"],
                    "| batch: mhguard scan --workers 1"),
    "eval_public": (["/nonexistent/datasets"], ""),
    "synthetic": (["--messages", "15", "-o", "{tmp}/t.jsonl"], "15 messages"),
}


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_script_runs(script: str, policy: Path, tmp_path: Path) -> None:
    args, expected = CASES[script]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if script in ("bench_core", "bench_scale"):
        args += ["--policy", str(policy)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(BENCH / f"{script}.py"), *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout, done.stdout[-2000:]
