"""Guard an Anthropic client (``Anthropic`` or ``AsyncAnthropic``).

>>> client = guard_anthropic(Anthropic(), guard)                               # doctest: +SKIP
>>> client.messages.create(model="...", max_tokens=512, messages=[...])         # doctest: +SKIP

``messages.create`` (with or without ``stream=True``) and the ``messages.stream(...)`` helper run through
:meth:`mhguard.Guard.wrap`: the latest user message is checked, a crisis is answered without calling the API
(as a ``Message`` or its stream events), and the reply text is checked, rewritten or blocked. Safety
instructions the policy adds for a turn go into ``system`` (the Messages API has no system role). Streamed
text is held back by the guard; the caller only receives events built from checked text.
"""

from __future__ import annotations

import inspect
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
from mhguard.messages import content_text
from mhguard.types import Decision

try:
    import anthropic
    from anthropic.lib.streaming import AsyncMessageStreamManager, MessageStreamManager
    from anthropic.types import (
        Message,
        MessageDeltaUsage,
        RawContentBlockDeltaEvent,
        RawContentBlockStartEvent,
        RawContentBlockStopEvent,
        RawMessageDeltaEvent,
        RawMessageStartEvent,
        RawMessageStopEvent,
        TextBlock,
        TextDelta,
        Usage,
    )
    from anthropic.types.raw_message_delta_event import Delta
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without anthropic
    raise missing_extra("anthropic", "anthropic", exc) from exc

__all__ = ["guard_anthropic"]

# Endpoints that generate text outside messages.create/stream; through the guarded client they would
# silently skip the guard.
_UNGUARDED_CLIENT = ("completions", "beta", "with_raw_response", "with_streaming_response")
_UNGUARDED_MESSAGES = ("batches", "parse", "with_raw_response", "with_streaming_response")


def guard_anthropic(client: Any, guard: Guard, *, session: Any = None, locale: str | None = None) -> Any:
    """A view of ``client`` whose ``messages.create`` and ``messages.stream`` are guarded; other endpoints
    that generate text raise AttributeError (use ``.unguarded`` for the raw client). ``session``/``locale``
    are defaults for every call (override per call with ``mhguard_session=``/``mhguard_locale=``)."""
    if isinstance(client, anthropic.AsyncAnthropic):
        calls: _Calls = _AsyncCalls(client.messages.create, guard, session, locale)
    elif isinstance(client, anthropic.Anthropic):
        calls = _SyncCalls(client.messages.create, guard, session, locale)
    else:
        raise TypeError(f"guard_anthropic needs an anthropic.Anthropic or anthropic.AsyncAnthropic client, not "
                        f"{type(client).__name__}")
    messages = Proxy(client.messages, "messages", {"create": calls.create, "stream": calls.stream},
                     _UNGUARDED_MESSAGES)

    def with_options(**options: Any) -> Any:
        return guard_anthropic(client.with_options(**options), guard, session=session, locale=locale)

    return Proxy(client, "client", {"messages": messages, "with_options": with_options, "copy": with_options},
                 _UNGUARDED_CLIENT)


def _with_system(kwargs: dict[str, Any], prepared: Any) -> dict[str, Any]:
    """The SDK call's arguments for the guard's prepared messages: instructions the guard inserted as
    system messages move into ``system``."""
    notes = [content_text(m.get("content")) for m in prepared if isinstance(m, Mapping) and m.get("role") == "system"]
    turns = [m for m in prepared if not (isinstance(m, Mapping) and m.get("role") == "system")]
    call = {**kwargs, "messages": turns}
    if notes:
        note = "\n\n".join(notes)
        system = kwargs.get("system")
        if isinstance(system, str) and system:
            call["system"] = f"{system}\n\n{note}"
        elif isinstance(system, Sequence) and not isinstance(system, str) and system:
            call["system"] = [*system, {"type": "text", "text": note}]
        else:
            call["system"] = note
    return call


def _reply_text(message: object) -> str:
    if not isinstance(message, Message):
        raise ModelOutputError(f"expected a Message, got {type(message).__name__}")
    return "".join(block.text for block in message.content if isinstance(block, TextBlock))


def _text_block(text: str) -> TextBlock:
    return TextBlock(type="text", text=text, citations=None)


