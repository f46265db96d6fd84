"""The lexicon compiler and matcher: phrase syntax, loading errors, matching, fuzzy, large inputs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mhguard.errors import PolicyError
from mhguard.lexicon import (
    MAX_VARIANTS,
    CompiledLexicon,
    PhraseError,
    expand_phrase,
    load_lexicon,
)
from mhguard.lexicon.fuzzy import FuzzyIndex, squeeze
from mhguard.lexicon.phrase import GAP, PREFIX, WORD
from mhguard.text.normalize import NormalizedText, Token, normalize

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "lexicons" / "basic.yaml"


def words(phrase: str, define: dict[str, str] | None = None) -> list[str]:
    """Variants written back as strings (gap = '...', prefix = 'stem*') for readable asserts."""
    out = []
    for variant in expand_phrase(phrase, define):
        parts = []
        for kind, value in variant:
            parts.append("..." if kind == GAP else value + "*" if kind == PREFIX else value)
        out.append(" ".join(parts))
    return out


@pytest.fixture(scope="module")
def lexicon() -> CompiledLexicon:
    return load_lexicon(FIXTURE).compile(fuzzy=True, fuzzy_ignore=["overdone"])


def ids(lex: CompiledLexicon, text: str) -> list[str]:
    return [m.rule.id for m in lex.find_text(text)]


# --------------------------------------------------------------------------------------------- syntax
class TestPhraseSyntax:
    def test_plain_words(self) -> None:
        assert words("want to die") == ["want to die"]

    def test_alternatives_of_several_words(self) -> None:
        assert words("(kill|hurt badly) myself") == ["kill myself", "hurt badly myself"]

    def test_optional(self) -> None:
        assert words("want to [just] die") == ["want to die", "want to just die"]
        assert words("want [to|so] die") == ["want die", "want to die", "want so die"]

    def test_nested_groups(self) -> None:
        assert words("(end (it|my life)|die)") == ["end it", "end my life", "die"]

    def test_gap(self) -> None:
        variant = expand_phrase("want to ... die")[0]
        assert variant == ((WORD, "want"), (WORD, "to"), (GAP, ""), (WORD, "die"))

    def test_prefix(self) -> None:
        assert expand_phrase("suicid*") == [((PREFIX, "suicid"),)]

    def test_word_class(self) -> None:
        define = {"self": "(me|myself)", "kill": "(kill|end)"}
        assert words("<kill> <self>", define) == ["kill me", "kill myself", "end me", "end myself"]

    def test_word_class_using_another(self) -> None:
        define = {"self": "(me|myself)", "hurt": "(hurt|harm) <self>"}
        assert words("<hurt>", define) == ["hurt me", "hurt myself", "harm me", "harm myself"]

    def test_literals_are_normalised(self) -> None:
        # written the way people write, matched the way text is normalised
        assert words("I'M DONE") == [" ".join(t.text for t in normalize("I'M DONE").tokens)]
        assert words("self-harm") == [" ".join(t.text for t in normalize("self-harm").tokens)]

    def test_duplicate_variants_are_merged(self) -> None:
        assert words("(die|die)") == ["die"]

    @pytest.mark.parametrize(
        ("phrase", "message"),
        [
            ("(want to die", "never closed"),
            ("want to die)", "unbalanced"),
            ("[want to die", "never closed"),
            ("(want to die]", "unbalanced"),
            ("... die", "must start with a word"),
            ("want to ...", "must not end with a gap"),
            ("want ... ... die", "two gaps"),
            ("<nothing>", "unknown word class"),
            ("su*", "at least 3 letters"),
            ("s*icide", "may only end a word"),
            ("(a|)", "empty alternative"),
            ("", "empty phrase"),
            ("[maybe]", "everything in it is optional"),
            ("a|b", "outside parentheses"),
            ("(anything )?for", "regex syntax"),
            ("<unclosed", "unclosed '<'"),
        ],
    )
    def test_syntax_errors(self, phrase: str, message: str) -> None:
        with pytest.raises(PhraseError, match=message):
            expand_phrase(phrase)

    def test_recursive_word_class(self) -> None:
        with pytest.raises(PhraseError, match="refers to itself"):
            expand_phrase("<a>", {"a": "x <a>"})

    def test_expansion_limit(self) -> None:
        # 3 x 3 x 3 x 3 x 3 x 3 = 729 > 256
        phrase = " ".join(["(a1|b1|c1)"] * 6)
        with pytest.raises(PhraseError, match=f"more than {MAX_VARIANTS} variants"):
            expand_phrase(phrase)
        assert len(expand_phrase(" ".join(["(a1|b1)"] * 8))) == 256


# --------------------------------------------------------------------------------------------- loading
def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD_RULE = """  - id: suicide.one
    category: suicide
    tier: low
    phrases: [want to die]
