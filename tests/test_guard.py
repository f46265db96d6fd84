from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import keyword_policy
from mhguard import (
    Action,
    Decision,
    Filter,
    FilterContext,
    FilterError,
    Finding,
    Guard,
    InputTooLargeError,
    InputTypeError,
    ModelOutputError,
    NormalizedText,
    NoUserMessageError,
    RegistryError,
    Tier,
    register_filter,
)
from mhguard.registry import get_filter_type, unregister_filter
from mhguard.testing import FakeChatModel


@pytest.fixture
def guard() -> Guard:
    return Guard.from_policy(keyword_policy())


# ---- checks and decisions -------------------------------------------------------------------------------
def test_decision_fields_and_spans_in_original_text(guard: Guard) -> None:
    text = "Honestly... I want to KILL   MYSELF tonight"
    d = guard.check_input(text)
    assert d.action is Action.ESCALATE and d.risk is Tier.HIGH and not d.allowed
    assert d.categories == ("suicide",)
    (f,) = d.findings
    assert (f.filter_id, f.rule_id, f.tier) == ("risk", "t.high", Tier.HIGH)
    assert text[f.span[0]:f.span[1]] == f.matched == "KILL   MYSELF"
    assert d.text == "CRISIS RESPONSE"
    data = d.to_dict()
    assert data["action"] == "escalate" and data["findings"][0]["span"] == list(f.span)
    with pytest.raises(AttributeError):
        d.action = Action.ALLOW  # type: ignore[misc]


def test_allow_has_no_text(guard: Guard) -> None:
    d = guard.check_input("hello there")
    assert d.action == "allow" and d.allowed and d.text is None and d.risk == "none"


def test_annotate_and_block(guard: Guard) -> None:
    low = guard.check_input("some days i wish I was dead")
    assert low.action == "annotate" and low.allowed and low.annotation == "RESOURCES NOTE" and low.text is None
    blocked = guard.check_input("tell me about the forbidden topic")
    assert blocked.action == "block" and blocked.text == "BLOCKED RESPONSE" and blocked.risk == "none"


def test_precedence_escalate_over_block(guard: Guard) -> None:
    d = guard.check_input("forbidden topic and I want to kill myself")
    assert d.action == "escalate" and set(d.categories) == {"banned", "suicide"}


def test_output_rewrite_keeps_surrounding_text(guard: Guard) -> None:
    d = guard.check_output("Sadly he committed suicide. Support is available.")
    assert d.action == "rewrite" and d.allowed
    assert d.text == "Sadly he died by suicide. Support is available."


# ---- bad input --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [None, 5, b"bytes", ["list"]])
def test_non_str_is_type_error(guard: Guard, bad: Any) -> None:
    with pytest.raises(InputTypeError):
        guard.check_input(bad)
    with pytest.raises(TypeError):
        guard.check_output(bad)


def test_empty_and_blank_pass(guard: Guard) -> None:
    for text in ("", "   \n\t"):
        d = guard.check_input(text)
        assert d.action == "allow" and d.findings == ()


def test_too_large_is_clear_error() -> None:
    g = Guard.from_policy(keyword_policy(limits={"max_chars": 100}))
    with pytest.raises(InputTooLargeError, match=r"limits\.max_chars"):
        g.check_input("x" * 101)
    with pytest.raises(ValueError):
        g.check_input("x" * 101)


def test_megabyte_text_and_lone_surrogates(guard: Guard) -> None:
    big = ("lorem ipsum " * 80_000) + "i want to kill myself"
    assert guard.check_input(big).action == "escalate"
    d = guard.check_input("i want to kill myself \ud800 ok")
    assert d.action == "escalate" and d.to_dict()["findings"]


def test_bad_history_and_locale(guard: Guard) -> None:
    with pytest.raises(InputTypeError):
        guard.check_input("hi", history="not a list")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError):
        guard.check_input("hi", history=[{"content": "no role"}])
    with pytest.raises(InputTypeError):
        guard.check_input("hi", locale=5)  # type: ignore[arg-type]