class _Turn:
    """What one guarded call learned from the upstream reply, used to shape the caller's objects."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.model = str(kwargs.get("model", ""))
        self.id = f"msg_mhguard_{uuid.uuid4().hex}"
        self.response: Message | None = None
        self.stream: Any = None
        self.start: RawMessageStartEvent | None = None
        self.delta: RawMessageDeltaEvent | None = None
        self.text_indices: set[int] = set()
        self.open_blocks: dict[int, list[Any]] = {}
        self.before_text: list[list[Any]] = []  # non-text blocks (thinking, tool use) and where they sat
        self.after_text: list[list[Any]] = []
        self.text_started = False
        self.opened = False
        self.text_index: int | None = None
        self.next_index = 0

    # ---- non-streaming -------------------------------------------------------------------------------
    def message(self, result: GuardedResult) -> Message:
        response = self.response
        if not result.model_called or response is None:
            return Message(id=self.id, type="message", role="assistant", model=self.model,
                           content=[_text_block(result.text)], stop_reason="end_turn", stop_sequence=None,
                           usage=Usage(input_tokens=0, output_tokens=0))
        if result.output is not None and not result.output.allowed:
            # A blocked reply loses its tool calls too: the person gets the policy's response only.
            return response.model_copy(update={"content": [_text_block(result.text)], "stop_reason": "end_turn",
                                               "stop_sequence": None})
        if result.text == _reply_text(response) or not any(isinstance(b, TextBlock) for b in response.content):
            return response
        content: list[Any] = []
        for block in response.content:
            if not isinstance(block, TextBlock):
                content.append(block)
            elif not any(isinstance(b, TextBlock) for b in content):
                # The checked text replaces all text blocks, in the place of the first.
                content.append(_text_block(result.text))
        return response.model_copy(update={"content": content})

    # ---- streaming -----------------------------------------------------------------------------------
    def take(self, event: Any) -> str:
        """Record an upstream event; return its text for the guard to judge."""
        kind = getattr(event, "type", None)
        if kind == "message_start":
            self.start = event
        elif kind == "message_delta":
            self.delta = event
        elif kind == "content_block_start":
            if event.content_block.type == "text":
                self.text_indices.add(event.index)
                self.text_started = True
                return str(event.content_block.text)
            self.open_blocks[event.index] = [event]
            (self.after_text if self.text_started else self.before_text).append(self.open_blocks[event.index])
        elif kind in ("content_block_delta", "content_block_stop"):
            if event.index in self.text_indices:
                delta: Any = getattr(event, "delta", None)
                return str(delta.text) if getattr(delta, "type", None) == "text_delta" else ""
            if event.index in self.open_blocks:
                self.open_blocks[event.index].append(event)
        elif kind is None:
            raise ModelOutputError(f"expected a stream event, got {type(event).__name__}")
        return ""

    def _blocks(self, blocks: list[list[Any]]) -> Iterator[Any]:
        for events in blocks:
            index, self.next_index = self.next_index, self.next_index + 1
            for event in events:
                yield event.model_copy(update={"index": index})

    def _open(self) -> Iterator[Any]:
        if self.opened:
            return
        self.opened = True
        if self.start is not None:
            yield self.start
        else:
            yield RawMessageStartEvent(type="message_start", message=Message(
                id=self.id, type="message", role="assistant", model=self.model, content=[], stop_reason=None,
                stop_sequence=None, usage=Usage(input_tokens=0, output_tokens=0)))
        yield from self._blocks(self.before_text)

    def text(self, piece: str) -> Iterator[Any]:
        yield from self._open()
        if self.text_index is None:
            self.text_index, self.next_index = self.next_index, self.next_index + 1
            yield RawContentBlockStartEvent(type="content_block_start", index=self.text_index,
                                            content_block=_text_block(""))
        yield RawContentBlockDeltaEvent(type="content_block_delta", index=self.text_index,
                                        delta=TextDelta(type="text_delta", text=piece))

    def closing(self, decisions: Sequence[Decision]) -> Iterator[Any]:
        model_called, blocked = outcome(decisions)
        if blocked:
            self.before_text = []
        yield from self._open()
        if self.text_index is not None:
            yield RawContentBlockStopEvent(type="content_block_stop", index=self.text_index)
        if not blocked:
            yield from self._blocks(self.after_text)
        if model_called and not blocked and self.delta is not None:
            yield self.delta
        else:
            output_tokens = self.delta.usage.output_tokens if self.delta is not None else 0
            yield RawMessageDeltaEvent(type="message_delta", delta=Delta(stop_reason="end_turn", stop_sequence=None),
                                       usage=MessageDeltaUsage(output_tokens=output_tokens))
        yield RawMessageStopEvent(type="message_stop")


def _stream_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    if "output_format" in kwargs:
        raise TypeError("mhguard: messages.stream(output_format=...) is not supported by the guard; pass "
                        "output_config to messages.stream or messages.create instead")
    return {**kwargs, "stream": True}


def _manager_options(manager: type) -> dict[str, Any]:
    # Older SDKs build the helper without output_format.
    return {"output_format": anthropic.NOT_GIVEN} if "output_format" in inspect.signature(manager).parameters else {}


class _Calls:
    def __init__(self, create: Any, guard: Guard, session: Any, locale: str | None) -> None:
        self._create, self._guard, self._session, self._locale = create, guard, session, locale

    def _begin(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], Any, _Turn]:
        options = pop_options(kwargs, self._session, self._locale)
        if "messages" not in kwargs:
            raise TypeError("messages.create() needs messages=")
        return options, plain_messages(kwargs.pop("messages")), _Turn(kwargs)

    def create(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def stream(self, **kwargs: Any) -> Any:
        raise NotImplementedError


class _SyncCalls(_Calls):
    def create(self, **kwargs: Any) -> Any:
        options, messages, turn = self._begin(kwargs)
        if kwargs.get("stream") is True:
            return SyncEventStream(self._events(turn, kwargs, messages, options), lambda: turn.stream)

        def call_model(prepared: Any) -> str:
            turn.response = self._create(**_with_system(kwargs, prepared))
            return _reply_text(turn.response)

        return turn.message(guarded(self._guard, call_model)(messages, **options))

    def stream(self, **kwargs: Any) -> Any:
        """The ``messages.stream(...)`` helper (text_stream, get_final_message...) over the guarded events."""
        raw = self.create(**_stream_arguments(kwargs))
        return MessageStreamManager(lambda: raw, **_manager_options(MessageStreamManager))

    def _events(self, turn: _Turn, kwargs: dict[str, Any], messages: Any, options: dict[str, Any]) -> Iterator[Any]:
        def call_model(prepared: Any) -> Iterator[str]:
            turn.stream = self._create(**_with_system(kwargs, prepared))
            try:
                for event in turn.stream:
                    text = turn.take(event)
                    if text:
                        yield text
            finally:
                turn.stream.close()

        decisions: list[Decision] = []
        pieces = guarded(self._guard, call_model)(messages, decisions=decisions, **options)
        try:
            for piece in pieces:
                if piece:
                    yield from turn.text(piece)
        finally:
            pieces.close()
        yield from turn.closing(decisions)


class _AsyncCalls(_Calls):
    async def create(self, **kwargs: Any) -> Any:
        options, messages, turn = self._begin(kwargs)
        if kwargs.get("stream") is True:
            return AsyncEventStream(self._events(turn, kwargs, messages, options), lambda: turn.stream)

        async def call_model(prepared: Any) -> str:
            turn.response = await self._create(**_with_system(kwargs, prepared))
            return _reply_text(turn.response)

        return turn.message(await guarded(self._guard, call_model)(messages, **options))

    def stream(self, **kwargs: Any) -> Any:
        """The async ``messages.stream(...)`` helper over the guarded events (``async with``)."""
        return AsyncMessageStreamManager(self.create(**_stream_arguments(kwargs)),
                                         **_manager_options(AsyncMessageStreamManager))

    async def _events(self, turn: _Turn, kwargs: dict[str, Any], messages: Any,
                      options: dict[str, Any]) -> AsyncIterator[Any]:
        async def call_model(prepared: Any) -> AsyncIterator[str]:
            turn.stream = await self._create(**_with_system(kwargs, prepared))
            try:
                async for event in turn.stream:
                    text = turn.take(event)
                    if text:
                        yield text
            finally:
                await close_async(turn.stream)

        decisions: list[Decision] = []
        pieces = guarded(self._guard, call_model)(messages, decisions=decisions, **options)
        try:
            async for piece in pieces:
                if piece:
                    for event in turn.text(piece):
                        yield event
        finally:
            await pieces.aclose()
        for event in turn.closing(decisions):
            yield event

