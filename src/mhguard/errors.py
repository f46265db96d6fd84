"""The error tree. Every error mhguard raises derives from :class:`MhguardError`.

::

    MhguardError
    ├── PolicyError (ValueError)          a policy or lexicon failed to load; names file:line and path
    ├── RegistryError (LookupError)       unknown or duplicate filter type
    ├── InputError (ValueError)           the text handed to a check cannot be judged
    │   ├── InputTypeError (TypeError)    not a str
    │   ├── InputTooLargeError            longer than the policy's ``limits.max_chars``
    │   └── NoUserMessageError            a messages list without a user turn
    ├── ModelOutputError (TypeError)      the wrapped model returned something that is not text
    ├── FilterError (RuntimeError)        a filter raised and the policy says ``on_error: raise``
    └── AuditError (RuntimeError)         an audit record could not be written (``audit.on_error: raise``)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mhguard.types import Decision


class MhguardError(Exception):
    """Base class of every error raised by mhguard."""


class PolicyError(MhguardError, ValueError):
    """A policy (or lexicon) is invalid. The message names the file, line and path of the problem."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 path: str | None = None) -> None:
        self.source = source
        self.line = line
        self.path = path
        self.detail = message
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        if path:
            where += f"{path}: "
        super().__init__(f"{where}{message}")


class RegistryError(MhguardError, LookupError):
    """An unknown filter type was requested, or a type name was registered twice."""


class InputError(MhguardError, ValueError):
    """The input cannot be judged."""


class InputTypeError(InputError, TypeError):
    """The text to check is not a ``str``."""


class InputTooLargeError(InputError):
    """The text is longer than the policy allows (``limits.max_chars``)."""


class NoUserMessageError(InputError):
    """A messages list was given but has no user turn to check."""


class ModelOutputError(MhguardError, TypeError):
    """The wrapped model returned ``None`` or something that is not text."""


class FilterError(MhguardError, RuntimeError):
    """A filter raised while checking and its policy asked for ``on_error: raise``."""

    def __init__(self, filter_id: str, original: BaseException) -> None:
        self.filter_id = filter_id
        self.original = original
        super().__init__(f"filter {filter_id!r} failed: {type(original).__name__}: {original}")


class AuditError(MhguardError, RuntimeError):
    """An audit record could not be written (or an audit sink cannot be opened or read).

    When raised by a check, ``decision`` is the decision that could not be recorded, so a caller can still
    show a crisis response (``exc.decision.text``) while treating the turn as failed.
    """

    def __init__(self, message: str, *, decision: Decision | None = None) -> None:
        self.decision = decision
        super().__init__(message)
