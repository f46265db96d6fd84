"""BCP-47 locale handling: ``"pt-BR"`` -> language ``pt``, country ``BR``.

Resolution order for a call: the explicit ``locale=`` argument, else the session's locale, else the
policy's default. A language without a region (``"fr"``) gives no country: crisis responses then name the
local emergency number generically and the international directories.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

__all__ = ["Locale", "parse_locale"]

# language[-script][-region][-variants...]; region is 2 letters or 3 digits (UN M.49, e.g. 419).
_TAG = regex.compile(
    r"(?P<lang>[A-Za-z]{2,3})(?:[-_](?P<script>[A-Za-z]{4}))?(?:[-_](?P<region>[A-Za-z]{2}|\d{3}))?(?:[-_].*)?"
)
# Chinese script implied by region, when the tag names no script.
_TRADITIONAL_REGIONS = frozenset({"TW", "HK", "MO"})


@dataclass(frozen=True)
class Locale:
    tag: str
    language: str
    script: str | None
    country: str | None

    @property
    def language_variant(self) -> str:
        """Language with script where it matters for text: ``zh-Hant`` vs ``zh-Hans``."""
        if self.language == "zh":
            script = self.script or ("Hant" if self.country in _TRADITIONAL_REGIONS else "Hans")
            return f"zh-{script}"
        return self.language


def parse_locale(tag: str | None) -> Locale | None:
    """Parse a BCP-47 tag leniently (``en_GB`` works too). ``None`` or an unparsable tag gives ``None``."""
    if not tag or not isinstance(tag, str):
        return None
    match = _TAG.fullmatch(tag.strip())
    if match is None:
        return None
    region = match.group("region")
    country = region.upper() if region and region.isalpha() else None
    script = match.group("script")
    return Locale(tag=tag, language=match.group("lang").lower(), script=script.title() if script else None,
                  country=country)
