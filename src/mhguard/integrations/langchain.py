"""Guard any LangChain chat model or chain as a Runnable.

>>> chat = GuardedRunnable(ChatOpenAI(model="..."), guard)       # doctest: +SKIP
>>> chat.invoke("I had a rough day")                               # doctest: +SKIP
>>> chain = prompt | GuardedRunnable(model, guard) | StrOutputParser()   # doctest: +SKIP

Input may be a ``str``, a list of messages (``BaseMessage``, ``{"role", "content"}`` dicts, ``(role, text)``
tuples), a ``PromptValue``, or a dict for a chain (the user text under ``input_key``, by default the first
of ``input``, ``question``, ``query``, ``messages``). The latest user turn is checked; a crisis is answered
without invoking the runnable; the reply is checked, rewritten or blocked. The output keeps the wrapped
runnable's type: an ``AIMessage`` (``AIMessageChunk`` when streaming) stays one, a ``str`` stays a ``str``.
``stream``/``astream`` release text only after the guard has judged it. ``config["configurable"]`` may
carry ``mhguard_session`` and ``mhguard_locale``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Literal

from mhguard.errors import InputTypeError, ModelOutputError
from mhguard.guard import Guard, GuardedResult
from mhguard.integrations._core import guarded, missing_extra, outcome
from mhguard.messages import content_text
from mhguard.types import Decision

try:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import (
        AIMessage,
        AIMessageChunk,
        BaseMessage,
        ChatMessage,
        SystemMessage,
        convert_to_messages,
    )
    from langchain_core.prompt_values import ChatPromptValue, PromptValue, StringPromptValue
    from langchain_core.runnables import Runnable, RunnableConfig
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without langchain-core
    raise missing_extra("langchain-core", "langchain", exc) from exc

__all__ = ["GuardedRunnable", "guard_runnable"]

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "function",
          "developer": "developer"}
_INPUT_KEYS = ("input", "question", "query", "messages")
OutputKind = Literal["auto", "message", "str"]


def _as_dict(message: BaseMessage) -> dict[str, Any]:
    role = message.role if isinstance(message, ChatMessage) else _ROLES.get(message.type, message.type)
    return {"role": role, "content": message.content}


class _Input:
    """The user's input in the form the guard reads, and the way back to the runnable's own form."""

    def __init__(self, value: Any, input_key: str | None) -> None:
        self.original = value
        self.key: str | None = None
        self.inner: _Input | None = None
        self.messages: list[BaseMessage] | None = None
        self.dicts: list[dict[str, Any]] = []
        self.for_guard: Any
        if isinstance(value, str):
            self.for_guard = value
        elif isinstance(value, StringPromptValue):
            self.for_guard = value.to_string()
        elif isinstance(value, PromptValue):
            self._messages(value.to_messages())
        elif isinstance(value, Mapping):
            keys = (input_key,) if input_key else _INPUT_KEYS
            self.key = next((k for k in keys if k in value), None)
            if self.key is None:
                raise InputTypeError(f"cannot find the user text in the chain input: expected one of the keys "
                                     f"{list(keys)} (set input_key=)")
            self.inner = _Input(value[self.key], None)
            self.for_guard = self.inner.for_guard
        elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
            self._messages(convert_to_messages(value))
        else:
            raise InputTypeError(f"GuardedRunnable takes a str, messages, a PromptValue or a dict, not "
                                 f"{type(value).__name__}")

    def _messages(self, messages: Sequence[BaseMessage]) -> None:
        self.messages = list(messages)
        self.dicts = [_as_dict(m) for m in self.messages]
        self.for_guard = self.dicts

    def rebuild(self, prepared: Any) -> Any:
        """The runnable's input for what the guard prepared (user text rewritten, instructions added)."""
        if self.inner is not None and self.key is not None:
            return {**self.original, self.key: self.inner.rebuild(prepared)}
        if self.messages is None:
            if prepared == self.for_guard:
                return self.original
            return StringPromptValue(text=prepared) if isinstance(self.original, StringPromptValue) else prepared
        if prepared is self.for_guard:
            return self.original
        rebuilt: list[BaseMessage] = []
        j = 0
        for item in prepared:
            if j < len(self.dicts) and item is self.dicts[j]:
                rebuilt.append(self.messages[j])
                j += 1
            elif item.get("role") == "system" and (j >= len(self.dicts) or self.dicts[j]["role"] != "system"):
                rebuilt.append(SystemMessage(content=item["content"]))  # instructions the guard added
            else:
                rebuilt.append(self.messages[j].model_copy(update={"content": item["content"]}))
                j += 1
        return ChatPromptValue(messages=rebuilt) if isinstance(self.original, PromptValue) else rebuilt


