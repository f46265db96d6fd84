"""The audit record: one decision, without the person's words.

A record keeps what a reviewer or a regulator's report needs (stage, action, tier, categories, rule ids and
spans, session id, locale, policy identity) and a salted hash of the text so that a record can be matched to
a message the operator already holds, without the audit trail holding it. Findings lose ``matched``,
``replacement`` and ``reason`` (each can quote the text); spans are kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mhguard.types import Decision

if TYPE_CHECKING:
    from mhguard.policy.loader import Policy

__all__ = ["SCHEMA_VERSION", "STAGES", "AuditRecord", "TextHasher", "build_record"]

SCHEMA_VERSION = 1
#: ``stream`` marks the one summary decision of a streamed reply.
STAGES = ("input", "output", "stream")


def _version() -> str:
    from mhguard import __version__

    return __version__


class TextHasher:
    """HMAC-SHA256 of a text with a secret salt.

    A plain hash of a short message can be reversed by hashing guesses; a keyed hash cannot without the salt.
    With the same salt (from the environment) hashes link the same text across runs and sinks; without one,
    a random salt is drawn per sink and hashes link only within that sink's lifetime.
    """

    def __init__(self, salt: bytes | str | None = None) -> None:
        if isinstance(salt, str):
            salt = salt.encode("utf-8")
        #: True when the salt was drawn at random (hashes are not linkable across runs).
        self.ephemeral = not salt
        self._key = salt or secrets.token_bytes(32)
        #: A fingerprint of the salt, so a reader can tell which hashes are comparable. Not the salt.
        self.salt_id = hashlib.sha256(b"mhguard-audit-salt-id\x00" + self._key).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"TextHasher(salt_id={self.salt_id!r}, ephemeral={self.ephemeral})"

    def __call__(self, text: str) -> str:
        digest = hmac.new(self._key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest}"


@dataclass(frozen=True)
class AuditRecord:
    """One recorded decision. ``to_dict()`` is the stored JSON object (schema in docs/audit.md)."""

    stage: str
    action: str
    risk: str
    categories: tuple[str, ...] = ()
    #: Per finding: filter_id, rule_id, category, tier, modifiers, span. Never the matched text.
    findings: tuple[Mapping[str, Any], ...] = ()
    status: str = "ok"
    session_id: str | None = None
    locale: str | None = None
    policy: str = ""
    policy_version: str = ""
    #: sha256 of the policy document as loaded (after ``extends``): identifies the exact rules applied.
    policy_hash: str = ""
    mhguard_version: str = field(default_factory=_version)
    latency_ms: float | None = None
    text_hash: str | None = None
    salt_id: str | None = None
    #: The redacted text, only with ``store_text: redacted``; otherwise ``None``.
    text: str | None = None
    #: Stream summaries: how many pieces were judged.
    pieces: int | None = None
    record_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    epoch: float = field(default_factory=time.time)
    schema: int = SCHEMA_VERSION

    @property
    def ts(self) -> str:
        """The time as UTC ISO 8601."""
        return dt.datetime.fromtimestamp(self.epoch, tz=dt.timezone.utc).isoformat(timespec="microseconds")

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(f.get("rule_id", "")) for f in self.findings))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ts"] = self.ts
        data["categories"] = list(self.categories)
        data["findings"] = [dict(f) for f in self.findings]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditRecord:
        """Rebuild a record from :meth:`to_dict` output; unknown keys (newer writers) are ignored."""
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in known}
        for key in ("stage", "action", "risk", "record_id"):
            if not isinstance(values.get(key), str):
                raise ValueError(f"audit record without a valid {key!r}")
        if isinstance(values.get("epoch"), bool) or not isinstance(values.get("epoch"), (int, float)):
            raise ValueError("audit record without a numeric 'epoch'")
        values["categories"] = tuple(str(c) for c in values.get("categories") or ())
        values["findings"] = tuple(dict(f) for f in values.get("findings") or () if isinstance(f, Mapping))
        return cls(**values)


def _finding_dict(finding: Any) -> dict[str, Any]:
    return {
        "filter_id": finding.filter_id,
        "rule_id": finding.rule_id,
        "category": finding.category,
        "tier": finding.tier.value,
        "modifiers": list(finding.modifiers),
        "span": list(finding.span),
    }


def build_record(decision: Decision, *, text: str | None = None, policy: Policy | None = None,
                 stage: str | None = None, latency_ms: float | None = None, hasher: TextHasher | None = None,
                 store_text: str = "none", epoch: float | None = None) -> AuditRecord:
    """The audit record of ``decision``. ``text`` (the checked text) is only hashed, or redacted with
    ``store_text="redacted"``; ``stage`` overrides the decision's (``"stream"`` for stream summaries)."""
    from mhguard.audit.redact import redact

    stage = stage or decision.stage.value
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    if store_text not in ("none", "redacted"):
        raise ValueError(f"store_text must be 'none' or 'redacted', not {store_text!r}")
    extra = dict(decision.extra)
    pieces = extra.get("pieces")
    return AuditRecord(
        stage=stage,
        action=decision.action.value,
        risk=decision.risk.value,
        categories=tuple(decision.categories),
        findings=tuple(_finding_dict(f) for f in decision.findings),
        status=decision.status,
        session_id=decision.session_id,
        locale=decision.locale,
        policy=policy.name if policy is not None else decision.policy,
        policy_version=policy.version if policy is not None else "",
        policy_hash=policy.digest if policy is not None else "",
        latency_ms=None if latency_ms is None else round(latency_ms, 3),
        text_hash=hasher(text) if hasher is not None and text is not None else None,
        salt_id=hasher.salt_id if hasher is not None and text is not None else None,
        text=redact(text) if store_text == "redacted" and text is not None else None,
        pieces=pieces if isinstance(pieces, int) else None,
        epoch=time.time() if epoch is None else epoch,
    )