# ---- wrapping: every callable kind -----------------------------------------------------------------------
def test_sync_function(guard: Guard) -> None:
    model = FakeChatModel(["Happy to help."])
    chat = guard.wrap(model)
    assert chat("hello") == "Happy to help."
    assert model.call_count == 1


def test_escalate_does_not_call_model(guard: Guard) -> None:
    model = FakeChatModel(["should never be seen"])
    chat = guard.wrap(model)
    assert chat("I want to kill myself") == "CRISIS RESPONSE"
    assert model.call_count == 0
    result = chat.detailed("I want to kill myself")
    assert result.model_called is False and result.output is None and result.input.action == "escalate"


def test_messages_list_latest_user_turn_and_history(guard: Guard) -> None:
    seen: list[Any] = []

    def model(messages: list[dict[str, Any]]) -> str:
        seen.append(messages)
        return "ok"

    chat = guard.wrap(model)
    messages = [{"role": "user", "content": "I want to kill myself"},
                {"role": "assistant", "content": "I'm here."},
                {"role": "user", "content": "thanks, different topic"}]
    assert chat(messages) == "ok"  # only the latest user turn is judged
    with pytest.raises(NoUserMessageError):
        chat([{"role": "system", "content": "be nice"}])
    parts = [{"role": "user", "content": [{"type": "text", "text": "I want to kill myself"}]}]
    assert chat(messages=parts) == "CRISIS RESPONSE"
    assert len(seen) == 1


def test_annotation_appended_to_reply(guard: Guard) -> None:
    chat = guard.wrap(FakeChatModel(["I hear you."]))
    assert chat("i wish i was dead") == "I hear you.\n\nRESOURCES NOTE"


def test_output_rewrite_through_wrap(guard: Guard) -> None:
    chat = guard.wrap(FakeChatModel(["He committed suicide. I'm sorry."]))
    result = chat.detailed("tell me about my uncle")
    assert result.text == "He died by suicide. I'm sorry."
    assert result.output is not None and result.output.action == "rewrite"


def test_model_returning_none_or_non_str(guard: Guard) -> None:
    for bad in (None, 42):
        chat = guard.wrap(FakeChatModel([bad]))
        with pytest.raises(ModelOutputError):
            chat("hello")


def test_decorator_and_async(guard: Guard) -> None:
    model = FakeChatModel(["Async hello."])

    @guard
    async def chat(prompt: str) -> str:
        return await model.acall(prompt)

    assert asyncio.run(chat("hi")) == "Async hello."
    assert asyncio.run(chat("I want to kill myself")) == "CRISIS RESPONSE"
    assert model.call_count == 1
    result = asyncio.run(chat.detailed("hi"))
    assert result.input.action == "allow" and result.output is not None


def test_sync_generator_stream(guard: Guard) -> None:
    model = FakeChatModel(["First sentence. He committed suicide. Last one."], chunk_size=3)
    chat = guard.wrap(model.stream)
    assert "".join(chat("hi")) == "First sentence. He died by suicide. Last one."
    assert list(chat("I want to kill myself")) == ["CRISIS RESPONSE"]
    assert model.call_count == 1


def test_block_mid_stream_closes_upstream(guard: Guard) -> None:
    model = FakeChatModel(["Fine start. Here is the secret method you asked for. More text. " * 3], chunk_size=4)
    chat = guard.wrap(model.stream)
    decisions: list[Decision] = []
    out = list(chat.detailed("hi", decisions=decisions))
    assert out[0] == "Fine start. " and out[-1] == "BLOCKED RESPONSE"
    assert "secret" not in "".join(out)
    assert model.closed_streams == 1
    assert decisions[-1].action == "block"
    finding = decisions[-1].findings[-1]
    full = model._replies[0]
    assert full[finding.span[0]:finding.span[1]].lower() == "secret method"


def test_async_generator_stream(guard: Guard) -> None:
    model = FakeChatModel(["One. He committed suicide. Two."], chunk_size=2)
    chat = guard.wrap(model.astream)

    async def collect(prompt: str) -> list[str]:
        return [piece async for piece in chat(prompt)]

    assert "".join(asyncio.run(collect("hi"))) == "One. He died by suicide. Two."
    assert asyncio.run(collect("I want to kill myself")) == ["CRISIS RESPONSE"]


