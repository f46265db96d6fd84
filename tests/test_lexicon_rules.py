"""Every rule of every built-in lexicon, and every context cue list, runs its own examples.

A rule's examples must each give a finding of that rule at the expected tier (the rule's tier unless the
example gives its own) when run through the crisis filter with the whole built-in lexicon of its language;
its counter-examples must give no active finding of that rule. A counter-example may still give a finding
of the rule that context re-categorised (``other_person``, ``harassment``): that one is not the user's risk.
Idiom rules have no findings: their examples must match the idiom and leave no active finding on its span.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import pytest

from mhguard.filters.base import FilterContext
from mhguard.filters.crisis import CrisisConfig, CrisisFilter
from mhguard.filters.crisis_context import SECTIONS
from mhguard.lexicon import BUILTIN_DIR, CONTEXT_FILE, LexiconRule, builtin_lexicon_names, load_lexicon
from mhguard.text.normalize import normalize
from mhguard.types import Finding, Stage, Tier

CTX = FilterContext(stage=Stage.INPUT)
REPLACED = ("other_person", "harassment")


@cache
def crisis_filter(language: str) -> CrisisFilter:
    return CrisisFilter(CrisisConfig(type="crisis", lexicons=[language]))


def check(language: str, text: str) -> list[Finding]:
    return list(crisis_filter(language).check(normalize(text), CTX))


def describe(findings: list[Finding]) -> str:
    return ", ".join(f"{f.rule_id}@{f.tier.value}{list(f.modifiers) or ''}" for f in findings) or "no findings"


def crisis_lexicon_names() -> list[str]:
    """Crisis lexicons are the language folders with context cues; reply lexicons (safe_messaging, scope)
    are tested through their own filters in tests/test_output_rules.py."""
    return [name for name in builtin_lexicon_names() if (BUILTIN_DIR / name / CONTEXT_FILE).exists()]


def all_rules() -> Iterator[object]:
    for language in crisis_lexicon_names():
        for path in sorted((BUILTIN_DIR / language).glob("*.yaml")):
            if path.name == CONTEXT_FILE:
                continue
            try:
                lexicon = load_lexicon(path)
            except Exception as exc:  # a broken file is one failing test naming the problem
                yield pytest.param(language, exc, id=f"{language}/{path.name}")
                continue
            for rule in lexicon.rules:
                yield pytest.param(language, rule, id=rule.id)


def test_builtin_lexicons_load() -> None:
    names = builtin_lexicon_names()
    assert "en" in names
    for name in names:
        assert len(load_lexicon(name)) > 0


@pytest.mark.parametrize(("language", "entry"), list(all_rules()))
def test_rule_examples(language: str, entry: LexiconRule | Exception) -> None:
    if isinstance(entry, Exception):
        raise entry
    rule = entry.rule
    problems: list[str] = []
    if rule.category == "idiom":
        matcher = crisis_filter(language).matcher.compiled
        for text, _ in rule.example_cases:
            nt = normalize(text)
            spans = [(m.start, m.end) for m in matcher.find(nt) if m.rule.id == rule.id]
            if not spans:
                problems.append(f"example not matched: {text!r}")
                continue
            for f in check(language, text):
                s, e = f.span
                if f.active and any(nt.to_original(a, b)[0] < e and s < nt.to_original(a, b)[1] for a, b in spans):
                    problems.append(f"example {text!r}: active finding on the idiom: {f.rule_id}@{f.tier.value}")
        for text in rule.counter_examples:
            if any(m.rule.id == rule.id for m in matcher.find_text(text)):
                problems.append(f"counter-example matched: {text!r}")
    else:
        assert rule.tier is not None
        for text, tier in rule.example_cases:
            want = tier or rule.tier
            findings = check(language, text)
            if not any(f.rule_id == rule.id and f.tier == want for f in findings):
                problems.append(f"example {text!r}: want {rule.id}@{want.value}, got {describe(findings)}")
        for text in rule.counter_examples:
            findings = check(language, text)
            bad = [f for f in findings if f.rule_id == rule.id and f.active and f.category not in REPLACED]
            if bad:
                problems.append(f"counter-example {text!r}: got {describe(bad)}")
    assert not problems, f"{rule.id} ({entry.where}):\n  " + "\n  ".join(problems)


def all_cue_sections() -> Iterator[object]:
    from mhguard.filters.crisis_context import load_context

    for language in builtin_lexicon_names():
        if not (BUILTIN_DIR / language / CONTEXT_FILE).exists():
            continue
        context = load_context(language)
        for name in SECTIONS:
            section = getattr(context.model, name)
            yield pytest.param(language, name, section, id=f"{language}/context.{name}")


@pytest.mark.parametrize(("language", "name", "section"), list(all_cue_sections()))
def test_context_cue_examples(language: str, name: str, section: object) -> None:
    examples: list[str] = getattr(section, "examples")  # noqa: B009
    counter: list[str] = getattr(section, "counter_examples")  # noqa: B009
    assert examples and counter, f"context.{name} needs examples and counter-examples"
    problems: list[str] = []
    if name == "terminators":
        for text in examples:
            findings = check(language, text)
            if not any(f.active and "negated" not in f.modifiers for f in findings):
                problems.append(f"example {text!r}: want an active finding, got {describe(findings)}")
        for text in counter:
            findings = check(language, text)
            if not any(f.tier is Tier.NONE for f in findings):
                problems.append(f"counter-example {text!r}: want a cancelled finding, got {describe(findings)}")
    else:
        modifier: str = getattr(section, "modifier")  # noqa: B009
        for text in examples:
            findings = check(language, text)
            if not any(modifier in f.modifiers for f in findings):
                problems.append(f"example {text!r}: want a finding with {modifier!r}, got {describe(findings)}")
        for text in counter:
            findings = check(language, text)
            if not any(f.active for f in findings) or any(modifier in f.modifiers for f in findings):
                problems.append(f"counter-example {text!r}: want active findings without {modifier!r}, "
                                f"got {describe(findings)}")
    assert not problems, f"context.{name}:\n  " + "\n  ".join(problems)


def all_filler_lists() -> Iterator[object]:
    from mhguard.filters.crisis_context import load_context

    for language in builtin_lexicon_names():
        if (BUILTIN_DIR / language / CONTEXT_FILE).exists():
            fillers = load_context(language).model.fillers
            if fillers.words:
                yield pytest.param(language, fillers, id=f"{language}/context.fillers")


@pytest.mark.parametrize(("language", "fillers"), list(all_filler_lists()))
def test_filler_examples(language: str, fillers: object) -> None:
    # each example is matched by a phrase only because a filler word inside it is skipped
    from mhguard.filters.crisis_context import Fillers

    assert isinstance(fillers, Fillers)
    assert fillers.examples, "context.fillers needs examples"
    words = set(fillers.words)
    problems = []
    for text in fillers.examples:
        active = [f for f in check(language, text) if f.active]
        inner = [f for f in active if words & {t.text for t in normalize(f.matched).tokens[1:]}]
        if not inner:
            problems.append(f"example {text!r}: want an active finding over a filler word, got {describe(active)}")
    assert not problems, "context.fillers:\n  " + "\n  ".join(problems)
