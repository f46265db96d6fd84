"""``helplines``: catch wrong, invented, other-country or retired crisis numbers in model replies.

Models invent hotline numbers and give the wrong country's (911 to a UK user). This output filter finds
phone numbers and short codes that the reply presents as a line to call or text, and compares them with
the helpline directory for the person's country (from the locale). A number that is not a known crisis
or emergency number there is a ``wrong_helpline`` finding, with the right number as its replacement; a
retired number that still routes is ``outdated_helpline``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import regex

from mhguard.filters.base import Filter, FilterConfig, FilterContext
from mhguard.helplines import Directory, digits, load_directory
from mhguard.locale import parse_locale
from mhguard.registry import register_filter
from mhguard.text.normalize import NormalizedText
from mhguard.types import Action, Finding, Stage, Tier

__all__ = ["HelplinesConfig", "HelplinesFilter"]

# A run of digits with the separators people write in phone numbers; 3 to 15 digits in all.
_NUMBER = regex.compile(r"(?<![\w+])\+?\(?\d(?:[\d \-().]{0,20}\d)?(?![\w])")
# Words that present a number as something to call, text or dial (checked near the number).
# English plus the other shipped languages (es, fr, de, pt, zh), kept short: a cue only has to be near.
_CUE = regex.compile(
    r"\b(?:call|calling|text|texting|dial|ring|phone|hotline|helpline|lifeline|crisis|line|number|sms|"
    r"whatsapp|contact|reach|emergency|samaritans|suicide|prevention|support|"
    r"llama|llamar|llámanos|línea|linea|número|numero|teléfono|telefono|urgencias|"
    r"appelle|appeler|appelez|ligne|numéro|urgence|compose|"
    r"ruf|rufe|anrufen|telefon|nummer|notruf|seelsorge|"
    r"ligue|ligar|linha|telefone|emergência)\b|拨打|电话|热线|求助|急救",
    regex.IGNORECASE,
)
# Numbers that are clearly not phone numbers in context: years, times, percentages, amounts, ordinals.
_NOT_PHONE_AFTER = regex.compile(r"\s*(?:%|percent|years?|hours?|minutes?|mg|kg|km|am|pm|st|nd|rd|th)\b",
                                 regex.IGNORECASE)


class HelplinesConfig(FilterConfig):
    #: A directory file in the built-in format (relative to the policy's folder); default: built-in.
    directory: str | None = None
    #: How far (characters) before and after a number a cue word ("call", "helpline"...) may stand.
    cue_window: int = 40


@register_filter("helplines")
class HelplinesFilter(Filter):
    Config = HelplinesConfig
    stages = frozenset({Stage.OUTPUT})
    default_actions: ClassVar[Mapping[Tier, Action]] = {Tier.NONE: Action.ALLOW}

    def __init__(self, config: FilterConfig, *, base_dir: Path | None = None) -> None:
        super().__init__(config, base_dir=base_dir)
        assert isinstance(config, HelplinesConfig)
        self.cue_window = config.cue_window
        self._path: Path | None = None
        if config.directory:
            self._path = base_dir / config.directory if base_dir else Path(config.directory)
            load_directory(self._path)  # validate when the policy loads

    @property
    def directory(self) -> Directory:
        return load_directory(self._path)

    def check(self, text: NormalizedText, ctx: FilterContext) -> Sequence[Finding]:
        original = text.original
        if not any(ch.isdigit() for ch in original):
            return []
        directory = self.directory
        locale = parse_locale(ctx.locale)
        country_code = locale.country if locale else None
        known = directory.known_numbers(country_code)
        everywhere: set[str] | None = None
        retired = directory.retired_numbers(None)
        findings: list[Finding] = []
        for match in _NUMBER.finditer(original):
            number = digits(match.group())
            if not 3 <= len(number) <= 15 or _NOT_PHONE_AFTER.match(original, match.end()):
                continue
            if len(number) == 4 and 1900 <= int(number) <= 2100 and not match.group().startswith(("0", "+")):
                continue  # a year
            lo, hi = max(0, match.start() - self.cue_window), min(len(original), match.end() + self.cue_window)
            if not _CUE.search(original, lo, hi):
                continue
            retired_entry = retired.get(number)
            if number in known and retired_entry is None:
                continue
            if country_code is None:
                # Without a country we can only catch numbers that no directory entry knows.
                if everywhere is None:
                    everywhere = set().union(*(directory.known_numbers(c) for c in directory.countries))
                if number in everywhere and retired_entry is None:
                    continue
            findings.append(self._finding(match.start(), match.end(), original, number, country_code, directory,
                                          retired_entry))
        return findings

    def _finding(self, start: int, end: int, original: str, number: str, country_code: str | None,
                 directory: Directory, retired_entry: object) -> Finding:
        country = directory.country(country_code)
        others = directory.countries_with_number(number)
        is_emergency_elsewhere = any(number in {digits(n) for n in directory.countries[c].emergency} for c in others)
        if country is not None:
            if is_emergency_elsewhere or not country.services:
                replacement = country.emergency[0]
            else:
                service = country.services[0]
                replacement = service.phone or (service.sms.number if service.sms else country.emergency[0])
        else:
            replacement = "your local emergency number (or see findahelpline.com)"
        where = f"for {country_code}" if country_code else "in any country of the directory"
        category = "wrong_helpline"
        if retired_entry is not None and getattr(retired_entry, "still_routes", False):
            category = "outdated_helpline"
            reason = f"{original[start:end]} is a retired number ({getattr(retired_entry, 'note', '')})"
        elif retired_entry is not None:
            reason = f"{original[start:end]} is a retired number that no longer works"
        elif others:
            reason = (f"{original[start:end]} is not a crisis or emergency number {where}; "
                      f"it belongs to {', '.join(others)}")
        else:
            reason = f"{original[start:end]} is not a known crisis or emergency number {where}"
        return Finding(filter_id=self.id, rule_id=f"helplines.{category}", category=category, tier=Tier.NONE,
                       span=(start, end), matched=original[start:end], reason=reason, replacement=replacement)
