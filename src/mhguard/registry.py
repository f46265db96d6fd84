"""Filter types by name. Built-ins register on import; third parties through the ``mhguard.filters``
entry-point group (``name = "package.module:FilterClass"``). Unknown and duplicate names raise."""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable
from importlib import import_module, metadata
from typing import TypeVar

from mhguard.errors import RegistryError
from mhguard.filters.base import Filter

__all__ = ["ENTRY_POINT_GROUP", "filter_types", "get_filter_type", "register_filter", "unregister_filter"]

ENTRY_POINT_GROUP = "mhguard.filters"
# Modules whose import registers the built-in filter types.
_BUILTIN_MODULES = ("mhguard.filters.keywords", "mhguard.filters.crisis", "mhguard.filters.helplines",
                    "mhguard.filters.disclaimer", "mhguard.filters.reply_rules")

_registry: dict[str, type[Filter]] = {}
_lock = threading.RLock()
_loaded = False

F = TypeVar("F", bound=type[Filter])


def register_filter(name: str) -> Callable[[F], F]:
    """Class decorator: ``@register_filter("my_filter")``. A name can be registered once."""

    def decorator(cls: F) -> F:
        if not (isinstance(cls, type) and issubclass(cls, Filter)):
            raise RegistryError(f"{cls!r} is not a subclass of mhguard.filters.base.Filter")
        with _lock:
            existing = _registry.get(name)
            if existing is not None and existing is not cls:
                raise RegistryError(
                    f"filter type {name!r} is already registered by {existing.__module__}.{existing.__qualname__}"
                )
            _registry[name] = cls
        return cls

    return decorator


def unregister_filter(name: str) -> None:
    """Remove a filter type (for tests of third-party filters)."""
    with _lock:
        _registry.pop(name, None)


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for module in _BUILTIN_MODULES:
            try:
                import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            cls = ep.load()
            if _registry.get(ep.name) is not cls:
                register_filter(ep.name)(cls)
        _loaded = True


def filter_types() -> dict[str, type[Filter]]:
    """All registered filter types, built-in and third-party."""
    _ensure_loaded()
    with _lock:
        return dict(_registry)


def get_filter_type(name: str) -> type[Filter]:
    """The class registered under ``name``; :class:`RegistryError` with a suggestion when unknown."""
    types = filter_types()
    try:
        return types[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(types), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(sorted(types)) or "none"
        raise RegistryError(f"unknown filter type {name!r}{hint}; known types: {known}") from None