"""


class TestLoading:
    def test_fixture_loads_with_sources(self) -> None:
        lex = load_lexicon(FIXTURE)
        assert lex.language == "en"
        rule = lex.get("suicide.intent")
        assert rule is not None
        assert rule.source == "basic.yaml" and rule.path == "rules[1]" and rule.line == 24

    def test_phrase_error_names_file_line_and_path(self, tmp_path: Path) -> None:
        path = write(tmp_path, "suicide.yaml", "language: en\nrules:\n" + GOOD_RULE + """  - id: suicide.two
    category: suicide
    tier: low
    phrases:
      - want to die
      - (want to die
""")
        with pytest.raises(PolicyError) as err:
            load_lexicon(path)
        assert str(err.value).startswith("suicide.yaml:12: rules[1].phrases[1]: unbalanced parenthesis")
        assert err.value.line == 12 and err.value.path == "rules[1].phrases[1]"

    def test_expansion_limit_is_a_load_error(self, tmp_path: Path) -> None:
        phrase = " ".join(["(a1|b1|c1)"] * 6)
        path = write(tmp_path, "big.yaml", f"language: en\nrules:\n  - id: suicide.big\n    category: suicide\n"
                     f"    tier: low\n    phrases:\n      - {phrase}\n")
        with pytest.raises(PolicyError, match=r"big.yaml:7: rules\[0\].phrases\[0\]: expands to more than 256"):
            load_lexicon(path)

    def test_regex_error(self, tmp_path: Path) -> None:
        path = write(tmp_path, "r.yaml", "language: en\nrules:\n  - id: suicide.r\n    category: suicide\n"
                     "    tier: low\n    regex:\n      - 'want (to'\n")
        with pytest.raises(PolicyError, match=r"r.yaml:7: rules\[0\].regex\[0\]: invalid regex"):
            load_lexicon(path)

    def test_regex_matching_empty_text(self, tmp_path: Path) -> None:
        path = write(tmp_path, "r.yaml", "language: en\nrules:\n  - id: suicide.r\n    category: suicide\n"
                     "    tier: low\n    regex: ['a*']\n")
        with pytest.raises(PolicyError, match="empty string"):
            load_lexicon(path)

    def test_slow_look_behind_is_a_load_error(self, tmp_path: Path) -> None:
        path = write(tmp_path, "lb.yaml", "language: en\nrules:\n  - id: suicide.lb\n    category: suicide\n"
                     "    tier: low\n    regex:\n      - '(?<=\\bdied\\b.{0,160}?)\\bjoin him'\n")
        with pytest.raises(PolicyError, match=r"lb.yaml:7: rules\[0\].regex\[0\]: look-behind with a run"):
            load_lexicon(path)
        # short look-behinds, and forward matching with \K, are fine
        path = write(tmp_path, "ok.yaml", "language: en\nrules:\n  - id: suicide.ok\n    category: suicide\n"
                     "    tier: low\n    regex:\n      - '(?<!\\bnot )\\bdied\\b.{0,160}?\\K\\bjoin him'\n")
        lex = load_lexicon(path).compile()
        (m,) = lex.find_text("my dad died and i want to join him")
        assert "my dad died and i want to join him"[m.start : m.end] == "join him"

    def test_unknown_key(self, tmp_path: Path) -> None:
        path = write(tmp_path, "k.yaml", "language: en\nrules:\n" + GOOD_RULE + "    phrase: [oops]\n")
        with pytest.raises(PolicyError, match=r"k.yaml:7: rules\[0\].phrase: unknown key 'phrase'"):
            load_lexicon(path)

    def test_missing_tier_and_bad_category(self, tmp_path: Path) -> None:
        path = write(tmp_path, "t.yaml", "language: en\nrules:\n  - id: suicide.t\n    category: suicide\n"
                     "    phrases: [die]\n")
        with pytest.raises(PolicyError, match=r"t.yaml:3: rules\[0\]: .*'tier' is required"):
            load_lexicon(path)
        path = write(tmp_path, "c.yaml", "language: en\nrules:\n  - id: suicide.c\n    category: suicid\n"
                     "    tier: low\n    phrases: [die]\n")
        with pytest.raises(PolicyError, match=r"c.yaml:4: rules\[0\].category: unknown category 'suicid'"):
            load_lexicon(path)

    def test_yaml_boolean_trap(self, tmp_path: Path) -> None:
        # YAML 1.1 reads an unquoted `no` as false: say so instead of failing later
        path = write(tmp_path, "n.yaml", "language: en\nrules:\n  - id: suicide.n\n    category: suicide\n"
                     "    tier: low\n    phrases:\n      - no\n")
        with pytest.raises(PolicyError, match=r"n.yaml:7: rules\[0\].phrases\[0\]"):
            load_lexicon(path)

    def test_yaml_syntax_error_and_duplicate_key(self, tmp_path: Path) -> None:
        path = write(tmp_path, "y.yaml", "language: en\nrules: [\n")
        with pytest.raises(PolicyError, match=r"y.yaml:\d+: invalid YAML"):
            load_lexicon(path)
        path = write(tmp_path, "d.yaml", "language: en\nlanguage: fr\nrules: []\n")
        with pytest.raises(PolicyError, match=r"d.yaml:2: language: duplicate key"):
            load_lexicon(path)

    def test_duplicate_rule_ids_across_files(self, tmp_path: Path) -> None:
        write(tmp_path, "a.yaml", "language: en\nrules:\n" + GOOD_RULE)
        write(tmp_path, "b.yaml", "language: en\nrules:\n  - id: other.x\n    category: distress\n"
              "    tier: concern\n    phrases: [sad]\n" + GOOD_RULE)
        with pytest.raises(PolicyError, match=r"b.yaml:7: rules\[1\]: duplicate rule id 'suicide.one' "
                           r"\(first defined at a.yaml:3: rules\[0\]\)"):
            load_lexicon(tmp_path)

    def test_unknown_builtin_and_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(PolicyError, match="unknown built-in lexicon 'xx'"):
            load_lexicon("xx")
        with pytest.raises(PolicyError, match="not found"):
            load_lexicon("missing.yaml", base_dir=tmp_path)

    def test_relative_to_base_dir(self) -> None:
        assert len(load_lexicon("lexicons/basic.yaml", base_dir=FIXTURE.parent.parent)) > 0

    def test_disable_unknown_rule(self) -> None:
        with pytest.raises(PolicyError, match=r"unknown rule id 'suicide.intnet' \(did you mean 'suicide.intent'"):
            load_lexicon(FIXTURE).without(["suicide.intnet"])


# --------------------------------------------------------------------------------------------- matching
class TestMatching:
    def test_each_construct(self, lexicon: CompiledLexicon) -> None:
        assert ids(lexicon, "Some nights I wish I were dead.") == ["suicide.passive_wish"]  # alternatives
        assert ids(lexicon, "I cut myself") == ["self_harm.cutting"]  # optional left out
        assert ids(lexicon, "I have cut myself again") == ["self_harm.cutting"]  # optionals present
        assert ids(lexicon, "I feel suicidal") == ["suicide.word"]  # prefix
        assert ids(lexicon, "i am going to end me") == ["suicide.intent"]  # word classes
        assert ids(lexicon, "sleep and never wake") == ["suicide.passive_wish"]  # regex

    def test_whole_words_only(self, lexicon: CompiledLexicon) -> None:
        assert ids(lexicon, "I want to go on a diet") == []
        assert ids(lexicon, "unwish i was dead") == []
        assert ids(lexicon, "wish i wasdead") == []

    def test_gap_takes_zero_to_three_words(self, lexicon: CompiledLexicon) -> None:
        assert ids(lexicon, "want to die") == ["suicide.passive_wish"]
        assert ids(lexicon, "want to just fucking really die") == ["suicide.passive_wish"]
        assert ids(lexicon, "want to go out and then die") == []

    def test_fillers_are_skipped_inside_a_phrase(self, tmp_path: Path) -> None:
        path = write(tmp_path, "f.yaml", "language: en\nrules:\n  - id: suicide.ready\n    category: suicide\n"
                     "    tier: high\n    phrases:\n      - i am ready to die\n")
        lex = load_lexicon(path).compile(fillers=["really", "honestly", "so"])
        plain = load_lexicon(path).compile()
        assert ids(lex, "I am honestly ready to die") == ["suicide.ready"]
        assert ids(plain, "I am honestly ready to die") == []
        assert ids(lex, "i am really so ready to die") == ["suicide.ready"]  # two in a row
        assert ids(lex, "i am really so so ready to die") == []  # more than MAX_FILLERS
        assert ids(lex, "i am ready to really die") == ["suicide.ready"]  # anywhere inside
        # never before the first word, and the match does not reach over a filler after the last
        found = lex.find_text("so i am ready to die really")
        assert [(m.start, m.end) for m in found] == [(3, 20)]
        assert ids(lex, "i am not ready to die") == []  # only the listed words

    def test_punctuation_between_words_is_ignored(self, lexicon: CompiledLexicon) -> None:
        assert ids(lexicon, "wish... i was -- dead") == ["suicide.passive_wish"]

    def test_offsets_are_in_normalised_text(self, lexicon: CompiledLexicon) -> None:
        nt = normalize("Well, I wish I was dead.")
        (m,) = lexicon.find(nt)
        assert nt.text[m.start : m.end] == "wish i was dead"
        assert [nt.tokens[i].text for i in m.token_range] == ["wish", "i", "was", "dead"]
        assert not m.fuzzy and m.phrase == 0

    def test_spans_map_to_original_text(self, lexicon: CompiledLexicon) -> None:
        text = "Ok.  So I'M GOING TO KILL MYSELF!!!"
        nt = normalize(text)
        (m,) = [m for m in lexicon.find(nt) if m.rule.id == "suicide.intent"]
        start, end = nt.to_original(m.start, m.end)
        assert text[start:end] == "I'M GOING TO KILL MYSELF"

    def test_overlapping_rules_are_all_kept_in_order(self, lexicon: CompiledLexicon) -> None:
        found = lexicon.find_text("i am going to kill myself tonight, I feel suicidal")
        # "i am going to kill myself" and "kill myself tonight" are one rule: its earliest, longest match
        assert [(m.rule.id, m.start) for m in found] == [("suicide.intent", 0), ("suicide.word", 42)]

    def test_overlap_between_different_rules(self, lexicon: CompiledLexicon) -> None:
        found = lexicon.find_text("this is killing me")
        assert sorted(m.rule.id for m in found) == ["idiom.killing_me", "suicide.killing_me"]

    def test_deterministic(self, lexicon: CompiledLexicon) -> None:
        text = "I wish I was dead, I feel suicidal, I cut myself, want to die, tallest bridge"
        first = [(m.rule.id, m.start, m.end) for m in lexicon.find_text(text)]
        assert first == sorted(first, key=lambda x: (x[1], x[2]))
        for _ in range(3):
            assert [(m.rule.id, m.start, m.end) for m in lexicon.find_text(text)] == first

    def test_empty_and_punctuation_only(self, lexicon: CompiledLexicon) -> None:
        assert lexicon.find_text("") == []
        assert lexicon.find_text("?!... ---") == []


@dataclass
class FakeNormalized:
    """A normalised text with hand-made tokens, to test the matcher apart from the normaliser."""

    text: str
    tokens: tuple[Token, ...]
    original: str = ""

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        return start, end

    @property
    def token_texts(self) -> tuple[str, ...]:
        return tuple(t.text for t in self.tokens)

    @property
    def has_elongation(self) -> bool:
        return any(t.elongated for t in self.tokens)


def fake(*words: str, elongated: tuple[str, ...] = ()) -> NormalizedText:
    tokens = []
    pos = 0
    for w in words:
        tokens.append(Token(w, pos, pos + len(w), elongated=w in elongated, squeezed=squeeze(w)))
        pos += len(w) + 1
    return FakeNormalized(" ".join(words), tuple(tokens))  # type: ignore[return-value]


class TestElongation:
    def test_squeezed_form_matches(self, lexicon: CompiledLexicon) -> None:
        found = lexicon.find(fake("i", "want", "to", "diiiiie", elongated=("diiiiie",)))
        assert [m.rule.id for m in found] == ["suicide.passive_wish"]
        found = lexicon.find(fake("i", "feel", "suiiiicidal", elongated=("suiiiicidal",)))
        assert [m.rule.id for m in found] == ["suicide.word"]

    def test_only_elongated_tokens_are_squeezed(self, lexicon: CompiledLexicon) -> None:
        # "dee" squeezes to "de", which is no lexicon word; and a token not marked elongated is taken as is
        assert lexicon.find(fake("want", "to", "diie")) == []

    def test_with_the_normaliser(self, lexicon: CompiledLexicon) -> None:
        assert ids(lexicon, "I want to diiiiiie") == ["suicide.passive_wish"]


class TestFuzzy:
    @pytest.mark.parametrize(
        ("text", "rule"),
        [
            ("I feel suicdal", "suicide.word"),  # a letter left out of a prefix word
            ("i think about overdoes", "suicide.overdose_word"),  # swapped letters
            ("i am going to kil myself", "suicide.intent"),
            ("thinking about s*icide", "suicide.word"),  # censored letter
            ("wish i was daed", "suicide.passive_wish"),
        ],
    )
    def test_misspellings_match(self, lexicon: CompiledLexicon, text: str, rule: str) -> None:
        found = [m for m in lexicon.find_text(text) if m.rule.id == rule]
        assert found and found[0].fuzzy

    @pytest.mark.parametrize(
        "text",
        [
            "the steak was overdone",  # a real word (ignore list)
            "i am going to kil myslef",  # two misspelt words in one phrase
            "want to dye",  # 'die' is under 4 letters: no fuzzy target
            "i am going to mill myself",  # the first letter must match
            "i feel stupid",
        ],
    )
    def test_bounded(self, lexicon: CompiledLexicon, text: str) -> None:
        assert [m for m in lexicon.find_text(text) if m.fuzzy] == []

    def test_switch_off(self) -> None:
        lex = load_lexicon(FIXTURE).compile(fuzzy=False)
        assert ids(lex, "I feel suicdal") == []
        assert ids(lex, "I feel suicidal") == ["suicide.word"]

    def test_index_bounds(self) -> None:
        index = FuzzyIndex(["suicide", "kill", "die", "overdose"], ["suicid"], stopwords=["kill"],
                           ignore=["overdone"])
        assert index.lookup("suicde") == (("suicide",), ("suicid",))
        assert index.lookup("dei") is None  # "die" is too short to be a target
        assert index.lookup("kil") is None  # stopwords are no targets
        assert index.lookup("overdone") is None  # ignored real word
        assert index.lookup("suicide") is None  # an exact word is never fuzzy
        assert index.lookup("x" * 500) is None
        assert index.lookup("******") is None  # mostly stars


# --------------------------------------------------------------------------------------------- scale
class TestLargeInputs:
    def test_one_megabyte(self, lexicon: CompiledLexicon) -> None:
        filler = "the quick brown fox jumps over the lazy dog and then some more words follow here "
        text = filler * (1_000_000 // len(filler)) + "i wish i was dead"
        start = time.perf_counter()
        found = lexicon.find_text(text)
        elapsed = time.perf_counter() - start
        assert [m.rule.id for m in found] == ["suicide.passive_wish"]
        assert elapsed < 10

    def test_repeated_characters_and_words(self, lexicon: CompiledLexicon) -> None:
        for text in ("a" * 100_000, "i" * 100_000, "want to " * 20_000, "want to want to die " * 5_000,
                     "s*" * 50_000):
            start = time.perf_counter()
            lexicon.find_text(text)
            assert time.perf_counter() - start < 5, text[:20]

    def test_linear_work(self, lexicon: CompiledLexicon, monkeypatch: pytest.MonkeyPatch) -> None:
        # the work counted in trie steps, not seconds (timing belongs in benchmarks/bench_core.py): ten
        # times the text is about ten times the steps, not a hundred
        unit = "want to want to wish i was i feel so tired of this "
        steps = 0
        expand, step = lexicon._expand, lexicon._step

        def counted(fn: Any) -> Any:
            def wrapper(*args: Any) -> Any:
                nonlocal steps
                steps += 1
                return fn(*args)
            return wrapper

        monkeypatch.setattr(lexicon, "_expand", counted(expand))
        monkeypatch.setattr(lexicon, "_step", counted(step))

        def work(n: int) -> int:
            nonlocal steps
            steps = 0
            lexicon.find_text(unit * n)
            return steps

        small, large = work(200), work(2000)
        assert small > 0
        assert large <= small * 11

    def test_regex_timeout_fails_closed(self, tmp_path: Path) -> None:
        path = write(tmp_path, "slow.yaml", "language: en\nrules:\n  - id: suicide.slow\n    category: suicide\n"
                     "    tier: low\n    regex:\n      - '(?:ab|a|b)+(?:ab|a|b)+[0-9]'\n")
        lex = load_lexicon(path).compile(regex_timeout=0.05)
        with pytest.raises(TimeoutError):
            lex.find_text("ab" * 30)
