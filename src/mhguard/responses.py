"""Response texts: what the person reads instead of a blocked or escalated message, and notes added
after a reply.

Texts come from the policy (``responses:``) by id, in the person's language when the policy has it, or
from a template family rendered with the helpline directory for the person's country. The fallbacks below
are used only when a policy names no response for an action; they follow safe messaging (acknowledge, not
alone, where to get help now, keep talking) rather than refusing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mhguard.crisis_response import CrisisContext, TemplateFamily, load_templates, render_crisis_response
from mhguard.filters.base import LocalizedText
from mhguard.helplines import Directory, load_directory
from mhguard.policy.models import PolicyDocument, TemplateRef
from mhguard.types import Action, Finding, Tier

__all__ = ["DEFAULT_RESPONSE_IDS", "FALLBACK_TEXTS", "ResponseRenderer", "language_of", "pick_language"]

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


def experiencer_of(finding: Finding) -> str:
    return "other_person" if finding.category == "other_person" or "other_person" in finding.modifiers else "user"


class ResponseRenderer:
    """Resolves response ids for one policy. Built at load time, so a missing template fails the load."""

    def __init__(self, document: PolicyDocument, base_dir: Path | None) -> None:
        self.document = document
        self._directory_path: Path | None = None
        if document.helplines:
            self._directory_path = base_dir / document.helplines if base_dir else Path(document.helplines)
            load_directory(self._directory_path)  # a custom directory must be valid when the policy loads
        self.families: dict[str, TemplateFamily] = {}
        for value in document.responses.values():
            if isinstance(value, TemplateRef) and value.template not in self.families:
                self.families[value.template] = load_templates(value.template, base_dir)

    @property
    def directory(self) -> Directory:
        return load_directory(self._directory_path)

    def render(self, ref: str, *, locale: str | None, finding: Finding | None) -> str:
        """A response id, or a literal text, rendered for this locale (and finding, for templates)."""
        value = self.document.responses.get(ref)
        if value is None:
            return FALLBACK_TEXTS.get(ref, ref)
        if isinstance(value, TemplateRef):
            family = self.families[value.template]
            ctx = CrisisContext(
                tier=finding.tier if finding is not None else Tier.MODERATE,
                category=finding.category if finding is not None else "suicide",
                experiencer=experiencer_of(finding) if finding is not None else "user",
            )
            return render_crisis_response(family, ctx, locale=locale, default_locale=self.document.locale,
                                          directory=self.directory)
        return pick_language(value, locale, self.document.locale)
