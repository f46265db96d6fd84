"""The policy document's top-level shape. Filter entries are validated by their own filter type's model."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from mhguard.filters.base import LocalizedText, OnError
from mhguard.types import Tier

__all__ = ["AUDIT_SUFFIXES", "AuditSettings", "EscalationSettings", "Limits", "LocalizedText", "PolicyDocument",
           "StreamSettings", "TemplateRef"]


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


#: Audit file suffix -> sink kind. Anything else is refused, so a typo never writes an unexpected format.
AUDIT_SUFFIXES = {".jsonl": "jsonl", ".db": "sqlite", ".sqlite": "sqlite", ".sqlite3": "sqlite"}


class AuditSettings(_Strict):
    """Where and how every decision is recorded (see docs/audit.md). No raw text is stored by default."""

    #: The audit file (relative paths are relative to the working directory): ``.jsonl`` for JSON lines,
    #: ``.db``/``.sqlite``/``.sqlite3`` for SQLite. ``None``: no audit unless the Guard or CLI gives one.
    path: str | None = None
    #: ``none``: no text, only a salted hash. ``redacted``: also the text with identifiers masked (opt-in).
    store_text: Literal["none", "redacted"] = "none"
    #: Environment variable holding the HMAC salt for ``text_hash``; without it a random per-sink salt is
    #: used and hashes cannot be linked across runs.
    salt_env: str = "MHGUARD_AUDIT_SALT"
    #: A salt given directly (prefer ``salt_env``: a policy file is often committed).
    salt: SecretStr | None = None
    #: ``always``: fsync each record before the call returns. ``batch``: every ``batch_records`` records
    #: and on flush/close. ``never``: leave it to the OS. Records reach the OS at once in every mode.
    fsync: Literal["always", "batch", "never"] = "always"
    batch_records: int = Field(default=100, ge=1, le=1_000_000)
    #: JSONL only: rotate the file when it would grow past this many bytes (``None``: never rotate).
    rotate_bytes: int | None = Field(default=None, ge=4096)
    #: JSONL only: rotated files kept (``audit.jsonl.1`` is the newest).
    keep: int = Field(default=10, ge=1, le=10_000)
    #: A record that cannot be written: ``raise`` AuditError from the check (default), or ``block``: the
    #: decision is closed (an allowed text becomes a block) and the failure is logged at ERROR.
    on_error: Literal["raise", "block"] = "raise"

    @field_validator("path")
    @classmethod
    def _known_suffix(cls, value: str | None) -> str | None:
        if value is not None:
            if PurePath(value).suffix.lower() not in AUDIT_SUFFIXES:
                raise ValueError(f"audit path {value!r} must end in one of {', '.join(AUDIT_SUFFIXES)}")
        return value

    @model_validator(mode="after")
    def _rotation_is_jsonl(self) -> AuditSettings:
        if self.rotate_bytes is not None and self.path is not None and not self.path.lower().endswith(".jsonl"):
            raise ValueError("rotate_bytes applies to a .jsonl audit only")
        return self


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
    #: The audit trail of every decision (off unless ``path`` is set or the Guard/CLI gives one).
    audit: AuditSettings = AuditSettings()
    input: list[dict[str, Any]] = []
    output: list[dict[str, Any]] = []
