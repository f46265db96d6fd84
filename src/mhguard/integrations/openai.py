"""Guard an OpenAI client (``OpenAI`` or ``AsyncOpenAI``, and their Azure subclasses).

>>> client = guard_openai(OpenAI(), guard)                       # doctest: +SKIP
>>> client.chat.completions.create(model="...", messages=[...])  # doctest: +SKIP

``chat.completions.create`` runs through :meth:`mhguard.Guard.wrap`: the latest user message is checked, a
crisis is answered without calling the API (as a ``ChatCompletion`` or a stream of ``ChatCompletionChunk``),
and the reply is checked, rewritten or blocked. Streams are held back by the guard; the caller only ever
receives chunks built from checked text. Per call, ``mhguard_session=`` and ``mhguard_locale=`` are taken
out of the arguments before the SDK sees them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from mhguard.errors import ModelOutputError
from mhguard.guard import Guard, GuardedResult
from mhguard.integrations._core import (
    AsyncEventStream,
    Proxy,
    SyncEventStream,
    close_async,
    guarded,
    missing_extra,
    outcome,
    plain_messages,
    pop_options,
)
from mhguard.types import Decision

try:
    import openai
    from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
    from openai.types.chat.chat_completion import Choice
    from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
    from openai.types.chat.chat_completion_chunk import ChoiceDelta
    from openai.types.completion_usage import CompletionUsage
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without openai
    raise missing_extra("openai", "openai", exc) from exc

__all__ = ["guard_openai"]

# Endpoints that generate text outside chat.completions.create; reaching them through the guarded client
# would silently skip the guard.
_UNGUARDED_CLIENT = ("responses", "completions", "beta", "realtime", "batches", "conversations",
                     "with_raw_response", "with_streaming_response")
_UNGUARDED_COMPLETIONS = ("parse", "stream", "with_raw_response", "with_streaming_response")


def guard_openai(client: Any, guard: Guard, *, session: Any = None, locale: str | None = None) -> Any:
    """A view of ``client`` whose ``chat.completions.create`` is guarded; other endpoints that generate text
    raise AttributeError (use ``.unguarded`` for the raw client). ``session``/``locale`` are defaults for
    every call (override per call with ``mhguard_session=``/``mhguard_locale=``)."""
    if isinstance(client, openai.AsyncOpenAI):
        create: Any = _AsyncCreate(client.chat.completions.create, guard, session, locale)
    elif isinstance(client, openai.OpenAI):
        create = _SyncCreate(client.chat.completions.create, guard, session, locale)
    else:
        raise TypeError(f"guard_openai needs an openai.OpenAI or openai.AsyncOpenAI client, not "
                        f"{type(client).__name__}")
    completions = Proxy(client.chat.completions, "chat.completions", {"create": create}, _UNGUARDED_COMPLETIONS)
    chat = Proxy(client.chat, "chat", {"completions": completions}, ("with_raw_response", "with_streaming_response"))

    def with_options(**options: Any) -> Any:
        return guard_openai(client.with_options(**options), guard, session=session, locale=locale)

    return Proxy(client, "client", {"chat": chat, "with_options": with_options, "copy": with_options},
                 _UNGUARDED_CLIENT)


def _check_arguments(kwargs: dict[str, Any]) -> Any:
    n = kwargs.get("n")
    if isinstance(n, int) and n != 1:
        # Only one choice is checked and shaped; more would reach the caller unchecked.
        raise ValueError("mhguard: chat.completions.create with n > 1 is not supported by the guard")
    if "messages" not in kwargs:
        raise TypeError("chat.completions.create() needs messages=")
    return plain_messages(kwargs.pop("messages"))


def _reply_text(response: object) -> str:
    if not isinstance(response, ChatCompletion):
        raise ModelOutputError(f"expected a ChatCompletion, got {type(response).__name__}")
    if not response.choices:
        return ""
    message = response.choices[0].message
    if message.content is not None:
        return message.content
    return message.refusal or ""


class _Turn:
    """What one guarded call learned from the upstream reply, used to shape the caller's objects."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.model = str(kwargs.get("model", ""))
        self.id = f"chatcmpl-mhguard-{uuid.uuid4().hex}"
        self.created = int(time.time())
        options = kwargs.get("stream_options")
        self.include_usage = isinstance(options, Mapping) and bool(options.get("include_usage"))
        self.response: ChatCompletion | None = None
        self.stream: Any = None
        self.system_fingerprint: str | None = None
        self.finish_reason: str | None = None
        self.usage_chunk: ChatCompletionChunk | None = None
        self.tool_chunks: list[ChatCompletionChunk] = []
        self.role_sent = False

    # ---- non-streaming -------------------------------------------------------------------------------
    def completion(self, result: GuardedResult) -> ChatCompletion:
        response = self.response
        if not result.model_called or response is None:
            message = ChatCompletionMessage(role="assistant", content=result.text)
            return ChatCompletion(id=self.id, object="chat.completion", created=self.created, model=self.model,
                                  choices=[Choice(index=0, finish_reason="stop", message=message)],
                                  usage=CompletionUsage(prompt_tokens=0, completion_tokens=0, total_tokens=0))
        if not response.choices:
            return response
        choice = response.choices[0]
        message = choice.message
        if result.output is not None and not result.output.allowed:
            # A blocked reply loses its tool calls too: the person gets the policy's response only.
            message = ChatCompletionMessage(role="assistant", content=result.text)
            choice = choice.model_copy(update={"message": message, "finish_reason": "stop", "logprobs": None})
        elif message.content is None and message.refusal is None:
            return response  # tool calls only: no text for a person to read
        elif result.text == _reply_text(response):
            return response
        else:
            field = "content" if message.content is not None else "refusal"
            choice = choice.model_copy(update={"message": message.model_copy(update={field: result.text}),
                                               "logprobs": None})
        return response.model_copy(update={"choices": [choice]})

    # ---- streaming -----------------------------------------------------------------------------------
    def take(self, chunk: object) -> str:
        """Record an upstream chunk's metadata; return its text for the guard to judge."""
        if not isinstance(chunk, ChatCompletionChunk):
            raise ModelOutputError(f"expected a ChatCompletionChunk, got {type(chunk).__name__}")
        self.id, self.created, self.model = chunk.id, chunk.created, chunk.model
        self.system_fingerprint = chunk.system_fingerprint
        if not chunk.choices:
            if chunk.usage is not None:
                self.usage_chunk = chunk
            return ""
        choice = chunk.choices[0]
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta.tool_calls or delta.function_call:
            # Tool calls are replayed after the checked text (their arguments are not text for a person).
            stripped = delta.model_copy(update={"content": None, "refusal": None})
            self.tool_chunks.append(chunk.model_copy(update={
                "choices": [choice.model_copy(update={"delta": stripped, "finish_reason": None, "logprobs": None})],
                "usage": None}))
        return (delta.content or "") + (delta.refusal or "")

    def chunk(self, content: str | None = None, finish_reason: Any = None) -> ChatCompletionChunk:
        delta = ChoiceDelta(role=None if self.role_sent else "assistant", content=content)
        self.role_sent = True
        return ChatCompletionChunk(id=self.id, object="chat.completion.chunk", created=self.created,
                                   model=self.model, system_fingerprint=self.system_fingerprint,
                                   choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)])

    def closing(self, decisions: Sequence[Decision]) -> Iterator[ChatCompletionChunk]:
        model_called, blocked = outcome(decisions)
        if not blocked:
            yield from self.tool_chunks
        finish = self.finish_reason if model_called and not blocked and self.finish_reason else "stop"
        yield self.chunk(finish_reason=finish)
        if self.usage_chunk is not None:
            yield self.usage_chunk
        elif self.include_usage and not model_called:
            yield ChatCompletionChunk(id=self.id, object="chat.completion.chunk", created=self.created,
                                      model=self.model, choices=[],
                                      usage=CompletionUsage(prompt_tokens=0, completion_tokens=0, total_tokens=0))


