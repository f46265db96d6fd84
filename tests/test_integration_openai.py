"""guard_openai with the real openai SDK against a local server that speaks the chat completions wire format."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from openai.types.chat import ChatCompletion, ChatCompletionChunk  # noqa: E402

from mhguard import Guard  # noqa: E402
from mhguard.integrations.openai import guard_openai  # noqa: E402

CRISIS = "I can't do this anymore. I'm going to kill myself tonight."
UNSAFE = "He committed suicide in 1990."
SAFE_VERSION = "He died by suicide in 1990."
BLOCKED = "Make sure no one is around when you do it."
# An earlier assistant turn, so the default policy's first-reply AI disclosure does not change the text.
HISTORY = [{"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Hi, I'm an AI. How can I help?"}]


def ask(text: str) -> list[dict[str, str]]:
    return [*HISTORY, {"role": "user", "content": text}]


class FakeOpenAI:
    """Answers /v1/chat/completions from a script; records every request body."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: str | None = "Hello."
        self.chunks: list[str] = []
        self.tool_calls: list[dict[str, Any]] | None = None
        self.gate: threading.Event | None = None  # when set up, streaming pauses before chunk gate_at
        self.gate_at = 0
        self.sent = 0
        self.finished = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                if body.get("stream"):
                    outer.stream(self, body)
                else:
                    outer.complete(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def complete(self, handler: BaseHTTPRequestHandler) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": self.reply}
        if self.tool_calls is not None:
            message["tool_calls"] = self.tool_calls
        payload = json.dumps({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": "fake-model",
            "choices": [{"index": 0, "finish_reason": "tool_calls" if self.tool_calls else "stop",
                         "message": message}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        }).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def stream(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()

        def send(data: str) -> None:
            handler.wfile.write(f"data: {data}\n\n".encode())
            handler.wfile.flush()

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            return json.dumps({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1,
                               "model": "fake-model",
                               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

        try:
            send(chunk({"role": "assistant", "content": ""}))
            for i, piece in enumerate(self.chunks):
                if self.gate is not None and i == self.gate_at:
                    self.gate.wait(30)  # only a deadlock guard: the test opens the gate itself
                self.sent += 1  # counted before the write: the client may read it before this thread runs on
                send(chunk({"content": piece}))
            send(chunk({}, "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                send(json.dumps({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1,
                                 "model": "fake-model", "choices": [],
                                 "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}))
            send("[DONE]")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the guard closed the stream early (a block): that is the point
        finally:
            self.finished.set()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture
def guard() -> Guard:
    return Guard.from_policy("default")


def sync_client(server: FakeOpenAI, guard: Guard) -> Any:
    return guard_openai(openai.OpenAI(api_key="test", base_url=server.base_url, max_retries=0), guard)


def async_client(server: FakeOpenAI, guard: Guard) -> Any:
    return guard_openai(openai.AsyncOpenAI(api_key="test", base_url=server.base_url, max_retries=0), guard)


def test_the_examples_mean_what_the_tests_assume(guard: Guard) -> None:
    crisis = guard.check_input(CRISIS)
    assert not crisis.allowed and crisis.text
    assert guard.check_output(UNSAFE, history=HISTORY).text == SAFE_VERSION
    assert not guard.check_output(BLOCKED, history=HISTORY).allowed


def test_crisis_is_answered_without_calling_the_api(server: FakeOpenAI, guard: Guard) -> None:
    response = sync_client(server, guard).chat.completions.create(model="gpt-test", messages=ask(CRISIS))
    assert server.requests == []
    assert isinstance(response, ChatCompletion)
    assert response.choices[0].message.content == Guard.from_policy("default").check_input(CRISIS).text
    assert response.choices[0].finish_reason == "stop" and response.model == "gpt-test"
    assert response.usage is not None and response.usage.total_tokens == 0


def test_reply_is_rewritten_in_the_sdk_type(server: FakeOpenAI, guard: Guard) -> None:
    server.reply = UNSAFE
    response = sync_client(server, guard).chat.completions.create(model="gpt-test", messages=ask("Tell me about him"))
    assert len(server.requests) == 1
    assert server.requests[0]["messages"][-1] == {"role": "user", "content": "Tell me about him"}
    assert isinstance(response, ChatCompletion)
    assert response.id == "chatcmpl-fake" and response.usage is not None and response.usage.total_tokens == 12
    assert response.choices[0].message.content == SAFE_VERSION


def test_safe_reply_comes_back_untouched(server: FakeOpenAI, guard: Guard) -> None:
    server.reply = "That sounds like a lovely plan."
    response = sync_client(server, guard).chat.completions.create(model="m", messages=ask("I'm going hiking."))
    assert response.choices[0].message.content == "That sounds like a lovely plan."


def test_blocked_reply_gets_the_policy_response(server: FakeOpenAI, guard: Guard) -> None:
    server.reply = BLOCKED
    response = sync_client(server, guard).chat.completions.create(model="m", messages=ask("What should I do?"))
    content = response.choices[0].message.content
    assert "no one" not in content
    assert content == guard.check_output(BLOCKED, history=HISTORY).text


def test_async_crisis_and_rewrite(server: FakeOpenAI, guard: Guard) -> None:
    client = async_client(server, guard)

    async def run() -> tuple[Any, Any]:
        crisis = await client.chat.completions.create(model="m", messages=ask(CRISIS))
        assert server.requests == []
        server.reply = UNSAFE
        return crisis, await client.chat.completions.create(model="m", messages=ask("Tell me about him"))

    crisis, rewritten = asyncio.run(run())
    assert isinstance(crisis, ChatCompletion) and isinstance(rewritten, ChatCompletion)
    assert crisis.choices[0].message.content == guard.check_input(CRISIS).text
    assert rewritten.choices[0].message.content == SAFE_VERSION
    assert len(server.requests) == 1


def contents(chunks: list[Any]) -> list[str]:
    assert chunks and all(isinstance(c, ChatCompletionChunk) for c in chunks)
    return [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]


def test_stream_crisis_is_a_chunk_stream_without_calling_the_api(server: FakeOpenAI, guard: Guard) -> None:
    stream = sync_client(server, guard).chat.completions.create(
        model="m", messages=ask(CRISIS), stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert server.requests == []
    assert "".join(contents(chunks)) == guard.check_input(CRISIS).text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_stream_never_shows_the_unsafe_words(server: FakeOpenAI, guard: Guard) -> None:
    server.chunks = ["He comm", "itted sui", "cide in 19", "90. It was ", "a hard year."]
    with sync_client(server, guard).chat.completions.create(model="m", messages=ask("Tell me about him"),
                                                             stream=True) as stream:
        chunks = list(stream)
    seen = contents(chunks)
    assert all("comm" not in piece for piece in seen)
    assert "".join(seen) == f"{SAFE_VERSION} It was a hard year."
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].id == "chatcmpl-fake"
    assert len(server.requests) == 1


def test_async_stream_never_shows_the_unsafe_words(server: FakeOpenAI, guard: Guard) -> None:
    server.chunks = ["He comm", "itted sui", "cide in 19", "90. It was ", "a hard year."]
    client = async_client(server, guard)

    async def run() -> list[Any]:
        stream = await client.chat.completions.create(model="m", messages=ask("Tell me about him"), stream=True)
        async with stream:
            return [chunk async for chunk in stream]

    seen = contents(asyncio.run(run()))
    assert all("comm" not in piece for piece in seen)
    assert "".join(seen) == f"{SAFE_VERSION} It was a hard year."


def test_stream_block_midway_ends_with_the_policy_response(server: FakeOpenAI, guard: Guard) -> None:
    server.chunks = ["I hear you. ", "Make sure no", " one is around ", "when you do it. ", "Bye. ", "See you."]
    # The server holds the last chunk back: the caller's stream must end without waiting for it.
    server.gate, server.gate_at = threading.Event(), 5
    seen = contents(list(sync_client(server, guard).chat.completions.create(
        model="m", messages=ask("What should I do?"), stream=True)))
    assert seen[0] == "I hear you. "
    assert not any("no one" in piece or "Bye" in piece for piece in seen)
    assert seen[-1] == guard.check_output(BLOCKED, history=HISTORY).text
    assert server.sent == 5 and not server.gate.is_set()
    server.gate.set()


def first_chunk_waits_for_a_sentence(server: FakeOpenAI) -> threading.Event:
    # The first sentence arrives in pieces; the server then pauses until the test has its first chunk.
    server.chunks = ["Thanks ", "for telling ", "me about ", "your day. ", "He ", "committed suicide in 1990."]
    server.gate, server.gate_at = threading.Event(), 5
    return server.gate


def test_first_chunk_arrives_only_after_a_whole_sentence_was_checked(server: FakeOpenAI, guard: Guard) -> None:
    gate = first_chunk_waits_for_a_sentence(server)
    stream = sync_client(server, guard).chat.completions.create(model="m", messages=ask("Hi"), stream=True)
    first = next(stream)
    assert server.sent == 5 and not gate.is_set()  # the rest of the reply has not even been sent yet
    assert first.choices[0].delta.content == "Thanks for telling me about your day. "
    gate.set()
    rest = contents(list(stream))
    assert "".join(rest) == "He died by suicide in 1990."


def test_async_first_chunk_arrives_only_after_a_whole_sentence_was_checked(server: FakeOpenAI,
                                                                          guard: Guard) -> None:
    gate = first_chunk_waits_for_a_sentence(server)
    client = async_client(server, guard)

    async def run() -> tuple[Any, list[Any]]:
        stream = await client.chat.completions.create(model="m", messages=ask("Hi"), stream=True)
        first = await stream.__anext__()
        assert server.sent == 5 and not gate.is_set()
        gate.set()
        return first, [chunk async for chunk in stream]

    first, rest = asyncio.run(run())
    assert first.choices[0].delta.content == "Thanks for telling me about your day. "
    assert "".join(contents(rest)) == "He died by suicide in 1990."


def test_stream_forwards_usage_and_closes_early(server: FakeOpenAI, guard: Guard) -> None:
    server.chunks = ["Fine. ", "Really fine."]
    chunks = list(sync_client(server, guard).chat.completions.create(
        model="m", messages=ask("How are you?"), stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 12
    server.requests.clear()
    stream = sync_client(server, guard).chat.completions.create(model="m", messages=ask("Hi"), stream=True)
    next(stream)
    stream.close()
    with pytest.raises(StopIteration):
        next(stream)


def test_tool_calls_pass_through_unchanged(server: FakeOpenAI, guard: Guard) -> None:
    server.reply = None
    server.tool_calls = [{"id": "call_1", "type": "function",
                          "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]
    response = sync_client(server, guard).chat.completions.create(model="m", messages=ask("Weather in Paris?"))
    message = response.choices[0].message
    assert message.content is None and message.tool_calls and message.tool_calls[0].function.name == "get_weather"


def test_session_and_locale_options_are_not_sent_to_the_api(server: FakeOpenAI, guard: Guard) -> None:
    sync_client(server, guard).chat.completions.create(model="m", messages=ask("Hi"), mhguard_session="user-7",
                                                       mhguard_locale="en-GB")
    assert "mhguard_session" not in server.requests[0] and "mhguard_locale" not in server.requests[0]
    session = guard.sessions.get("user-7")
    assert session is not None and session.locale == "en-GB"


def test_pydantic_messages_from_an_earlier_reply_are_read(server: FakeOpenAI, guard: Guard) -> None:
    client = sync_client(server, guard)
    server.reply = "Hi, I'm an AI. How can I help?"
    earlier = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi."}])
    messages = [{"role": "user", "content": "Hi."}, earlier.choices[0].message, {"role": "user", "content": CRISIS}]
    response = client.chat.completions.create(model="m", messages=messages)
    assert len(server.requests) == 1 and response.choices[0].message.content == guard.check_input(CRISIS).text


def test_endpoints_that_would_skip_the_guard_are_refused(server: FakeOpenAI, guard: Guard) -> None:
    raw = openai.OpenAI(api_key="test", base_url=server.base_url, max_retries=0)
    client = guard_openai(raw, guard)
    for reach in (lambda: client.responses, lambda: client.chat.completions.with_raw_response,
                  lambda: client.chat.completions.stream, lambda: client.completions):
        with pytest.raises(AttributeError, match="not guarded"):
            reach()
    assert client.unguarded is raw and client.models is raw.models
    with pytest.raises(ValueError, match="n > 1"):
        client.chat.completions.create(model="m", messages=ask("Hi"), n=2)
    assert server.requests == []
    response = client.with_options(timeout=5).chat.completions.create(model="m", messages=ask(CRISIS))
    assert server.requests == [] and isinstance(response, ChatCompletion)
