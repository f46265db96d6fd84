from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def keyword_policy(**overrides: object) -> dict[str, object]:
    """A small policy built only from keywords filters, so core tests do not depend on the lexicons."""
    policy: dict[str, object] = {
        "name": "test",
        "responses": {"crisis": "CRISIS RESPONSE", "blocked": "BLOCKED RESPONSE",
                      "resources": "RESOURCES NOTE"},
        "input": [{
            "type": "keywords", "id": "risk",
            "actions": {"concern": "allow", "low": "annotate", "moderate": "escalate"},
            "rules": [
                {"id": "t.high", "category": "suicide", "tier": "high", "phrases": ["kill myself"]},
                {"id": "t.low", "category": "suicide", "tier": "low", "phrases": ["wish i was dead"]},
                {"id": "t.block", "category": "banned", "tier": "none", "phrases": ["forbidden topic"]},
            ],
            "category_actions": {"banned": "block"},
        }],
        "output": [{
            "type": "keywords", "id": "out",
            "category_actions": {"stigma": "rewrite", "method": "block"},
            "rules": [
                {"id": "o.stigma", "category": "stigma", "tier": "none", "phrases": ["committed suicide"],
                 "replacement": "died by suicide"},
                {"id": "o.method", "category": "method", "tier": "none", "phrases": ["secret method"]},
            ],
        }],
    }
    policy.update(overrides)
    return policy
