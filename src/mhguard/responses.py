"""Response texts: what the person reads instead of a blocked or escalated message.

Texts come from the policy (``responses:``), by id, in the person's language when the policy has it.
The fallbacks below are used only when a policy names no response for an action; they follow safe
messaging (acknowledge, not alone, where to get help now, keep talking) rather than refusing.
"""

from __future__ import annotations

from collections.abc import Mapping

from mhguard.policy.models import LocalizedText
from mhguard.types import Action

__all__ = ["DEFAULT_RESPONSE_IDS", "FALLBACK_TEXTS", "language_of", "pick_language"]

#: The response id an action uses when a filter's ``responses`` map does not name one.
DEFAULT_RESPONSE_IDS: Mapping[Action, str] = {
    Action.ESCALATE: "crisis",
    Action.BLOCK: "blocked",
    Action.ANNOTATE: "resources",
    Action.REWRITE: "rewritten",
}

FALLBACK_TEXTS: Mapping[str, str] = {
    "crisis": (
        "I'm really glad you told me, and I'm sorry you're going through this. You don't have to face it "
        "alone. If you might act on these thoughts or are in danger right now, please call your local "
        "emergency number. You can also reach a crisis line: findahelpline.com lists free, confidential "
        "services in your country. I'm here to keep talking with you if you'd like."
    ),
    "blocked": (
        "I can't help with that part, but I'm still here for you. If you're having a hard time, we can "
        "talk about what's going on, and findahelpline.com lists free support lines in your country."
    ),
    "resources": (
        "If things feel like too much, you can talk to someone any time: findahelpline.com lists free, "
        "confidential support lines in your country."
    ),
    "rewritten": "[removed]",
}


def language_of(locale: str | None) -> str | None:
    """``"pt-BR"`` -> ``"pt"``; ``None`` stays ``None``."""
    if not locale:
        return None
    return locale.replace("_", "-").split("-")[0].lower() or None


def pick_language(text: LocalizedText, locale: str | None, default_locale: str | None) -> str:
    """The text for ``locale``: exact tag, then its language, then the default's, then English, then any."""
    if isinstance(text, str):
        return text
    if not text:
        return ""
    lowered = {key.replace("_", "-").lower(): value for key, value in text.items()}
    for candidate in (locale, language_of(locale), default_locale, language_of(default_locale), "en"):
        if candidate and candidate.replace("_", "-").lower() in lowered:
            return lowered[candidate.replace("_", "-").lower()]
    return next(iter(text.values()))
