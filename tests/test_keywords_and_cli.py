from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from mhguard import Guard, load_policy
from mhguard.cli import main
from mhguard.filters.base import FilterContext
from mhguard.filters.keywords import KeywordsFilter
from mhguard.text.normalize import normalize
from mhguard.types import Stage


def _keyword_rules() -> list[tuple[str, KeywordsFilter, object]]:
    sources: list[str | Path] = ["default", *sorted((ROOT / "policies").glob("*.yaml"))]
    out = []
    for source in sources:
        policy = load_policy(source)
        for filt in (*policy.input_filters, *policy.output_filters):
            if isinstance(filt, KeywordsFilter):
                for rule in filt.rules:
                    out.append((f"{policy.name}:{rule.id}", filt, rule))
    return out


@pytest.mark.parametrize("name, filt, rule", _keyword_rules(), ids=lambda v: v if isinstance(v, str) else "")
def test_keyword_rule_examples(name: str, filt: KeywordsFilter, rule: object) -> None:
    ctx = FilterContext(stage=Stage.INPUT)
    assert rule.examples, f"{name} has no examples"  # type: ignore[attr-defined]
    assert rule.counter_examples, f"{name} has no counter-examples"  # type: ignore[attr-defined]
    for text in rule.examples:  # type: ignore[attr-defined]
        hits = [f.rule_id for f in filt.check(normalize(text), ctx)]
        assert rule.id in hits, f"{name}: example not matched: {text!r}"  # type: ignore[attr-defined]
    for text in rule.counter_examples:  # type: ignore[attr-defined]
        hits = [f.rule_id for f in filt.check(normalize(text), ctx)]
        assert rule.id not in hits, f"{name}: counter-example matched: {text!r}"  # type: ignore[attr-defined]


def test_cli_check_exit_codes_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "hello, how are you?"]) == 0
    assert "action: allow" in capsys.readouterr().out
    assert main(["check", "--json", "I am going to kill myself tonight"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["action"] == "escalate"
    assert main(["check", "--stage", "output", "He committed suicide."]) == 0
    assert "died by suicide" in capsys.readouterr().out


def test_cli_jsonl_streams_one_decision_per_line(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    crisis = json.dumps({"text": "I am going to kill myself tonight", "locale": "en-GB"})
    lines = [json.dumps({"text": "hello"}), crisis, "{broken", json.dumps({"text": None})]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["check", "--jsonl"]) == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o.get("action") for o in out[:2]] == ["allow", "escalate"]
    assert out[1]["locale"] == "en-GB"
    assert "line 3" in out[2]["error"] and "line 4" in out[3]["error"]


def test_cli_policies_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policies"]) == 0
    assert "default" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["nonsense"])
    assert info.value.code == 2
    assert main(["check", "--policy", "nope", "hi"]) == 1


def test_console_script_entry_point() -> None:
    result = subprocess.run([sys.executable, "-m", "mhguard.cli", "check", "hi"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and "action: allow" in result.stdout


def test_fake_model_records_and_streams() -> None:
    from mhguard.testing import FakeChatModel

    model = FakeChatModel(lambda text: text.upper(), chunk_size=2)
    assert model("abc") == "ABC"
    assert list(model.stream([{"role": "user", "content": "hey"}])) == ["HE", "Y"]
    assert model.call_count == 2 and model.closed_streams == 1


def test_public_api_is_listed() -> None:
    import mhguard

    for name in mhguard.__all__:
        assert hasattr(mhguard, name), name
    assert Guard is mhguard.Guard