class _SyncCreate:
    def __init__(self, create: Any, guard: Guard, session: Any, locale: str | None) -> None:
        self._create, self._guard, self._session, self._locale = create, guard, session, locale

    def __call__(self, **kwargs: Any) -> Any:
        options = pop_options(kwargs, self._session, self._locale)
        messages = _check_arguments(kwargs)
        turn = _Turn(kwargs)
        if kwargs.get("stream") is True:
            return SyncEventStream(self._stream(turn, kwargs, messages, options), lambda: turn.stream)

        def call_model(prepared: Any) -> str:
            turn.response = self._create(**kwargs, messages=prepared)
            return _reply_text(turn.response)

        return turn.completion(guarded(self._guard, call_model)(messages, **options))

    def _stream(self, turn: _Turn, kwargs: dict[str, Any], messages: Any,
                options: dict[str, Any]) -> Iterator[ChatCompletionChunk]:
        def call_model(prepared: Any) -> Iterator[str]:
            turn.stream = self._create(**kwargs, messages=prepared)
            try:
                for chunk in turn.stream:
                    text = turn.take(chunk)
                    if text:
                        yield text
            finally:
                turn.stream.close()

        decisions: list[Decision] = []
        pieces = guarded(self._guard, call_model)(messages, decisions=decisions, **options)
        try:
            for piece in pieces:
                if piece:
                    yield turn.chunk(content=piece)
        finally:
            pieces.close()
        yield from turn.closing(decisions)


class _AsyncCreate:
    def __init__(self, create: Any, guard: Guard, session: Any, locale: str | None) -> None:
        self._create, self._guard, self._session, self._locale = create, guard, session, locale

    async def __call__(self, **kwargs: Any) -> Any:
        options = pop_options(kwargs, self._session, self._locale)
        messages = _check_arguments(kwargs)
        turn = _Turn(kwargs)
        if kwargs.get("stream") is True:
            return AsyncEventStream(self._stream(turn, kwargs, messages, options), lambda: turn.stream)

        async def call_model(prepared: Any) -> str:
            turn.response = await self._create(**kwargs, messages=prepared)
            return _reply_text(turn.response)

        return turn.completion(await guarded(self._guard, call_model)(messages, **options))

    async def _stream(self, turn: _Turn, kwargs: dict[str, Any], messages: Any,
                      options: dict[str, Any]) -> AsyncIterator[ChatCompletionChunk]:
        async def call_model(prepared: Any) -> AsyncIterator[str]:
            turn.stream = await self._create(**kwargs, messages=prepared)
            try:
                async for chunk in turn.stream:
                    text = turn.take(chunk)
                    if text:
                        yield text
            finally:
                await close_async(turn.stream)

        decisions: list[Decision] = []
        pieces = guarded(self._guard, call_model)(messages, decisions=decisions, **options)
        try:
            async for piece in pieces:
                if piece:
                    yield turn.chunk(content=piece)
        finally:
            await pieces.aclose()
        for chunk in turn.closing(decisions):
            yield chunk
