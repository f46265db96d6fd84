"""Finding the user's text in what a chat callable receives: a ``str`` prompt or OpenAI-style messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mhguard.errors import InputTypeError, NoUserMessageError

__all__ = ["ChatCall", "content_text", "find_call", "validate_history"]

_TEXT_KWARGS = ("messages", "prompt", "text", "input")


def content_text(content: Any) -> str:
    """Text of a message ``content``: a str, or OpenAI/Anthropic content parts (only text parts count)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") in ("text", "input_text") \
                    and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    if content is None:
        return ""
    raise InputTypeError(f"message content must be text or a list of content parts, not {type(content).__name__}")


def validate_history(history: object) -> tuple[Mapping[str, Any], ...]:
    """History is a sequence of ``{"role", "content"}`` mappings; anything else is an InputTypeError."""
    if history is None:
        return ()
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        raise InputTypeError("history must be a list of {'role', 'content'} messages")
    for i, message in enumerate(history):
        if not isinstance(message, Mapping) or "role" not in message:
            raise InputTypeError(f"history[{i}] must be a mapping with 'role' and 'content'")
    return tuple(history)


@dataclass(frozen=True)
class ChatCall:
    """Where the user text sits in a call's arguments, so it can be read and replaced."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    where: int | str  # positional index or keyword name
    user_text: str
    history: tuple[Mapping[str, Any], ...]
    messages: list[Any] | None  # None when the callable takes a str prompt
    user_index: int  # index of the user turn in messages (-1 for a prompt)

    def replaced(self, user_text: str | None, instructions: Sequence[str]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Arguments for the model with the user text rewritten and safety instructions added.

        Messages get the instructions as a system message just before the user turn; a str prompt gets
        them prepended (a plain prompt has no other place for them).
        """
        if user_text is None and not instructions:
            return self.args, self.kwargs
        value: Any
        if self.messages is None:
            value = user_text if user_text is not None else self.user_text
            if instructions:
                value = "\n".join(instructions) + "\n\n" + value
        else:
            value = list(self.messages)
            if user_text is not None:
                turn = dict(value[self.user_index])
                turn["content"] = user_text
                value[self.user_index] = turn
            if instructions:
                value.insert(self.user_index, {"role": "system", "content": "\n".join(instructions)})
        args, kwargs = list(self.args), dict(self.kwargs)
        if isinstance(self.where, int):
            args[self.where] = value
        else:
            kwargs[self.where] = value
        return tuple(args), kwargs


def find_call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> ChatCall:
    """Locate the user text: the first positional argument, else ``messages=``/``prompt=``/``text=``/``input=``."""
    where: int | str
    if args:
        where, value = 0, args[0]
    else:
        for name in _TEXT_KWARGS:
            if name in kwargs:
                where, value = name, kwargs[name]
                break
        else:
            raise InputTypeError("cannot find the user text: pass a str prompt or a messages list as the first "
                                 "argument, or as messages=/prompt=")
    if isinstance(value, str):
        return ChatCall(args, kwargs, where, value, (), None, -1)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        messages = list(value)
        validate_history(messages)
        for index in range(len(messages) - 1, -1, -1):
            if messages[index].get("role") == "user":
                text = content_text(messages[index].get("content"))
                return ChatCall(args, kwargs, where, text, tuple(messages[:index]), messages, index)
        raise NoUserMessageError("the messages list has no user turn to check")
    raise InputTypeError(f"the user text must be a str prompt or a messages list, not {type(value).__name__}")
