"""mhguard: safety rails for chatbots that talk with people about their mental health.

The public API is listed in ``__all__``; everything else is internal.
"""

from mhguard.errors import (
    AuditError,
    FilterError,
    InputError,
    InputTooLargeError,
    InputTypeError,
    MhguardError,
    ModelOutputError,
    NoUserMessageError,
    PolicyError,
    RegistryError,
)
from mhguard.filters.base import Filter, FilterConfig, FilterContext
from mhguard.guard import Guard, GuardedResult, Hook
from mhguard.policy import Policy, builtin_policy_names, load_policy
from mhguard.registry import filter_types, get_filter_type, register_filter
from mhguard.text.normalize import NormalizedText, normalize
from mhguard.types import Action, Decision, Finding, Stage, Tier

__version__ = "0.1.0"

__all__ = [
    "Action",
    "AuditError",
    "Decision",
    "Filter",
    "FilterConfig",
    "FilterContext",
    "FilterError",
    "Finding",
    "Guard",
    "GuardedResult",
    "Hook",
    "InputError",
    "InputTooLargeError",
    "InputTypeError",
    "MhguardError",
    "ModelOutputError",
    "NoUserMessageError",
    "NormalizedText",
    "Policy",
    "PolicyError",
    "RegistryError",
    "Stage",
    "Tier",
    "__version__",
    "builtin_policy_names",
    "filter_types",
    "get_filter_type",
    "load_policy",
    "normalize",
    "register_filter",
]
