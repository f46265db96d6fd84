"""The policy document's top-level shape. Filter entries are validated by their own filter type's model."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from mhguard.filters.base import LocalizedText, OnError
from mhguard.types import Tier

__all__ = ["EscalationSettings", "Limits", "LocalizedText", "PolicyDocument", "StreamSettings", "TemplateRef"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    #: Texts longer than this raise InputTooLargeError. Checks are linear, so this guards memory, not time.
    max_chars: int = Field(default=1_000_000, ge=1)
    #: Earlier messages considered by filters that read history (the newest ones are kept).
    max_history_messages: int = Field(default=20, ge=0)


class StreamSettings(_Strict):
    #: Characters of already released text given to the filters as context for each new piece.
    window_chars: int = Field(default=200, ge=0, le=10_000)
    #: A piece is checked and released at a sentence end, or when this many characters are pending.
    max_piece_chars: int = Field(default=400, ge=20, le=100_000)


class TemplateRef(_Strict):
    """A response rendered from a template family (built-in name such as ``crisis``, or a YAML path):
    the template is chosen by the finding's tier, category and experiencer, in the person's language."""

    template: str


class EscalationSettings(_Strict):
    #: Input decisions whose risk is at or above this tier go to the escalation handlers.
    threshold: Tier = Tier.HIGH
    #: Opt in to giving handlers the person's message (off by default: privacy).
    include_text: bool = False


class PolicyDocument(_Strict):
    name: str
    version: str = "1"
    description: str = ""
    extends: str | None = None
    #: BCP-47 locale used when neither the call nor the session gives one.
    locale: str = "en-US"
    #: ``auto``: messages are read in the languages they show, and a crisis response or notice is written
    #: in the message's language when that is clear (the locale still picks the country's lines). A
    #: language code ("es", "zh-Hant") reads every message as that language and answers in it.
    language: str = "auto"
    #: What a filter exception does: ``block`` (fail closed, the default) or ``raise``.
    on_error: OnError = "block"
    limits: Limits = Limits()
    stream: StreamSettings = StreamSettings()
    #: Responses by id; filters refer to them in their ``responses`` map. A text, texts per language, or
    #: ``{template: crisis}`` for a response rendered from a template family with local helplines.
    responses: dict[str, Annotated[TemplateRef | LocalizedText, Field(union_mode="left_to_right")]] = {}
    #: A helpline directory file in the built-in format (relative to the policy); default: the built-in one.
    helplines: str | None = None
    escalation: EscalationSettings = EscalationSettings()
    input: list[dict[str, Any]] = []
    output: list[dict[str, Any]] = []