def _reply_text(output: object) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, BaseMessage):
        return content_text(output.content)
    raise ModelOutputError(f"the wrapped runnable returned {type(output).__name__}; GuardedRunnable checks "
                           "text replies (str or a message)")


def _with_text(message: BaseMessage, text: str) -> BaseMessage:
    """``message`` with ``text`` as its text; non-text content parts (tool use) keep their place."""
    if isinstance(message.content, str):
        return message.model_copy(update={"content": text})
    parts: list[Any] = []
    for part in message.content:
        is_text = isinstance(part, str) or (isinstance(part, Mapping) and part.get("type") == "text")
        if not is_text:
            parts.append(part)
        elif not any(isinstance(p, Mapping) and p.get("type") == "text" for p in parts):
            parts.append({"type": "text", "text": text})
    return message.model_copy(update={"content": parts})


class _Reply:
    """Shapes what the caller gets: the wrapped runnable's output type, with checked text."""

    def __init__(self, wants_message: bool) -> None:
        self.wants_message = wants_message
        self.seen_message: bool | None = None  # set by the first upstream output
        self.id: str | None = None
        self.meta: AIMessageChunk | None = None  # metadata and tool-call chunks, replayed at the end

    def final(self, result: GuardedResult, output: Any) -> Any:
        if not result.model_called or output is None:
            return AIMessage(content=result.text) if self.wants_message else result.text
        if isinstance(output, str):
            return result.text
        message: BaseMessage = output
        if result.output is not None and not result.output.allowed:
            # A blocked reply loses its tool calls too: the person gets the policy's response only.
            return AIMessage(content=result.text, id=message.id, response_metadata=message.response_metadata)
        if result.text == _reply_text(message):
            return message
        return _with_text(message, result.text)

    def take(self, chunk: Any) -> str:
        text = _reply_text(chunk)
        self.seen_message = isinstance(chunk, BaseMessage)
        if isinstance(chunk, AIMessageChunk):
            self.id = self.id or chunk.id
            stripped = chunk.model_copy(update={"content": ""})
            self.meta = stripped if self.meta is None else self.meta + stripped
        return text

    def piece(self, text: str) -> Any:
        as_message = self.seen_message if self.seen_message is not None else self.wants_message
        return AIMessageChunk(content=text, id=self.id) if as_message else text

    def closing(self, decisions: Sequence[Decision]) -> Iterator[Any]:
        _, blocked = outcome(decisions)
        if self.meta is None:
            return
        if blocked:
            yield self.meta.model_copy(update={"tool_call_chunks": [], "tool_calls": [], "invalid_tool_calls": []})
        else:
            yield self.meta


def _returns_str(runnable: Runnable[Any, Any]) -> bool:
    try:
        return runnable.OutputType is str
    except TypeError:  # LangChain cannot infer the type of an unannotated lambda or generator
        return False


