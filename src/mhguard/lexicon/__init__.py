"""Lexicons: detection rules as YAML data, compiled into a one-pass word matcher.

>>> from mhguard.lexicon import load_lexicon
>>> matcher = load_lexicon("en").compile()          # doctest: +SKIP
>>> [m.rule.id for m in matcher.find_text("I want to die")]   # doctest: +SKIP
['suicide.want_to_die']

The file format is described in ``docs/lexicon-format.md``.
"""

from __future__ import annotations

from mhguard.lexicon.loader import (
    BUILTIN_DIR,
    CONTEXT_FILE,
    Lexicon,
    LexiconRule,
    builtin_lexicon_names,
    compile_rules,
    load_lexicon,
)
from mhguard.lexicon.matcher import DEFAULT_REGEX_TIMEOUT, CompiledLexicon, Match
from mhguard.lexicon.models import CATEGORIES, Example, LexiconFile, Rule, RuleContext
from mhguard.lexicon.phrase import MAX_VARIANTS, PhraseError, expand_phrase

__all__ = [
    "BUILTIN_DIR",
    "CATEGORIES",
    "CONTEXT_FILE",
    "DEFAULT_REGEX_TIMEOUT",
    "MAX_VARIANTS",
    "CompiledLexicon",
    "Example",
    "Lexicon",
    "LexiconFile",
    "LexiconRule",
    "Match",
    "PhraseError",
    "Rule",
    "RuleContext",
    "builtin_lexicon_names",
    "compile_rules",
    "expand_phrase",
    "load_lexicon",
]
