"""The FastAPI example service (examples/fastapi_chat.py) with fastapi's TestClient."""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from mhguard import Guard

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi_chat.py"
CRISIS = "I can't do this anymore. I'm going to kill myself tonight."
HISTORY = [{"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Hi, I'm an AI. How can I help?"}]


@functools.cache
def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_chat_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Model:
    """Streams scripted pieces and counts calls."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.calls: list[Any] = []

    async def __call__(self, messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        self.calls.append(messages)
        for piece in self.pieces:
            yield piece


def make(pieces: list[str]) -> tuple[TestClient, Guard, Model]:
    guard = Guard.from_policy("default")
    model = Model(pieces)

    async def stream(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        async for piece in model(messages):
            yield piece

    return TestClient(load_example().create_app(guard, stream)), guard, model


def sse(client: TestClient, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[Any, list[Any]]:
    events: list[Any] = []
    with client.stream("POST", "/chat/stream", json=body, headers=headers or {}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = "message"
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: "):]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[len("data: "):])))
                kind = "message"
    return response, events


def test_chat_with_a_session_from_the_header() -> None:
    client, guard, model = make(["That sounds ", "lovely. ", "Tell me more."])
    response = client.post("/chat", json={"messages": [*HISTORY, {"role": "user", "content": "I went hiking."}]},
                           headers={"X-Session-Id": "abc"})
    assert response.status_code == 200
    body = response.json()
    # A new session starts with the AI disclosure, whatever the history says.
    assert body["reply"].startswith("Just so you know: I'm an AI")
    assert body["reply"].endswith("\n\nThat sounds lovely. Tell me more.") and body["model_called"] is True
    assert response.headers["X-Session-Id"] == "abc" and guard.sessions.get("abc") is not None
    assert len(model.calls) == 1


def test_session_from_the_body_or_a_new_one() -> None:
    client, guard, _ = make(["Hello."])
    assert client.post("/chat", json={"message": "hi", "session_id": "s-1", "locale": "en-GB"}).status_code == 200
    session = guard.sessions.get("s-1")
    assert session is not None and session.locale == "en-GB"
    made = client.post("/chat", json={"message": "hi"}).headers["X-Session-Id"]
    assert made and guard.sessions.get(made) is not None


def test_first_reply_of_a_session_discloses_the_ai_once() -> None:
    client, _, _ = make(["Hello there."])
    first = client.post("/chat", json={"message": "hi"}, headers={"X-Session-Id": "d"}).json()["reply"]
    second = client.post("/chat", json={"message": "hi again"}, headers={"X-Session-Id": "d"}).json()["reply"]
    assert "AI" in first and "AI" not in second and second == "Hello there."


def test_crisis_streams_the_crisis_response_without_calling_the_model() -> None:
    client, guard, model = make(["never"])
    _, events = sse(client, {"messages": [*HISTORY, {"role": "user", "content": CRISIS}]})
    assert model.calls == []
    texts = [data["text"] for kind, data in events if kind == "message"]
    assert "".join(texts) == guard.check_input(CRISIS).text
    assert events[-1][0] == "done" and events[-1][1]["model_called"] is False
    assert events[-1][1]["input_action"] == "escalate"


def test_stream_never_sends_the_unsafe_words() -> None:
    client, _, model = make(["He comm", "itted sui", "cide in 1990. ", "It was a hard year."])
    _, events = sse(client, {"messages": [*HISTORY, {"role": "user", "content": "Tell me about him"}]},
                    headers={"X-Session-Id": "x"})
    texts = [data["text"] for kind, data in events if kind == "message"]
    assert all("comm" not in t for t in texts) and len(model.calls) == 1
    assert "".join(texts).endswith("\n\nHe died by suicide in 1990. It was a hard year.")
    assert events[-1] == ("done", {"session_id": "x", "input_action": "allow", "risk": "none",
                                   "model_called": True, "output_action": "rewrite"})


def test_a_request_without_a_user_turn_is_rejected() -> None:
    client, _, model = make(["never"])
    assert client.post("/chat", json={"messages": HISTORY[1:]}).status_code == 422
    assert client.post("/chat/stream", json={}).status_code == 422
    assert model.calls == []
