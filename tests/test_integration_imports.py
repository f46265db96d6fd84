"""The integrations never import an SDK behind the user's back, and say which extra is missing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SDKS = ("openai", "anthropic", "langchain_core", "langchain", "fastapi", "httpx", "starlette")


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_importing_mhguard_imports_no_sdk() -> None:
    probe = run(
        "import json, sys\n"
        "import mhguard, mhguard.integrations, mhguard.testing\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r})))\n"
        "print(json.dumps('mhguard' in sys.modules))\n"
    )
    assert probe.returncode == 0, probe.stderr
    loaded, imported = (json.loads(line) for line in probe.stdout.splitlines())
    assert imported is True and loaded == []


@pytest.mark.parametrize(("module", "sdk", "extra"), [
    ("openai", "openai", "openai"),
    ("anthropic", "anthropic", "anthropic"),
    ("langchain", "langchain_core", "langchain"),
])
def test_a_missing_sdk_names_the_extra(module: str, sdk: str, extra: str) -> None:
    # A None entry in sys.modules makes the import fail as if the package were not installed.
    probe = run(
        "import sys\n"
        f"sys.modules[{sdk!r}] = None\n"
        "try:\n"
        f"    import mhguard.integrations.{module}\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    print('imported')\n"
    )
    assert probe.returncode == 0, probe.stderr
    assert f"pip install 'mhguard[{extra}]'" in probe.stdout
