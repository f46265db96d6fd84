"""What a filter is: a config model validated from the policy, and a ``check`` that reports findings.

Filters only detect. They return :class:`~mhguard.types.Finding` objects for a normalised text; the engine
turns findings and the policy's action maps into one :class:`~mhguard.types.Decision`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from mhguard.text.normalize import NormalizedText
from mhguard.types import Action, Finding, Stage, Tier

__all__ = ["Filter", "FilterConfig", "FilterContext", "LocalizedText", "Message", "OnError"]

OnError = Literal["block", "raise"]
Message = Mapping[str, Any]
#: A text in one language, or a mapping of language (``en``, ``pt-BR``...) to text.
LocalizedText = str | dict[str, str]


class FilterConfig(BaseModel):
    """Keys every filter entry in a policy accepts. Filter types subclass this with their own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    id: str | None = None
    enabled: bool = True
    on_error: OnError | None = None
    #: tier -> action; a tier not listed takes the action of the nearest listed tier below it.
    actions: dict[Tier, Action] = {}
    #: category -> action; combined with the tier's action, the stronger one wins.
    category_actions: dict[str, Action] = {}
    #: action -> response id (a key of the policy's ``responses``) or a literal text.
    responses: dict[Action, str] = {}
    #: tier -> instruction for the model when the call goes ahead (a response id or a literal text);
    #: a tier not listed takes the instruction of the nearest listed tier below it.
    instructions: dict[Tier, str] = {}


@dataclass(frozen=True)
class FilterContext:
    """What a filter may know besides the text itself."""

    stage: Stage
    locale: str | None = None
    language: str | None = None
    history: Sequence[Message] = ()
    user_text: str | None = None
    session: Any = None
    #: The guard's clock (epoch seconds) at the time of the check; injectable for tests.
    now: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)


class Filter(ABC):
    """Base class of filter types. Register a subclass with :func:`mhguard.registry.register_filter`."""

    #: The config model that validates this filter's policy entry.
    Config: ClassVar[type[FilterConfig]] = FilterConfig
    #: The stages this filter may be placed in.
    stages: ClassVar[frozenset[Stage]] = frozenset({Stage.INPUT, Stage.OUTPUT})
    #: Tier -> action used when the policy entry gives no ``actions``.
    default_actions: ClassVar[Mapping[Tier, Action]] = {
        Tier.CONCERN: Action.ALLOW,
        Tier.LOW: Action.ANNOTATE,
        Tier.MODERATE: Action.ESCALATE,
    }

    def __init__(self, config: FilterConfig, *, base_dir: Path | None = None) -> None:
        self.config = config
        self.base_dir = base_dir
        self.id: str = config.id or config.type
        self._action_map = self._tier_actions(dict(config.actions) or dict(self.default_actions))

    @staticmethod
    def _tier_actions(listed: Mapping[Tier, Action]) -> dict[Tier, Action]:
        table: dict[Tier, Action] = {}
        current = Action.ALLOW
        for tier in Tier:
            current = listed.get(tier, current)
            table[tier] = current if tier is not Tier.NONE else listed.get(Tier.NONE, Action.ALLOW)
        return table

    def action_for(self, finding: Finding) -> Action:
        """The policy's action for one finding: the stronger of its tier's and its category's action."""
        action = self._action_map[finding.tier]
        by_category = self.config.category_actions.get(finding.category)
        if by_category is not None and by_category > action:
            action = by_category
        return action

    @abstractmethod
    def check(self, text: NormalizedText, ctx: FilterContext) -> Sequence[Finding]:
        """Report findings for ``text``. Spans in findings are in ``text.original``."""

    def response_ref(self, finding: Finding, action: Action) -> str | None:
        """The response id (or literal text) for ``action`` on ``finding``; ``None`` means the default."""
        return self.config.responses.get(action)

    def instructions(self, findings: Sequence[Finding], ctx: FilterContext) -> Sequence[str]:
        """System instructions for the model when the call goes ahead (none by default)."""
        return ()
