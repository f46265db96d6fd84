"""Policies: YAML documents (or dicts) that say which filters run and what each finding leads to."""

from mhguard.policy.loader import Policy, builtin_policy_names, load_policy
from mhguard.policy.models import (
    EscalationSettings,
    Limits,
    LocalizedText,
    PolicyDocument,
    StreamSettings,
    TemplateRef,
)

__all__ = [
    "EscalationSettings",
    "Limits",
    "LocalizedText",
    "Policy",
    "PolicyDocument",
    "StreamSettings",
    "TemplateRef",
    "builtin_policy_names",
    "load_policy",
]
