"""Pieces shared by the SDK integrations: per-call options, plain messages, client proxies, stream shells."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from mhguard.guard import Guard
from mhguard.types import Decision

__all__ = ["AsyncEventStream", "Proxy", "SyncEventStream", "close_async", "guarded", "missing_extra", "outcome",
           "plain_messages", "pop_options"]


def missing_extra(package: str, extra: str, exc: ImportError) -> ImportError:
    """The ImportError raised when an integration's SDK is not installed."""
    error = ImportError(f"mhguard.integrations.{extra} needs the '{package}' package; install it with "
                        f"pip install 'mhguard[{extra}]'")
    error.__cause__ = exc
    return error


def pop_options(kwargs: dict[str, Any], session: Any, locale: str | None) -> dict[str, Any]:
    """Take mhguard's per-call options out of an SDK call's keyword arguments (the SDK would reject them)."""
    return {"mhguard_session": kwargs.pop("mhguard_session", session),
            "mhguard_locale": kwargs.pop("mhguard_locale", locale)}


def plain_messages(messages: object) -> object:
    """SDK message objects (pydantic models, e.g. a previous reply appended to the history) as dicts, so the
    guard can read their role and content; the SDK serialises both forms the same way."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        return messages
    plain: list[Any] = []
    for message in messages:
        if not isinstance(message, Mapping) and hasattr(message, "model_dump"):
            message = message.model_dump(exclude_none=True)
        plain.append(message)
    return plain


def guarded(guard: Guard, fn: Callable[..., Any]) -> Any:
    """``guard.wrap(fn).detailed``: the guarded call that also reports its decisions."""
    wrapped: Any = guard.wrap(fn)
    return wrapped.detailed


def outcome(decisions: Sequence[Decision]) -> tuple[bool, bool]:
    """(model_called, blocked) from the decisions a guarded stream recorded: the input decision, then one
    summary of the reply when the model was called."""
    if not decisions:
        # The guard records the input decision before anything is released; none means it never ran.
        raise RuntimeError("mhguard: the guarded stream ended without an input decision")
    model_called = len(decisions) > 1
    blocked = not decisions[-1].allowed
    return model_called, blocked


class Proxy:
    """Delegates to an SDK object, except for names it overrides and endpoints that would bypass the guard.

    A bypassing endpoint (another text-generating API, a raw-response variant) raises AttributeError
    naming the way out (``.unguarded``), so unchecked model text never reaches a person by accident.
    """

    def __init__(self, target: Any, path: str, overrides: Mapping[str, Any], blocked: Sequence[str]) -> None:
        self.__dict__["_target"] = target
        self.__dict__["_path"] = path
        self.__dict__["_overrides"] = dict(overrides)
        self.__dict__["_blocked"] = frozenset(blocked)

    @property
    def unguarded(self) -> Any:
        """The wrapped SDK object itself, for calls that deliberately skip mhguard."""
        return self.__dict__["_target"]

    def __getattr__(self, name: str) -> Any:
        overrides: dict[str, Any] = self.__dict__["_overrides"]
        if name in overrides:
            return overrides[name]
        if name in self.__dict__["_blocked"]:
            raise AttributeError(f"mhguard: {self.__dict__['_path']}.{name} is not guarded; use the guarded "
                                 f"endpoint, or .unguarded to call the SDK without mhguard on purpose")
        return getattr(self.__dict__["_target"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.__dict__["_target"], name, value)

    def __repr__(self) -> str:
        return f"<mhguard guarded {self.__dict__['_target']!r}>"


class SyncEventStream:
    """What a guarded ``create(stream=True)`` returns: iterate it for SDK chunk/event objects; use it as a
    context manager or call ``close()`` to stop early (the upstream request is closed too)."""

    def __init__(self, events: Iterator[Any], upstream: Callable[[], Any] = lambda: None) -> None:
        self._events = events
        self._upstream = upstream

    @property
    def response(self) -> Any:
        """The upstream SDK stream's HTTP response (``None`` before the model was called or when it was not)."""
        return getattr(self._upstream(), "response", None)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self._events)

    def __enter__(self) -> SyncEventStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()


class AsyncEventStream:
    """The async twin of :class:`SyncEventStream` (``async for``, ``async with``, ``await close()``)."""

    def __init__(self, events: AsyncIterator[Any], upstream: Callable[[], Any] = lambda: None) -> None:
        self._events = events
        self._upstream = upstream

    @property
    def response(self) -> Any:
        return getattr(self._upstream(), "response", None)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self._events.__anext__()

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()

    aclose = close


async def close_async(stream: Any) -> None:
    """Close an SDK stream whose ``close`` may be sync or async."""
    close = getattr(stream, "close", None)
    if close is not None:
        result = close()
        if inspect.isawaitable(result):
            await result
