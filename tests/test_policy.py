from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, keyword_policy
from mhguard import Guard, PolicyError, builtin_policy_names, load_policy
from mhguard.cli import main


def test_unknown_key_names_file_line_path_and_suggests(fixtures: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(fixtures / "policies" / "bad_unknown_key.yaml")
    message = str(info.value)
    assert "bad_unknown_key.yaml:10: input[1].deny_topics: unknown key 'deny_topics'" in message
    assert info.value.line == 10 and info.value.path == "input[1].deny_topics"


def test_unknown_filter_type_is_an_error_with_suggestion() -> None:
    policy = keyword_policy(input=[{"type": "keyword", "rules": []}])
    expected = r"input\[0\]\.type: unknown filter type 'keyword' \(did you mean 'keywords'\?\)"
    with pytest.raises(PolicyError, match=expected):
        load_policy(policy)


def test_unknown_top_level_key_suggests() -> None:
    with pytest.raises(PolicyError, match=r"unknown key 'outptu' \(did you mean 'output'\?\)"):
        load_policy({"name": "x", "outptu": []})


def test_wrong_type_names_path(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\ninput:\n  - type: keywords\n    rules:\n      - id: a.b\n        category: x\n"
                    "        tier: extreme\n        phrases: [hi]\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.line == 7
    assert info.value.path == "input[0].rules[0].tier"


@pytest.mark.parametrize("text, fragment", [
    ("- just\n- a list\n", "must be a mapping"),
    ("name: x\n  bad: [indent\n", "invalid YAML"),
    ("", "empty"),
    ("name: a\nname: b\n", "duplicate key 'name'"),
])
def test_broken_yaml(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=fragment) as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_unknown_response_id_is_an_error() -> None:
    policy = keyword_policy()
    policy["input"][0]["responses"] = {"escalate": "crisiss"}  # type: ignore[index]
    with pytest.raises(PolicyError, match=r"unknown response id 'crisiss' \(did you mean 'crisis'\?\)"):
        load_policy(policy)


def test_filter_not_allowed_on_stage_and_duplicate_ids() -> None:
    policy = keyword_policy()
    policy["input"] = [policy["input"][0], policy["input"][0]]  # type: ignore[index]
    with pytest.raises(PolicyError, match="share the id 'risk'"):
        load_policy(policy)


def test_bad_regex_fails_at_load() -> None:
    policy = keyword_policy(input=[{"type": "keywords", "rules": [
        {"id": "a.b", "category": "x", "regex": ["(unclosed"]}]}])
    with pytest.raises(PolicyError, match="does not compile"):
        load_policy(policy)


def test_extends_and_overrides(fixtures: Path) -> None:
    child = load_policy(fixtures / "policies" / "child.yaml")
    parent = load_policy("default")
    assert child.name == "child"
    assert child.document.locale == "en-GB"
    assert [f.id for f in child.input_filters] == [f.id for f in parent.input_filters]
    assert len(child.output_filters) == len(parent.output_filters)
    # The override changed one key of the inherited filter and kept the rest.
    crisis = child.input_filters[0]
    assert crisis.config.actions["low"] == "escalate"
    assert crisis.config.actions["moderate"] == "escalate"
    guard = Guard(child)
    decision = guard.check_input("sometimes I wish I was dead")
    assert decision.action == "escalate"
    assert decision.text == "Custom crisis text: please call 999 or Samaritans on 116 123."


def test_extends_error_points_to_child_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("extends: default\nname: c\ninput:\n  - id: crisis\n    actoins: {}\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.source == str(path)
    assert info.value.line == 5
    assert "did you mean 'actions'" in str(info.value)


def test_extends_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(PolicyError, match="cycle"):
        load_policy(tmp_path / "a.yaml")


def test_disable_inherited_filter(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("extends: default\nname: quiet\noutput:\n  - id: helplines\n    enabled: false\n")
    kept = [f.id for f in load_policy(path).output_filters]
    assert kept == [f.id for f in load_policy("default").output_filters if f.id != "helplines"]
    assert "helplines" not in kept


def test_dict_policy_is_not_mutated() -> None:
    policy = keyword_policy()
    before = repr(policy)
    load_policy(policy)
    assert repr(policy) == before


def test_unknown_builtin_suggests() -> None:
    with pytest.raises(PolicyError, match="did you mean 'default'"):
        load_policy("defualt")


def test_every_shipped_policy_loads() -> None:
    names = builtin_policy_names()
    assert "default" in names
    for name in names:
        assert load_policy(name).name
    examples = sorted((ROOT / "policies").glob("*.yaml"))
    assert examples, "policies/ should hold example policies"
    for path in examples:
        load_policy(path)
    assert main(["lint", *map(str, examples)]) == 0


def test_lint_reports_located_error(fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(fixtures / "policies" / "bad_unknown_key.yaml")]) == 1
    assert "bad_unknown_key.yaml:10: input[1].deny_topics" in capsys.readouterr().err


def test_policy_digest_changes_with_content() -> None:
    a = load_policy(keyword_policy())
    b = load_policy(keyword_policy(locale="fr-FR"))
    assert a.digest != b.digest and len(a.digest) == 64
