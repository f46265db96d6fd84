"""AI disclosure cadence (start, +3 hours, after 7 days away, "are you human?"), notices, sessions, youth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mhguard import Guard
from mhguard.sessions import Session, SQLiteSessionStore
from mhguard.testing import FakeChatModel

HOUR, DAY = 3600.0, 86400.0
DISCLOSURE = "I'm an AI."


class Clock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def disclaimer_policy(**options: Any) -> dict[str, Any]:
    entry = {"type": "disclaimer", "disclosure": {"en": DISCLOSURE, "es": "Soy una IA."},
             "care_notice": "Not a substitute for care.", **options}
    return {"name": "disc", "output": [entry]}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def turn(guard: Guard, text: str = "hello", reply: str = "Nice to hear from you.", session: Any = "s1") -> str:
    chat = guard.wrap(FakeChatModel([reply]))
    return chat(text, mhguard_session=session)  # type: ignore[no-any-return]


def test_disclosure_at_start_then_not_every_message(clock: Clock) -> None:
    guard = Guard.from_policy(disclaimer_policy(), clock=clock)
    assert turn(guard) == f"{DISCLOSURE}\n\nNice to hear from you."
    clock.advance(60)
    assert turn(guard) == "Nice to hear from you."
    clock.advance(2 * HOUR)
    assert turn(guard) == "Nice to hear from you."


def test_disclosure_again_after_three_hours_of_continuing_session(clock: Clock) -> None:
    guard = Guard.from_policy(disclaimer_policy(), clock=clock)
    turn(guard)
    for _ in range(6):  # a continuing conversation, a message every 30 minutes
        clock.advance(HOUR / 2)
        out = turn(guard)
    assert out.startswith(DISCLOSURE)
    clock.advance(HOUR / 2)
    assert not turn(guard).startswith(DISCLOSURE)


def test_disclosure_after_seven_days_away(clock: Clock) -> None:
    guard = Guard.from_policy(disclaimer_policy(every_hours=1000), clock=clock)
    turn(guard)
    clock.advance(6 * DAY)
    assert not turn(guard).startswith(DISCLOSURE)
    clock.advance(7 * DAY + 1)
    assert turn(guard).startswith(DISCLOSURE)


@pytest.mark.parametrize("question", ["are you a real person?", "Am I talking to a bot?", "r u human",
                                      "is this an AI", "¿Eres humano?", "bist du ein Mensch?", "你是真人吗"])
def test_asking_if_human_gets_truthful_answer_first(clock: Clock, question: str) -> None:
    guard = Guard.from_policy(disclaimer_policy(), clock=clock)
    turn(guard)
    clock.advance(60)
    out = turn(guard, question, reply="I'm here for you.")
    assert out.startswith("No, I'm not a human. I'm an AI program.\n\n")


@pytest.mark.parametrize("text", ["what a human thing to do", "are you free tomorrow?", "I'm a real person too"])
def test_non_questions_do_not_trigger_answer(clock: Clock, text: str) -> None:
    guard = Guard.from_policy(disclaimer_policy(), clock=clock)
    turn(guard)
    clock.advance(60)
    assert turn(guard, text) == "Nice to hear from you."


def test_care_notice_on_clinical_topics_not_repeated(clock: Clock) -> None:
    guard = Guard.from_policy(disclaimer_policy(), clock=clock)
    turn(guard)
    clock.advance(60)
    out = turn(guard, "is this depression?", reply="Low mood for weeks can be a sign worth discussing.")
    assert out.endswith("\n\nNot a substitute for care.")
    clock.advance(60)
    assert "substitute" not in turn(guard, "and what about therapy?", reply="Therapy helps many people.")


def test_language_of_disclosure(clock: Clock) -> None:
    guard = Guard.from_policy(disclaimer_policy(), clock=clock)
    chat = guard.wrap(FakeChatModel(["Hola."]))
    assert chat("hola", mhguard_session="es1", mhguard_locale="es-MX").startswith("Soy una IA.")


def test_without_session_disclosure_follows_history(clock: Clock) -> None:
    guard = Guard.from_policy(disclaimer_policy(), clock=clock)
    first = guard.check_output("Hi!", user_text="hello")
    assert first.text == f"{DISCLOSURE}\n\nHi!"
    later = guard.check_output("Hi!", user_text="hello", history=[{"role": "user", "content": "a"},
                                                                 {"role": "assistant", "content": "b"}])
    assert later.text is None


def test_streaming_disclosure_once(clock: Clock) -> None:
    guard = Guard.from_policy(disclaimer_policy(), clock=clock)
    model = FakeChatModel(["One. Two. Three."], chunk_size=2)
    out = "".join(guard.wrap(model.stream)("hi", mhguard_session="st"))
    assert out == f"{DISCLOSURE}\n\nOne. Two. Three."
    clock.advance(60)
    assert "".join(guard.wrap(model.stream)("hi", mhguard_session="st")) == "One. Two. Three."


def test_youth_policy(clock: Clock) -> None:
    guard = Guard.from_policy("youth", clock=clock)
    first = turn(guard, session="kid")
    assert "AI" in first and "minor" in first.lower()
    clock.advance(HOUR)
    assert turn(guard, session="kid") == "Nice to hear from you."
    clock.advance(2 * HOUR + 1)  # 3 hours: disclosure and break reminder are due again
    again = turn(guard, session="kid")
    assert "AI" in again
    clock.advance(HOUR)
    # stricter thresholds than default: passive ideation is answered with the crisis response
    model = FakeChatModel(["never"])
    reply = guard.wrap(model)("sometimes I wish I was dead", mhguard_session="kid")
    assert model.call_count == 0 and reply


def test_session_records_risk_and_disclosures(clock: Clock) -> None:
    guard = Guard.from_policy(disclaimer_policy(), clock=clock)
    turn(guard, session="rec")
    session = guard.sessions.get("rec")
    assert isinstance(session, Session)
    assert session.disclosed_at == [clock.now] and session.last_seen == clock.now
    assert [tier for _, tier in session.risk_history] == ["none"]


def test_sqlite_store_persists_across_guards(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "sessions.db"
    with SQLiteSessionStore(path) as store:
        guard = Guard.from_policy(disclaimer_policy(), clock=clock, session_store=store)
        assert turn(guard, session="p1").startswith(DISCLOSURE)
    clock.advance(60)
    with SQLiteSessionStore(path) as store:
        guard = Guard.from_policy(disclaimer_policy(), clock=clock, session_store=store)
        # a new Guard and a new store instance: the disclosure is remembered, not repeated
        assert turn(guard, session="p1") == "Nice to hear from you."


def test_session_object_is_updated_in_place_not_stored(clock: Clock) -> None:
    guard = Guard.from_policy(disclaimer_policy(), clock=clock)
    mine = Session(id="own", created=clock.now)
    assert turn(guard, session=mine).startswith(DISCLOSURE)
    assert mine.disclosed_at == [clock.now] and [t for _, t in mine.risk_history] == ["none"]
    assert guard.sessions.get("own") is None  # the caller keeps their own Session


# ---- "are you human?" in ja, hi, ar, zh, answered in the person's language --------------------------------
@pytest.mark.parametrize("language", ["ja", "hi", "ar", "zh"])
def test_human_question_patterns_run_their_examples(language: str) -> None:
    from mhguard.filters.disclaimer import _ASKS_IF_HUMAN
    from mhguard.filters.human_question import COUNTER_EXAMPLES, EXAMPLES

    for text in EXAMPLES[language]:
        assert _ASKS_IF_HUMAN.search(text.casefold()), (language, text)
    for text in COUNTER_EXAMPLES[language]:
        assert not _ASKS_IF_HUMAN.search(text.casefold()), (language, text)


@pytest.mark.parametrize(("question", "reply", "expected"), [
    ("你是真人吗？", "我在这里陪你聊天。", "不是"),
    ("あなたは人間ですか？", "はい、何でも話してください。", "人間ではありません"),
    ("هل أنت إنسان؟", "أنا هنا للاستماع إليك دائما.", "لا"),
    ("kya aap insaan ho?", "मैं यहाँ आपकी बात सुनने के लिए हूँ।", "नहीं"),
])
def test_the_truthful_answer_is_in_the_persons_language(question: str, reply: str, expected: str) -> None:
    guard = Guard.from_policy("default")
    out = guard.check_output(reply, user_text=question)
    assert out.text is not None and expected in out.text.split("\n")[0], out.text
