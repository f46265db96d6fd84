"""GuardedRunnable with langchain_core's fake chat models, prompts and parsers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableGenerator, RunnableLambda

from mhguard import Guard, InputTypeError
from mhguard.integrations.langchain import GuardedRunnable, guard_runnable

CRISIS = "I can't do this anymore. I'm going to kill myself tonight."
UNSAFE = "He committed suicide in 1990. It was a hard year."
SAFE_VERSION = "He died by suicide in 1990. It was a hard year."
BLOCKED = "Make sure no one is around when you do it."
HISTORY: list[BaseMessage] = [HumanMessage("Hi."), AIMessage("Hi, I'm an AI. How can I help?")]
GENTLE = {"extends": "default", "responses": {"low_note": "Be gentle."},
          "input": [{"type": "keywords", "id": "test-low", "actions": {"low": "annotate"},
                     "instructions": {"low": "low_note"}, "responses": {"annotate": "low_note"},
                     "rules": [{"id": "t.low", "category": "distress", "tier": "low", "phrases": ["rainy mood"]}]}]}


def ask(text: str) -> list[BaseMessage]:
    return [*HISTORY, HumanMessage(text)]


@pytest.fixture
def guard() -> Guard:
    return Guard.from_policy("default")


def fake(reply: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=reply, id="run-1")]))


def never_called() -> FakeListChatModel:
    # Two responses: FakeListChatModel.i wraps back to 0 after its last response, so one would hide a call.
    return FakeListChatModel(responses=["never", "never again"])


def test_the_examples_mean_what_the_tests_assume(guard: Guard) -> None:
    assert not guard.check_input(CRISIS).allowed
    assert guard.check_output(UNSAFE, history=[{"role": "assistant", "content": "Hi"}]).text == SAFE_VERSION


def test_crisis_is_answered_as_an_ai_message_without_invoking_the_model(guard: Guard) -> None:
    model = never_called()
    reply = GuardedRunnable(model, guard).invoke(CRISIS)
    assert model.i == 0
    assert isinstance(reply, AIMessage) and reply.content == guard.check_input(CRISIS).text


def test_reply_is_rewritten_and_stays_an_ai_message(guard: Guard) -> None:
    reply = GuardedRunnable(fake(UNSAFE), guard).invoke(ask("Tell me about him"))
    assert isinstance(reply, AIMessage) and reply.content == SAFE_VERSION and reply.id == "run-1"


def test_dict_and_tuple_messages_and_prompt_values(guard: Guard) -> None:
    dicts = [{"role": "assistant", "content": "Hi, I'm an AI."}, {"role": "user", "content": "Tell me about him"}]
    assert GuardedRunnable(fake(UNSAFE), guard).invoke(dicts).content == SAFE_VERSION
    tuples = [("assistant", "Hi, I'm an AI."), ("user", CRISIS)]
    model = never_called()
    assert GuardedRunnable(model, guard).invoke(tuples).content == guard.check_input(CRISIS).text
    prompt = ChatPromptTemplate.from_messages([("ai", "Hi, I'm an AI."), ("human", "{question}")])
    value = prompt.invoke({"question": "Tell me about him"})
    assert GuardedRunnable(fake(UNSAFE), guard).invoke(value).content == SAFE_VERSION
    assert model.i == 0
    with pytest.raises(InputTypeError):
        GuardedRunnable(model, guard).invoke(42)


def test_in_a_chain_and_around_a_chain(guard: Guard) -> None:
    prompt = ChatPromptTemplate.from_messages([("ai", "Hi, I'm an AI."), ("human", "{question}")])
    chain = prompt | GuardedRunnable(fake(UNSAFE), guard) | StrOutputParser()
    assert chain.invoke({"question": "Tell me about him"}) == SAFE_VERSION
    model = never_called()
    whole = guard_runnable(prompt | model | StrOutputParser(), guard)
    crisis = whole.invoke({"question": CRISIS})
    assert isinstance(crisis, str) and crisis == guard.check_input(CRISIS).text and model.i == 0
    rewritten = guard_runnable(prompt | fake(UNSAFE) | StrOutputParser(), guard).invoke({"question": "Him?"})
    # The guard sees only the question, not the prompt's AI turn: a first reply gets the AI disclosure.
    assert rewritten.startswith("Just so you know: I'm an AI") and rewritten.endswith(SAFE_VERSION)


def test_safety_instructions_reach_the_model_as_a_system_message() -> None:
    seen: list[Any] = []

    def model(messages: list[BaseMessage]) -> AIMessage:
        seen.append(messages)
        return AIMessage("I'm here with you.")

    reply = GuardedRunnable(RunnableLambda(model), Guard.from_policy(GENTLE)).invoke(ask("I am in a rainy mood"))
    assert reply.content == "I'm here with you.\n\nBe gentle."
    sent = seen[0]
    assert sent[:2] == HISTORY and isinstance(sent[2], SystemMessage) and sent[2].content == "Be gentle."
    assert isinstance(sent[3], HumanMessage) and sent[3].content == "I am in a rainy mood"


def test_blocked_reply_gets_the_policy_response(guard: Guard) -> None:
    reply = GuardedRunnable(fake(BLOCKED), guard).invoke(ask("What now?"))
    assert isinstance(reply, AIMessage) and "no one" not in reply.content
    assert reply.content == guard.check_output(BLOCKED, history=[{"role": "assistant", "content": "x"}]).text


def test_ainvoke(guard: Guard) -> None:
    model = FakeListChatModel(responses=[UNSAFE, UNSAFE])
    guarded = GuardedRunnable(model, guard)

    async def run() -> tuple[Any, Any]:
        return await guarded.ainvoke(CRISIS), await guarded.ainvoke(ask("Tell me about him"))

    crisis, rewritten = asyncio.run(run())
    assert crisis.content == guard.check_input(CRISIS).text and rewritten.content == SAFE_VERSION
    assert model.i == 1


def test_stream_never_shows_the_unsafe_words(guard: Guard) -> None:
    chunks = list(GuardedRunnable(fake(UNSAFE), guard).stream(ask("Tell me about him")))
    assert chunks and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert all("committed" not in c.content for c in chunks)
    assert "".join(c.content for c in chunks) == SAFE_VERSION


def test_astream_never_shows_the_unsafe_words(guard: Guard) -> None:
    async def run() -> list[Any]:
        return [c async for c in GuardedRunnable(fake(UNSAFE), guard).astream(ask("Tell me about him"))]

    chunks = asyncio.run(run())
    assert all("committed" not in c.content for c in chunks)
    assert "".join(c.content for c in chunks) == SAFE_VERSION


def test_stream_crisis_and_str_chains(guard: Guard) -> None:
    model = never_called()
    chunks = list(GuardedRunnable(model, guard).stream(CRISIS))
    assert model.i == 0 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(c.content for c in chunks) == guard.check_input(CRISIS).text
    strs = list(guard_runnable(fake(UNSAFE) | StrOutputParser(), guard).stream(ask("Tell me about him")))
    assert all(isinstance(s, str) and "committed" not in s for s in strs) and "".join(strs) == SAFE_VERSION


def counted_model(pieces: list[str], pulled: list[str]) -> RunnableGenerator:
    def generate(_: Iterator[Any]) -> Iterator[AIMessageChunk]:
        for piece in pieces:
            pulled.append(piece)
            yield AIMessageChunk(content=piece)

    return RunnableGenerator(generate)


def test_first_chunk_comes_only_after_a_whole_sentence_was_checked(guard: Guard) -> None:
    pieces = ["Thanks ", "for telling ", "me about ", "your day. ", "He ", "committed suicide in 1990."]
    pulled: list[str] = []
    stream = GuardedRunnable(counted_model(pieces, pulled), guard).stream(ask("Hi"))
    first = next(stream)
    assert first.content == "Thanks for telling me about your day. "
    assert pulled == pieces[:5]  # one piece past the sentence end, and no further
    assert "".join(c.content for c in stream) == "He died by suicide in 1990."


def test_stream_block_stops_pulling_from_the_model(guard: Guard) -> None:
    pieces = ["I hear you. ", "Make sure no", " one is around ", "when you do it. ", "Bye. ", "See you."]
    pulled: list[str] = []
    chunks = list(GuardedRunnable(counted_model(pieces, pulled), guard).stream(ask("What now?")))
    texts = [c.content for c in chunks]
    assert texts[0] == "I hear you. " and not any("no one" in t or "Bye" in t for t in texts)
    assert len(pulled) == 5


def test_session_from_config(guard: Guard) -> None:
    model = FakeListChatModel(responses=["Fine."])
    GuardedRunnable(model, guard).invoke("Hello", config={"configurable": {"mhguard_session": "lc-user"}})
    assert guard.sessions.get("lc-user") is not None