def test_concurrent_async_streams_do_not_mix(guard: Guard) -> None:
    replies = {f"user {i}": " ".join(f"Reply {i} sentence {k}." for k in range(20)) for i in range(8)}

    async def model(prompt: str) -> Any:
        for word in replies[prompt].split(" "):
            await asyncio.sleep(0)
            yield word + " "

    chat = guard.wrap(model)

    async def collect(prompt: str) -> str:
        return "".join([piece async for piece in chat(prompt)])

    async def main() -> list[str]:
        return await asyncio.gather(*(collect(p) for p in replies))

    outputs = asyncio.run(main())
    for prompt, out in zip(replies, outputs, strict=True):
        assert out.strip() == replies[prompt]


SAFE = ["Hello there. ", "How are you? ", "Breathing helps.\n", "Take your time; ", "ok "]
BAD = "secret method "


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.sampled_from([*SAFE, BAD]), min_size=1, max_size=12),
       cuts=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=40))
def test_stream_never_yields_unchecked_text(parts: list[str], cuts: list[int]) -> None:
    guard = Guard.from_policy(keyword_policy())
    reply = "".join(parts)
    chunks, i, k = [], 0, 0
    while i < len(reply):
        size = cuts[k % len(cuts)]
        chunks.append(reply[i:i + size])
        i, k = i + size, k + 1
    model = FakeChatModel([reply], chunks=chunks)
    out = "".join(guard.wrap(model.stream)("hi"))
    if BAD in reply:
        assert "secret" not in out and out.endswith("BLOCKED RESPONSE")
        assert reply.startswith(out[: -len("BLOCKED RESPONSE")])
    else:
        assert out == reply


# ---- fail closed, hooks, registry --------------------------------------------------------------------------
class Exploding(Filter):
    def check(self, text: NormalizedText, ctx: FilterContext) -> Sequence[Finding]:
        raise RuntimeError("boom")


@pytest.fixture
def exploding() -> Any:
    register_filter("exploding_test")(Exploding)
    yield
    unregister_filter("exploding_test")


def test_filter_error_fails_closed(exploding: None, caplog: pytest.LogCaptureFixture) -> None:
    g = Guard.from_policy({"name": "x", "input": [{"type": "exploding_test"}]})
    model = FakeChatModel(["never"])
    d = g.check_input("hello")
    assert d.action == "block" and d.status == "error" and not d.allowed
    assert d.findings[0].reason.startswith("filter_error")
    assert d.text  # a safe response, not nothing
    assert g.wrap(model)("hello") == d.text and model.call_count == 0
    assert "fail closed" in caplog.text


def test_filter_error_raise_when_policy_says(exploding: None) -> None:
    g = Guard.from_policy({"name": "x", "on_error": "raise", "input": [{"type": "exploding_test"}]})
    with pytest.raises(FilterError, match="boom"):
        g.check_input("hello")


def test_registry_duplicate_and_unknown() -> None:
    with pytest.raises(RegistryError, match="already registered"):
        register_filter("keywords")(Exploding)
    with pytest.raises(RegistryError, match="did you mean 'keywords'"):
        get_filter_type("keyword")


def test_hooks_receive_every_decision_and_failures_are_contained(guard: Guard) -> None:
    seen: list[Decision] = []

    def broken(decision: Decision) -> None:
        raise ValueError("hook bug")

    async def async_hook(decision: Decision) -> None:
        seen.append(decision)

    g = Guard.from_policy(keyword_policy(), hooks=[seen.append, broken])
    chat = g.wrap(FakeChatModel(["fine"]))
    assert chat("hello") == "fine"
    assert [d.stage.value for d in seen] == ["input", "output"]
    assert chat("I want to kill myself") == "CRISIS RESPONSE"
    assert seen[-1].action == "escalate"
    g.add_hook(async_hook)
    before = len(seen)
    g.check_input("hello")
    assert len(seen) == before + 2  # the sync append and the async hook
