"""Policies: YAML documents (or dicts) that say which filters run and what each finding leads to."""

from mhguard.policy.loader import Policy, builtin_policy_names, load_policy
from mhguard.policy.models import Limits, LocalizedText, PolicyDocument, StreamSettings

__all__ = ["Limits", "LocalizedText", "Policy", "PolicyDocument", "StreamSettings", "builtin_policy_names",
           "load_policy"]
