"""Mask identifiers in a text before it is stored in an audit trail (``audit: {store_text: redacted}``).

Masked: e-mail addresses, URLs and bare domains with a path, IP addresses (v4 and v6), card-like numbers
(13 to 19 digits with optional spaces or dashes), IBAN-like account numbers, phone numbers and other runs of
digits that can identify someone (6 or more digits), numeric dates (a date of birth identifies), and
``@handles``. Each match becomes a placeholder such
as ``[EMAIL]``.

This is pseudonymisation of the obvious identifiers, not anonymisation: names, places, dates and what the
person said remain. That is why storing text is opt-in.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["PATTERNS", "redact"]

# Order matters: an e-mail contains an @handle and a domain, a URL can contain digits and an e-mail, a card
# number is also a run of digits; the more specific pattern masks first.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("URL", re.compile(r"\b(?:https?|ftp)://[^\s<>\"']+|\bwww\.[^\s<>\"']+", re.IGNORECASE)),
    ("EMAIL", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("URL", re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/[^\s<>\"']*", re.IGNORECASE)),
    ("IP", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")),
    ("IPV6", re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])", re.IGNORECASE)),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")),
    ("DATE", re.compile(r"\b(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})\b")),
    ("CARD", re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")),
    ("PHONE", re.compile(r"(?<![\w+])\+?\(?\d{1,4}\)?(?:[ .-]?\(?\d{2,4}\)?){2,5}(?!\d)")),
    ("NUMBER", re.compile(r"(?<!\d)\d{6,}(?!\d)")),
    ("HANDLE", re.compile(r"(?<![\w@])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,48}[A-Za-z0-9_])?")),
)


def _is_phone(candidate: str) -> bool:
    # Seven digits is the shortest subscriber number worth masking; shorter groups are times, years, sizes.
    return sum(ch.isdigit() for ch in candidate) >= 7


def _is_ipv6(candidate: str) -> bool:
    # Clock times (10:30:00) have at most two colons; an IPv6 address has "::" or at least five.
    return "::" in candidate or candidate.count(":") >= 5


_CHECKS = {"PHONE": _is_phone, "IPV6": _is_ipv6}


def redact(text: str) -> str:
    """``text`` with identifiers replaced by ``[EMAIL]``, ``[URL]``, ``[IP]``, ``[IBAN]``, ``[CARD]``,
    ``[DATE]``, ``[PHONE]``, ``[NUMBER]`` and ``[HANDLE]``.

    >>> redact("mail me at jo.doe@example.org or call +44 20 7946 0958")
    'mail me at [EMAIL] or call [PHONE]'
    """
    if not isinstance(text, str):
        raise TypeError(f"redact needs a str, not {type(text).__name__}")
    for label, pattern in PATTERNS:
        text = pattern.sub(_masker(label), text)
    return text


def _masker(label: str) -> Callable[[re.Match[str]], str]:
    check = _CHECKS.get(label)
    mask = "[IP]" if label == "IPV6" else f"[{label}]"

    def replace(match: re.Match[str]) -> str:
        return mask if check is None or check(match.group(0)) else match.group(0)

    return replace
