"""The regex pre-checks skip a rule regex only when it cannot match.

Rule regexes are the costly part of a check, so the matcher runs one only when the text holds what every
match needs: a word start, a literal, and every further literal set (``required_clauses``). These tests
check the analysis on hand-made patterns and, for every regex of every built-in lexicon, that running only
the pre-checked regexes finds exactly what running all of them finds, on every example text of the
lexicons (several thousand texts).
"""

from __future__ import annotations

from functools import cache

import pytest
import regex

from mhguard.lexicon import BUILTIN_DIR, builtin_lexicon_names, load_lexicon
from mhguard.lexicon.loader import compile_rules
from mhguard.lexicon.matcher import CompiledLexicon, _key_piece
from mhguard.lexicon.models import Rule
from mhguard.lexicon.triggers import required_clauses, required_literals
from mhguard.text.normalize import normalize


def test_clauses_of_a_co_occurrence_pattern() -> None:
    clauses = required_clauses(r"(?=[^\n]*\bpills\b)(?=[^\n]*\btonight\b)\bi\b")
    assert frozenset({"pills"}) in clauses and frozenset({"tonight"}) in clauses


def test_clauses_take_alternatives_and_short_literals() -> None:
    clauses = required_clauses(r"\bi (?:would|will) (?:od|jump)\b")
    assert frozenset({"od", "jump"}) in clauses


def test_optional_and_negative_parts_are_not_required() -> None:
    clauses = required_clauses(r"\bi (?:really )?want(?! to eat)\b")
    assert all("really" not in c and "to eat" not in c for clause in clauses for c in clause)


def test_unicode_properties_do_not_hide_the_literals() -> None:
    # \p{..} is regex-module syntax; it stands for a class, so the literals around it still count
    clauses = required_clauses(r"(?<![\p{L}\p{M}])(?:ab|अब)\s(?:mujhe|मुझे)\skuch\p{Mn}*")
    assert frozenset({"ab", "अब"}) in clauses and frozenset({"kuch"}) in clauses
    assert required_literals(r"x\p{L}yyy(?=[\P{L}])") == frozenset({"yyy"})
    # an escaped backslash before "p{" is a literal backslash, not a property
    assert required_literals(r"abc\\p{L}") == frozenset({"abc\\p{L}"})


def test_two_cjk_characters_are_a_pre_check() -> None:
    # one CJK character carries about what a short word does; two are selective enough to test for
    assert required_literals(r"(?:我爸|我妈)[^。]{0,8}?(?:打我|骂我)") is not None
    assert required_literals(r"(?:ab|cd)[^.]{0,8}?(?:ef|gh)") is None  # two Latin letters are not


def _lexicon_texts() -> list[tuple[str, CompiledLexicon, list[str]]]:
    out = []
    for name in builtin_lexicon_names():
        try:
            lexicon = load_lexicon(name)
        except Exception:  # a language folder being written; the rule tests report it
            continue
        texts: list[str] = []
        for entry in lexicon.rules:
            texts.extend(t for t, _ in entry.rule.example_cases)
            texts.extend(entry.rule.counter_examples)
        out.append((name, lexicon.compile(fuzzy=False), texts))
    return out


@cache
def lexicons() -> tuple[tuple[str, CompiledLexicon, tuple[str, ...]], ...]:
    return tuple((n, c, tuple(t)) for n, c, t in _lexicon_texts())


@pytest.mark.parametrize("index", range(len(builtin_lexicon_names())))
def test_pre_checks_never_skip_a_matching_regex(index: int) -> None:
    names = builtin_lexicon_names()
    found = [entry for entry in lexicons() if entry[0] == names[index]]
    if not found:
        pytest.skip(f"{names[index]} does not load")
    name, compiled, texts = found[0]
    rules = compiled._regex_rules
    assert (BUILTIN_DIR / name).is_dir()
    for text in texts:
        nt = normalize(text)
        tokens = [t.text for t in nt.tokens]
        ran: list[tuple[int, int, int, int, bool, bool, int, int]] = []
        compiled._scan_regex(nt, tokens, ran)
        got = {(r[2], r[6], r[7]) for r in ran}
        every = {(ri, m.start(), m.end()) for ri, p in rules for m in p.finditer(nt.text)}
        assert every == got, (name, text, every - got)


def test_cjk_literals_trigger_their_regex() -> None:
    rule = Rule(id="suicide.cjk_probe", category="suicide", tier="low", regex=["不想活了"],
                examples=["x"], counter_examples=["y"])
    matcher = CompiledLexicon(compile_rules([rule], source="<test>"))
    assert [m.rule.id for m in matcher.find(normalize("我真的不想活了"))] == ["suicide.cjk_probe"]
    assert not matcher.find(normalize("我想活下去"))


def _counting_matcher(rule_id: str, pattern_text: str) -> tuple[CompiledLexicon, list[str]]:
    """A matcher of one regex rule, and the list of texts the regex was actually run on."""
    category = rule_id.split(".")[0]
    rule = Rule(id=rule_id, category=category, tier="high", regex=[pattern_text], examples=["x"],
                counter_examples=["y"])
    matcher = CompiledLexicon(compile_rules([rule], source="<test>"))
    calls: list[str] = []
    (ri, pattern), = matcher._regex_rules
    assert isinstance(pattern, regex.Pattern)

    class Counting:
        def finditer(self, text: str, **kw: object) -> object:
            calls.append(text)
            return pattern.finditer(text, **kw)  # type: ignore[arg-type]

    matcher._regex_rules = ((ri, Counting()),)  # type: ignore[assignment]
    return matcher, calls


def test_a_regex_needing_two_words_runs_only_when_both_are_there() -> None:
    matcher, calls = _counting_matcher("suicide.pair_probe", r"(?=[^\n]*\bpills\b)[^\n]*\btonight\b")
    assert not matcher.find(normalize("see you tonight at the game"))
    assert calls == []  # "pills" is missing: the regex never ran
    assert matcher.find(normalize("i have the pills and it ends tonight"))
    assert len(calls) == 1


def test_key_piece_of_a_literal_spanning_words() -> None:
    assert _key_piece("the meaning of life") == "meaning"
    assert _key_piece("so long") == "long"
    assert _key_piece("i am") is None  # no run of three letters: such a clause can always be there
    assert _key_piece("不想 活") is None


def test_a_clause_spanning_words_is_settled_by_its_letter_run() -> None:
    # the trigger ("cure") is a word; the further clause only spans words ("for everyone", "to all")
    matcher, calls = _counting_matcher("psychosis_mania.span_probe",
                                       r"\bcure\w*[^.]{0,20}?(?:s for everyone|to all)\b")
    assert not matcher.find(normalize("i found a cure, honestly"))
    assert calls == []  # no token holds "everyone" and none is "all": the regex never ran
    # the literal's letter run sits inside longer words on both sides, across punctuation
    for text in ("the cures for everyone, now", "cured.  cures for everyone!", "a cure to all"):
        assert matcher.find(normalize(text)), text
