"""Human escalation: handlers that receive an event when a person's risk reaches the policy's threshold.

An :class:`EscalationEvent` carries the decision without the person's words (rule ids, tier, categories,
session id, locale); the message itself is included only when the policy sets
``escalation: {include_text: true}``. Handlers may be plain or async callables. A handler that fails is
logged and never costs the person their crisis response.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from mhguard.types import Decision

__all__ = ["AsyncWebhookHandler", "EscalationEvent", "EscalationHandler", "WebhookHandler"]

logger = logging.getLogger("mhguard.escalation")


@dataclass(frozen=True)
class EscalationEvent:
    """What a human on call needs to act, and no more."""

    tier: str
    categories: tuple[str, ...]
    action: str
    session_id: str | None
    locale: str | None
    policy: str
    policy_version: str
    decision: Mapping[str, Any]
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat())
    text: str | None = None

    @classmethod
    def from_decision(cls, decision: Decision, *, policy_version: str, text: str | None = None) -> EscalationEvent:
        return cls(
            tier=decision.risk.value, categories=decision.categories, action=decision.action.value,
            session_id=decision.session_id, locale=decision.locale, policy=decision.policy,
            policy_version=policy_version, decision=decision.to_dict(include_text=False), text=text,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["categories"] = list(self.categories)
        data["decision"] = dict(self.decision)
        if self.text is None:
            del data["text"]
        return data


EscalationHandler = Any  # Callable[[EscalationEvent], None | Awaitable[None]]


class WebhookHandler:
    """POSTs each event as JSON to ``url`` (standard library only). Raises on HTTP errors, so the guard
    logs the failure; the person's response is never held up beyond ``timeout`` seconds."""

    def __init__(self, url: str, *, timeout: float = 5.0, headers: Mapping[str, str] | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("webhook url must start with http:// or https://")
        self.url = url
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def __call__(self, event: EscalationEvent) -> None:
        body = json.dumps(event.to_dict(), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            if response.status >= 300:
                raise RuntimeError(f"webhook answered HTTP {response.status}")


class AsyncWebhookHandler(WebhookHandler):
    """The same webhook for async code: the blocking POST runs in a worker thread."""

    async def __call__(self, event: EscalationEvent) -> None:  # type: ignore[override]
        await asyncio.to_thread(WebhookHandler.__call__, self, event)
