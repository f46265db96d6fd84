"""mhguard.audit.redact: identifiers are masked, ordinary words, small numbers and clock times are kept."""

from __future__ import annotations

import pytest

from mhguard.audit.redact import redact


@pytest.mark.parametrize("text, expected", [
    ("mail me at jo.doe+x@example.co.uk please", "mail me at [EMAIL] please"),
    ("see https://example.org/a?b=1 or www.example.com/x", "see [URL] or [URL]"),
    ("my blog example.net/posts/12 says it", "my blog [URL] says it"),
    ("server 192.168.10.254 is down", "server [IP] is down"),
    ("ipv6 2001:db8:85a3:0:0:8a2e:370:7334 and fe80::1", "ipv6 [IP] and [IP]"),
    ("card 4111 1111 1111 1111 expires", "card [CARD] expires"),
    ("card 4111-1111-1111-1111", "card [CARD]"),
    ("account GB82 WEST 1234 5698 7654 32", "account [IBAN]"),
    ("call +44 20 7946 0958 now", "call [PHONE] now"),
    ("call (212) 555-0199 or 555.123.4567", "call [PHONE] or [PHONE]"),
    ("my id is 12345678", "my id is [PHONE]"),
    ("member 987654", "member [NUMBER]"),
    ("born 03/04/2009, or 2009-04-03", "born [DATE], or [DATE]"),
    ("dm @sad_kid99 or @someone.else", "dm [HANDLE] or [HANDLE]"),
])
def test_identifiers_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "I want to die",
    "I took 20 pills at 10:30 and again at 11:45:10",
    "I am 17 and it started in 2019",
    "it's 5 floors high, room 101",
    "call 988 or text HOME to 85258",
])
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact(text) == text


def test_six_digit_runs_are_masked_even_when_they_are_short_codes() -> None:
    # Over-masking is the safe side: a six-digit run may be a member number as well as a text line.
    assert redact("text HOME to 741741") == "text HOME to [NUMBER]"


def test_masking_is_idempotent_and_total() -> None:
    text = "jo@example.org https://x.io/p 10.0.0.1 4111111111111111 +1 415 555 2671 @handle 12345678"
    once = redact(text)
    assert redact(once) == once
    assert not any(ch.isdigit() for ch in once)
    assert "@" not in once and "http" not in once


def test_non_text_is_refused() -> None:
    with pytest.raises(TypeError):
        redact(None)  # type: ignore[arg-type]