class GuardedRunnable(Runnable[Any, Any]):
    """A Runnable that guards ``runnable`` (a chat model, or a chain that ends in one).

    ``output`` says what a crisis answer looks like when the runnable is not called: ``"message"`` (an
    ``AIMessage``), ``"str"``, or ``"auto"`` (a message for chat models and chains not typed as returning
    ``str``).
    """

    def __init__(self, runnable: Runnable[Any, Any], guard: Guard, *, session: Any = None,
                 locale: str | None = None, input_key: str | None = None, output: OutputKind = "auto") -> None:
        if not isinstance(runnable, Runnable):
            raise TypeError(f"GuardedRunnable needs a langchain Runnable, not {type(runnable).__name__}")
        self.runnable = runnable
        self.guard = guard
        self.session = session
        self.locale = locale
        self.input_key = input_key
        if output == "auto":
            self.wants_message = isinstance(runnable, BaseChatModel) or not _returns_str(runnable)
        else:
            self.wants_message = output == "message"

    @property
    def InputType(self) -> Any:
        return self.runnable.InputType

    @property
    def OutputType(self) -> Any:
        return self.runnable.OutputType

    def _options(self, config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        configurable = (config or {}).get("configurable") or {}
        session = kwargs.pop("mhguard_session", configurable.get("mhguard_session", self.session))
        locale = kwargs.pop("mhguard_locale", configurable.get("mhguard_locale", self.locale))
        return {"mhguard_session": session, "mhguard_locale": locale}

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        options = self._options(config, kwargs)
        call = _Input(input, self.input_key)
        outputs: list[Any] = []

        def call_model(prepared: Any) -> str:
            outputs.append(self.runnable.invoke(call.rebuild(prepared), config, **kwargs))
            return _reply_text(outputs[-1])

        result = guarded(self.guard, call_model)(call.for_guard, **options)
        return _Reply(self.wants_message).final(result, outputs[-1] if outputs else None)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        options = self._options(config, kwargs)
        call = _Input(input, self.input_key)
        outputs: list[Any] = []

        async def call_model(prepared: Any) -> str:
            outputs.append(await self.runnable.ainvoke(call.rebuild(prepared), config, **kwargs))
            return _reply_text(outputs[-1])

        result = await guarded(self.guard, call_model)(call.for_guard, **options)
        return _Reply(self.wants_message).final(result, outputs[-1] if outputs else None)

    def stream(self, input: Any, config: RunnableConfig | None = None,
               **kwargs: Any | None) -> Iterator[Any]:
        options = self._options(config, kwargs)
        call = _Input(input, self.input_key)
        reply = _Reply(self.wants_message)

        def call_model(prepared: Any) -> Iterator[str]:
            upstream = iter(self.runnable.stream(call.rebuild(prepared), config, **kwargs))
            try:
                for chunk in upstream:
                    text = reply.take(chunk)
                    if text:
                        yield text
            finally:
                close = getattr(upstream, "close", None)
                if close is not None:
                    close()

        decisions: list[Decision] = []
        pieces = guarded(self.guard, call_model)(call.for_guard, decisions=decisions, **options)
        try:
            for piece in pieces:
                if piece:
                    yield reply.piece(piece)
        finally:
            pieces.close()
        yield from reply.closing(decisions)

    async def astream(self, input: Any, config: RunnableConfig | None = None,
                      **kwargs: Any | None) -> AsyncIterator[Any]:
        options = self._options(config, kwargs)
        call = _Input(input, self.input_key)
        reply = _Reply(self.wants_message)

        async def call_model(prepared: Any) -> AsyncIterator[str]:
            upstream = self.runnable.astream(call.rebuild(prepared), config, **kwargs)
            try:
                async for chunk in upstream:
                    text = reply.take(chunk)
                    if text:
                        yield text
            finally:
                aclose = getattr(upstream, "aclose", None)
                if aclose is not None:
                    await aclose()

        decisions: list[Decision] = []
        pieces = guarded(self.guard, call_model)(call.for_guard, decisions=decisions, **options)
        try:
            async for piece in pieces:
                if piece:
                    yield reply.piece(piece)
        finally:
            await pieces.aclose()
        for chunk in reply.closing(decisions):
            yield chunk


def guard_runnable(runnable: Runnable[Any, Any], guard: Guard, **options: Any) -> GuardedRunnable:
    """``GuardedRunnable(runnable, guard, **options)``."""
    return GuardedRunnable(runnable, guard, **options)

