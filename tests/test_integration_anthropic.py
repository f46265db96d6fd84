"""guard_anthropic with the real anthropic SDK against a local server that speaks the Messages wire format."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

anthropic = pytest.importorskip("anthropic")

from anthropic.types import (  # noqa: E402
    Message,
    RawContentBlockDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
)

from mhguard import Guard  # noqa: E402
from mhguard.integrations.anthropic import guard_anthropic  # noqa: E402

CRISIS = "I can't do this anymore. I'm going to kill myself tonight."
UNSAFE = "He committed suicide in 1990."
SAFE_VERSION = "He died by suicide in 1990."
BLOCKED = "Make sure no one is around when you do it."
HISTORY = [{"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Hi, I'm an AI. How can I help?"}]
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
# A policy whose low-risk turns carry a safety instruction for the model (and a note for the person).
GENTLE = {"extends": "default", "responses": {"low_note": "Be gentle."},
          "input": [{"type": "keywords", "id": "test-low", "actions": {"low": "annotate"},
                     "instructions": {"low": "low_note"}, "responses": {"annotate": "low_note"},
                     "rules": [{"id": "t.low", "category": "distress", "tier": "low", "phrases": ["rainy mood"]}]}]}


def ask(text: str) -> list[dict[str, Any]]:
    return [*HISTORY, {"role": "user", "content": [{"type": "text", "text": text}]}]


class FakeAnthropic:
    """Answers /v1/messages from a script; records every request body."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply = "Hello."
        self.chunks: list[str] = []
        self.tool_use = False
        self.gate: threading.Event | None = None  # when set up, streaming pauses before chunk gate_at
        self.gate_at = 0
        self.sent = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                if body.get("stream"):
                    outer.stream(self)
                else:
                    outer.complete(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def message(self, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": "claude-test",
                "content": content, "stop_reason": "tool_use" if self.tool_use else "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 7}}

    def complete(self, handler: BaseHTTPRequestHandler) -> None:
        content: list[dict[str, Any]] = [{"type": "text", "text": self.reply}]
        if self.tool_use:
            content.append(TOOL_USE)
        payload = json.dumps(self.message(content)).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def stream(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()

        def send(event: dict[str, Any]) -> None:
            handler.wfile.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
            handler.wfile.flush()

        try:
            send({"type": "message_start", "message": {**self.message([]), "stop_reason": None}})
            send({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
            send({"type": "ping"})
            for i, piece in enumerate(self.chunks):
                if self.gate is not None and i == self.gate_at:
                    self.gate.wait(30)  # only a deadlock guard: the test opens the gate itself
                self.sent += 1  # counted before the write: the client may read it before this thread runs on
                send({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
            send({"type": "content_block_stop", "index": 0})
            if self.tool_use:
                send({"type": "content_block_start", "index": 1, "content_block": {**TOOL_USE, "input": {}}})
                send({"type": "content_block_delta", "index": 1,
                      "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Paris\"}"}})
                send({"type": "content_block_stop", "index": 1})
            send({"type": "message_delta", "delta": {"stop_reason": "tool_use" if self.tool_use else "end_turn",
                                                     "stop_sequence": None}, "usage": {"output_tokens": 7}})
            send({"type": "message_stop"})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the guard closed the stream early (a block): that is the point

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    yield fake
    fake.close()


@pytest.fixture
def guard() -> Guard:
    return Guard.from_policy("default")


def sync_client(server: FakeAnthropic, guard: Guard) -> Any:
    return guard_anthropic(anthropic.Anthropic(api_key="test", base_url=server.base_url, max_retries=0), guard)


def async_client(server: FakeAnthropic, guard: Guard) -> Any:
    return guard_anthropic(anthropic.AsyncAnthropic(api_key="test", base_url=server.base_url, max_retries=0), guard)


def text_of(events: list[Any]) -> list[str]:
    assert isinstance(events[0], RawMessageStartEvent) and isinstance(events[-1], RawMessageStopEvent)
    return [e.delta.text for e in events if isinstance(e, RawContentBlockDeltaEvent) and e.delta.type == "text_delta"]


def test_the_examples_mean_what_the_tests_assume(guard: Guard) -> None:
    crisis = guard.check_input(CRISIS)
    assert not crisis.allowed and crisis.text
    assert guard.check_output(UNSAFE, history=HISTORY).text == SAFE_VERSION
    assert not guard.check_output(BLOCKED, history=HISTORY).allowed


def test_crisis_is_answered_without_calling_the_api(server: FakeAnthropic, guard: Guard) -> None:
    message = sync_client(server, guard).messages.create(model="claude-test", max_tokens=100, messages=ask(CRISIS))
    assert server.requests == []
    assert isinstance(message, Message) and message.stop_reason == "end_turn" and message.model == "claude-test"
    assert message.content[0].text == Guard.from_policy("default").check_input(CRISIS).text


def test_reply_is_rewritten_in_the_sdk_type(server: FakeAnthropic, guard: Guard) -> None:
    server.reply = UNSAFE
    message = sync_client(server, guard).messages.create(model="m", max_tokens=100,
                                                         messages=ask("Tell me about him"))
    assert len(server.requests) == 1 and "system" not in server.requests[0]
    assert isinstance(message, Message) and message.id == "msg_fake" and message.usage.output_tokens == 7
    assert [block.text for block in message.content] == [SAFE_VERSION]


def test_blocked_reply_drops_tool_use_and_gets_the_policy_response(server: FakeAnthropic, guard: Guard) -> None:
    server.reply, server.tool_use = BLOCKED, True
    message = sync_client(server, guard).messages.create(model="m", max_tokens=100, messages=ask("What now?"))
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == guard.check_output(BLOCKED, history=HISTORY).text
    assert message.stop_reason == "end_turn"


def test_tool_use_is_kept_next_to_checked_text(server: FakeAnthropic, guard: Guard) -> None:
    server.reply, server.tool_use = UNSAFE, True
    message = sync_client(server, guard).messages.create(model="m", max_tokens=100, messages=ask("Weather?"))
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[0].text == SAFE_VERSION and message.content[1].input == {"city": "Paris"}


def test_safety_instructions_go_into_system(server: FakeAnthropic) -> None:
    guard = Guard.from_policy(GENTLE)
    server.reply = "I'm here with you."
    message = sync_client(server, guard).messages.create(model="m", max_tokens=100, system="You are kind.",
                                                         messages=ask("I am in a rainy mood today"))
    sent = server.requests[0]
    assert sent["system"] == "You are kind.\n\nBe gentle."
    assert all(turn["role"] in ("user", "assistant") for turn in sent["messages"])
    assert message.content[0].text == "I'm here with you.\n\nBe gentle."


def test_async_crisis_and_rewrite(server: FakeAnthropic, guard: Guard) -> None:
    client = async_client(server, guard)

    async def run() -> tuple[Any, Any]:
        crisis = await client.messages.create(model="m", max_tokens=100, messages=ask(CRISIS))
        assert server.requests == []
        server.reply = UNSAFE
        return crisis, await client.messages.create(model="m", max_tokens=100, messages=ask("Tell me about him"))

    crisis, rewritten = asyncio.run(run())
    assert isinstance(crisis, Message) and isinstance(rewritten, Message)
    assert crisis.content[0].text == guard.check_input(CRISIS).text
    assert rewritten.content[0].text == SAFE_VERSION and len(server.requests) == 1


def test_stream_crisis_is_an_event_stream_without_calling_the_api(server: FakeAnthropic, guard: Guard) -> None:
    events = list(sync_client(server, guard).messages.create(model="m", max_tokens=100, messages=ask(CRISIS),
                                                             stream=True))
    assert server.requests == []
    assert [e.type for e in events] == ["message_start", "content_block_start", "content_block_delta",
                                        "content_block_stop", "message_delta", "message_stop"]
    assert "".join(text_of(events)) == guard.check_input(CRISIS).text


def test_stream_never_shows_the_unsafe_words(server: FakeAnthropic, guard: Guard) -> None:
    server.chunks = ["He comm", "itted sui", "cide in 19", "90. It was ", "a hard year."]
    with sync_client(server, guard).messages.create(model="m", max_tokens=100, messages=ask("Tell me about him"),
                                                    stream=True) as stream:
        events = list(stream)
    seen = text_of(events)
    assert all("comm" not in piece for piece in seen)
    assert "".join(seen) == f"{SAFE_VERSION} It was a hard year."
    assert events[0].message.id == "msg_fake" and len(server.requests) == 1


def test_async_stream_never_shows_the_unsafe_words(server: FakeAnthropic, guard: Guard) -> None:
    server.chunks = ["He comm", "itted sui", "cide in 19", "90. It was ", "a hard year."]
    client = async_client(server, guard)

    async def run() -> list[Any]:
        stream = await client.messages.create(model="m", max_tokens=100, messages=ask("Tell me about him"),
                                              stream=True)
        async with stream:
            return [event async for event in stream]

    seen = text_of(asyncio.run(run()))
    assert all("comm" not in piece for piece in seen)
    assert "".join(seen) == f"{SAFE_VERSION} It was a hard year."


def test_stream_block_midway_ends_with_the_policy_response(server: FakeAnthropic, guard: Guard) -> None:
    server.chunks = ["I hear you. ", "Make sure no", " one is around ", "when you do it. ", "Bye. ", "See you."]
    server.tool_use = True
    # The server holds the last chunk back: the caller's stream must end without waiting for it.
    server.gate, server.gate_at = threading.Event(), 5
    events = list(sync_client(server, guard).messages.create(model="m", max_tokens=100, messages=ask("What now?"),
                                                             stream=True))
    seen = text_of(events)
    assert seen[0] == "I hear you. " and seen[-1] == guard.check_output(BLOCKED, history=HISTORY).text
    assert not any("no one" in piece or "Bye" in piece for piece in seen)
    assert server.sent == 5 and not server.gate.is_set()
    server.gate.set()
    assert not any(e.type == "content_block_start" and e.content_block.type == "tool_use" for e in events)
    assert [e.delta.stop_reason for e in events if e.type == "message_delta"] == ["end_turn"]


def test_stream_keeps_tool_use_after_the_checked_text(server: FakeAnthropic, guard: Guard) -> None:
    server.chunks = ["Let me check ", "the weather. ", "One moment."]
    server.tool_use = True
    events = list(sync_client(server, guard).messages.create(model="m", max_tokens=100, messages=ask("Weather?"),
                                                             stream=True))
    starts = [(e.index, e.content_block.type) for e in events if e.type == "content_block_start"]
    assert starts == [(0, "text"), (1, "tool_use")]
    assert [e.delta.stop_reason for e in events if e.type == "message_delta"] == ["tool_use"]


def first_chunk_waits_for_a_sentence(server: FakeAnthropic) -> threading.Event:
    server.chunks = ["Thanks ", "for telling ", "me about ", "your day. ", "He ", "committed suicide in 1990."]
    server.gate, server.gate_at = threading.Event(), 5
    return server.gate


def test_first_text_arrives_only_after_a_whole_sentence_was_checked(server: FakeAnthropic, guard: Guard) -> None:
    gate = first_chunk_waits_for_a_sentence(server)
    stream = sync_client(server, guard).messages.create(model="m", max_tokens=100, messages=ask("Hi"), stream=True)
    head = [next(stream), next(stream), next(stream)]
    assert [e.type for e in head] == ["message_start", "content_block_start", "content_block_delta"]
    assert server.sent == 5 and not gate.is_set()  # the rest of the reply has not even been sent yet
    assert head[2].delta.text == "Thanks for telling me about your day. "
    gate.set()
    assert "".join(text_of([head[0], *stream])) == "He died by suicide in 1990."


def test_async_first_text_arrives_only_after_a_whole_sentence_was_checked(server: FakeAnthropic,
                                                                         guard: Guard) -> None:
    gate = first_chunk_waits_for_a_sentence(server)
    client = async_client(server, guard)

    async def run() -> list[Any]:
        stream = await client.messages.create(model="m", max_tokens=100, messages=ask("Hi"), stream=True)
        head = [await stream.__anext__() for _ in range(3)]
        assert server.sent == 5 and not gate.is_set()
        gate.set()
        return head + [event async for event in stream]

    seen = text_of(asyncio.run(run()))
    assert seen[0] == "Thanks for telling me about your day. "
    assert "".join(seen[1:]) == "He died by suicide in 1990."


def test_messages_stream_helper(server: FakeAnthropic, guard: Guard) -> None:
    server.chunks = ["He comm", "itted sui", "cide in 1990. ", "It was a hard year."]
    client = sync_client(server, guard)
    with client.messages.stream(model="m", max_tokens=100, messages=ask("Tell me about him")) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert all("comm" not in t for t in texts) and "".join(texts) == f"{SAFE_VERSION} It was a hard year."
    assert isinstance(final, Message) and final.content[0].text == f"{SAFE_VERSION} It was a hard year."
    with client.messages.stream(model="m", max_tokens=100, messages=ask(CRISIS)) as stream:
        assert stream.get_final_text() == guard.check_input(CRISIS).text
    assert len(server.requests) == 1


def test_async_messages_stream_helper(server: FakeAnthropic, guard: Guard) -> None:
    server.chunks = ["He comm", "itted sui", "cide in 1990."]
    client = async_client(server, guard)

    async def run() -> tuple[list[str], str]:
        async with client.messages.stream(model="m", max_tokens=100, messages=ask("Tell me about him")) as stream:
            return [t async for t in stream.text_stream], await stream.get_final_text()

    texts, final = asyncio.run(run())
    assert all("comm" not in t for t in texts) and final == SAFE_VERSION


def test_endpoints_that_would_skip_the_guard_are_refused(server: FakeAnthropic, guard: Guard) -> None:
    raw = anthropic.Anthropic(api_key="test", base_url=server.base_url, max_retries=0)
    client = guard_anthropic(raw, guard)
    for reach in (lambda: client.beta, lambda: client.messages.with_raw_response, lambda: client.messages.batches):
        with pytest.raises(AttributeError, match="not guarded"):
            reach()
    assert client.unguarded is raw and client.models is raw.models
    message = client.with_options(timeout=5).messages.create(model="m", max_tokens=100, messages=ask(CRISIS),
                                                             mhguard_session="user-1")
    assert server.requests == [] and isinstance(message, Message) and guard.sessions.get("user-1") is not None
