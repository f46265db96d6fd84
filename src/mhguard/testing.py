"""Test helpers for users of mhguard: a scripted fake chat model (sync, async and streaming).

>>> from mhguard.testing import FakeChatModel
>>> model = FakeChatModel(["Hello!", "How are you?"])
>>> model("hi")
'Hello!'
>>> model.calls
['hi']
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

__all__ = ["FakeChatModel"]

Reply = str | None


class FakeChatModel:
    """A chat model that answers from a script and records every call.

    ``replies`` is a list of replies used in turn (the last one repeats), or a function of the user text.
    ``chunk_size`` sets how the streaming methods cut a reply (default: word by word); ``chunks`` gives
    explicit chunks instead. The model accepts a ``str`` prompt or an OpenAI-style messages list, like the
    callables :meth:`mhguard.Guard.wrap` guards.
    """

    def __init__(self, replies: Sequence[Any] | Callable[[str], Any] = ("OK.",), *,
                 chunk_size: int | None = None, chunks: Sequence[str] | None = None) -> None:
        if isinstance(replies, str):
            replies = [replies]
        self._replies = replies
        self.chunk_size = chunk_size
        self.chunks = list(chunks) if chunks is not None else None
        self.calls: list[Any] = []
        self.closed_streams = 0

    @property
    def call_count(self) -> int:
        return len(self.calls)

    @staticmethod
    def user_text(prompt: Any) -> str:
        if isinstance(prompt, str):
            return prompt
        for message in reversed(list(prompt)):
            if message.get("role") == "user":
                content = message.get("content")
                return content if isinstance(content, str) else str(content)
        return ""

    def _reply(self, prompt: Any) -> Any:
        self.calls.append(prompt)
        if callable(self._replies):
            return self._replies(self.user_text(prompt))
        index = min(len(self.calls) - 1, len(self._replies) - 1)
        return self._replies[index]

    def _split(self, reply: str) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        if self.chunk_size:
            return [reply[i:i + self.chunk_size] for i in range(0, len(reply), self.chunk_size)]
        words = reply.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]

    def __call__(self, prompt: Any, **kwargs: Any) -> Any:
        return self._reply(prompt)

    async def acall(self, prompt: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0)
        return self._reply(prompt)

    def stream(self, prompt: Any, **kwargs: Any) -> Iterator[str]:
        try:
            yield from self._split(self._reply(prompt))
        finally:
            self.closed_streams += 1

    async def astream(self, prompt: Any, **kwargs: Any) -> AsyncIterator[str]:
        try:
            for chunk in self._split(self._reply(prompt)):
                await asyncio.sleep(0)
                yield chunk
        finally:
            self.closed_streams += 1
