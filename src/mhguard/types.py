"""The result types every check returns: :class:`Decision`, :class:`Finding`, :class:`Action`, :class:`Tier`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from typing_extensions import Self

__all__ = ["Action", "Decision", "Finding", "Stage", "Tier"]


class _OrderedStrEnum(str, Enum):
    """A string enum whose members compare by declaration order, not alphabetically."""

    @property
    def rank(self) -> int:
        return _RANKS[type(self)][self]

    def _cmp_rank(self, other: object) -> int | None:
        if isinstance(other, type(self)):
            return other.rank
        if isinstance(other, str):
            try:
                return type(self)(other).rank
            except ValueError:
                return None
        return None

    def __lt__(self, other: object) -> bool:
        r = self._cmp_rank(other)
        if r is None:
            return NotImplemented
        return self.rank < r

    def __le__(self, other: object) -> bool:
        r = self._cmp_rank(other)
        if r is None:
            return NotImplemented
        return self.rank <= r

    def __gt__(self, other: object) -> bool:
        r = self._cmp_rank(other)
        if r is None:
            return NotImplemented
        return self.rank > r

    def __ge__(self, other: object) -> bool:
        r = self._cmp_rank(other)
        if r is None:
            return NotImplemented
        return self.rank >= r

    __hash__ = str.__hash__

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def highest(cls, items: Iterable[Self], default: Self) -> Self:
        best = default
        for item in items:
            if item.rank > best.rank:
                best = item
        return best


class Tier(_OrderedStrEnum):
    """Risk tier, aligned with the C-SSRS screener. Ordered: ``Tier.LOW < Tier.HIGH``."""

    NONE = "none"
    CONCERN = "concern"
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    IMMINENT = "imminent"

    def lowered(self, steps: int = 1) -> Tier:
        members = list(Tier)
        return members[max(0, self.rank - steps)]


class Action(_OrderedStrEnum):
    """What happens to the text. Ordered by precedence: escalate > block > rewrite > annotate > allow."""

    ALLOW = "allow"
    ANNOTATE = "annotate"
    REWRITE = "rewrite"
    BLOCK = "block"
    ESCALATE = "escalate"


class Stage(str, Enum):
    INPUT = "input"
    OUTPUT = "output"

    def __str__(self) -> str:
        return str(self.value)


_RANKS: dict[type, dict[Any, int]] = {
    Tier: {m: i for i, m in enumerate(Tier)},
    Action: {m: i for i, m in enumerate(Action)},
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a filter found, with where and why, so that a reviewer can see the reason.

    ``span`` is a ``(start, end)`` slice of the ORIGINAL text; ``matched`` is ``original[start:end]``.
    ``modifiers`` lists the context that changed the finding (``negated``, ``historical``,
    ``other_person``, ``hypothetical``, ``idiom``...). ``replacement`` is set by filters that can rewrite
    the span in place.
    """

    filter_id: str
    rule_id: str
    category: str
    tier: Tier
    span: tuple[int, int]
    matched: str
    reason: str
    modifiers: tuple[str, ...] = ()
    replacement: str | None = None

    @property
    def active(self) -> bool:
        """False for a finding that context cancelled (negation, idiom): kept for review, tier none."""
        return self.tier is not Tier.NONE

    def to_dict(self, *, include_text: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "filter_id": self.filter_id,
            "rule_id": self.rule_id,
            "category": self.category,
            "tier": self.tier.value,
            "span": list(self.span),
            "reason": self.reason,
            "modifiers": list(self.modifiers),
        }
        if include_text:
            data["matched"] = self.matched
            if self.replacement is not None:
                data["replacement"] = self.replacement
        return data


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one text. Immutable; ``to_dict()`` gives a JSON-ready form.

    ``text`` is what the person should see instead of the checked text: the crisis or block response, the
    rewritten text, or (output stage) the annotated reply. It is ``None`` when the text passes unchanged.
    ``annotation`` is text to add after the model's reply (input stage, action ``annotate``);
    ``instructions`` are system instructions to give the model before it answers (for example a safety
    instruction at tier low). ``status`` is ``"error"`` when a filter failed and the decision was closed.
    """

    stage: Stage
    action: Action
    risk: Tier
    categories: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    text: str | None = None
    annotation: str | None = None
    instructions: tuple[str, ...] = ()
    status: str = "ok"
    policy: str = ""
    locale: str | None = None
    session_id: str | None = None
    extra: tuple[tuple[str, Any], ...] = field(default=())
    #: The language the message was read in when it was clear ("es", "zh-Hant"); None when unclear.
    language: str | None = None

    @property
    def allowed(self) -> bool:
        """True when the text (possibly rewritten or annotated) goes on; False for block and escalate."""
        return self.action not in (Action.BLOCK, Action.ESCALATE)

    @property
    def active_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.tier is not Tier.NONE)

    def to_dict(self, *, include_text: bool = True) -> dict[str, Any]:
        """JSON-ready dict. ``include_text=False`` drops matched spans and response texts (for logs)."""
        data: dict[str, Any] = {
            "stage": self.stage.value,
            "action": self.action.value,
            "risk": self.risk.value,
            "allowed": self.allowed,
            "categories": list(self.categories),
            "findings": [f.to_dict(include_text=include_text) for f in self.findings],
            "status": self.status,
            "policy": self.policy,
            "locale": self.locale,
            "language": self.language,
            "session_id": self.session_id,
        }
        if include_text:
            data["text"] = self.text
            data["annotation"] = self.annotation
            data["instructions"] = list(self.instructions)
        if self.extra:
            data["extra"] = dict(self.extra)
        return data
