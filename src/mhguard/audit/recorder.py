"""How the Guard records its decisions: which sink, and what a failed write does.

A failed write never lets a decision pass unrecorded and unnoticed. ``on_error: raise`` (the default) raises
:class:`~mhguard.errors.AuditError` from the check, carrying the decision (so a caller can still show a crisis
response); ``on_error: block`` closes the decision instead (an allowed text becomes a block with the policy's
block response; a block or crisis response stays as it is), marks it ``status="error"`` and logs the record,
without text, at ERROR on the ``mhguard.audit`` logger.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mhguard.audit.sinks import AuditSink, open_sink
from mhguard.errors import AuditError
from mhguard.policy.models import AuditSettings
from mhguard.types import Action, Decision, Finding, Tier

if TYPE_CHECKING:
    from mhguard.policy.loader import Policy

__all__ = ["AUDIT_ERROR", "AuditTarget", "record_decision", "resolve_sink"]

logger = logging.getLogger("mhguard.audit")

AUDIT_ERROR = "audit_error"

#: What ``Guard(audit=...)`` accepts: a path, a sink, settings (or their mapping), ``None`` (the policy's
#: ``audit:`` section, if it names a path) or ``False`` (no audit even if the policy has one).
AuditTarget = str | os.PathLike[str] | AuditSink | AuditSettings | Mapping[str, Any] | bool | None


def resolve_sink(audit: AuditTarget, policy: Policy) -> AuditSink | None:
    """The sink a guard with this ``audit=`` argument and policy writes to, opened now so a bad path fails at
    construction, not on the first message."""
    settings = policy.document.audit
    if audit is None:
        return open_sink(settings) if settings.path is not None else None
    if audit is False:
        return None
    if audit is True:
        raise AuditError("audit=True needs a path: give audit='audit.db' or set audit.path in the policy")
    if isinstance(audit, AuditSink):
        return audit
    if isinstance(audit, (str, os.PathLike)):
        return open_sink(audit, settings=settings)
    if isinstance(audit, (AuditSettings, Mapping)):
        return open_sink(audit)
    raise AuditError(f"audit must be a path, an AuditSink, audit settings, None or False, "
                     f"not {type(audit).__name__}")


def record_decision(sink: AuditSink, decision: Decision, *, policy: Policy, text: str | None, stage: str,
                    latency_ms: float | None, epoch: float) -> Decision:
    """Write the record of ``decision``; returns the decision to act on (closed if the write failed and the
    sink's settings say ``on_error: block``)."""
    record = None
    try:
        record = sink.build(decision, text=text, policy=policy, stage=stage, latency_ms=latency_ms, epoch=epoch)
        sink.write(record)
    except Exception as exc:
        if getattr(getattr(sink, "settings", None), "on_error", "raise") != "block":
            raise AuditError(f"audit record not written ({sink!r}): {exc}", decision=decision) from exc
        kept: Any = "(record could not be built)"
        if record is not None:
            kept = {k: v for k, v in record.to_dict().items() if k != "text"}
        # Not silent: the record (without text) goes to the log, the decision is closed.
        logger.error("mhguard audit write failed (%s: %s); decision closed; record: %s",
                     type(exc).__name__, exc, json.dumps(kept, ensure_ascii=False, default=str))
        return _closed(decision, policy, exc)
    return decision


def _closed(decision: Decision, policy: Policy, exc: BaseException) -> Decision:
    from mhguard.responses import DEFAULT_RESPONSE_IDS, FALLBACK_TEXTS

    finding = Finding(filter_id="audit", rule_id=AUDIT_ERROR, category=AUDIT_ERROR, tier=Tier.NONE, span=(0, 0),
                      matched="", reason=f"{AUDIT_ERROR}: {type(exc).__name__}")
    findings = (*decision.findings, finding)
    if not decision.allowed:
        return replace(decision, findings=findings, status="error")
    ref = DEFAULT_RESPONSE_IDS[Action.BLOCK]
    text = policy.renderer.render(ref, locale=decision.locale, finding=None)
    if not text.strip():
        text = FALLBACK_TEXTS[ref]
    return replace(decision, action=Action.BLOCK, text=text, annotation=None, instructions=(), findings=findings,
                   status="error")
