"""Tier handling, localized crisis responses, escalation handlers and wrong-helpline detection.

These tests use fixture templates and a fixture directory (tests/fixtures) and keyword rules for the tiers,
so they test the mechanics independently of the shipped data and of the crisis lexicons.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conftest import FIXTURES
from mhguard import Guard, PolicyError
from mhguard.escalation import AsyncWebhookHandler, EscalationEvent, WebhookHandler
from mhguard.locale import parse_locale
from mhguard.testing import FakeChatModel

SAFETY = "The user may be at risk. Be supportive, do not give method details, suggest crisis lines."


def tier_policy(**overrides: Any) -> dict[str, Any]:
    rules = [
        {"id": "t.concern", "category": "distress", "tier": "concern", "phrases": ["so stressed"]},
        {"id": "t.low", "category": "suicide", "tier": "low", "phrases": ["wish i was dead"]},
        {"id": "t.moderate", "category": "self_harm", "tier": "moderate", "phrases": ["cutting again"]},
        {"id": "t.high", "category": "suicide", "tier": "high", "phrases": ["going to kill myself"]},
        {"id": "t.imminent", "category": "suicide", "tier": "imminent", "phrases": ["took all the pills"]},
        {"id": "t.other", "category": "other_person", "tier": "concern", "phrases": ["my friend wants to die"]},
    ]
    policy: dict[str, Any] = {
        "name": "tiers",
        "locale": "en-US",
        "helplines": str(FIXTURES / "helplines.yaml"),
        "responses": {"crisis": {"template": str(FIXTURES / "templates.yaml")}},
        "input": [{
            "type": "keywords", "id": "crisis", "rules": rules,
            "actions": {"concern": "allow", "low": "annotate", "moderate": "escalate"},
            "category_actions": {"other_person": "annotate"},
            "responses": {"escalate": "crisis", "annotate": "crisis"},
            "instructions": {"low": SAFETY},
        }],
        "escalation": {"threshold": "high"},
    }
    policy.update(overrides)
    return policy


@pytest.fixture
def guard() -> Guard:
    return Guard.from_policy(tier_policy())


def test_locale_parsing() -> None:
    assert parse_locale("en-GB") is not None and parse_locale("en-GB").country == "GB"  # type: ignore[union-attr]
    pt = parse_locale("pt_BR")
    assert pt is not None and (pt.language, pt.country) == ("pt", "BR")
    zh = parse_locale("zh-TW")
    assert zh is not None and zh.language_variant == "zh-Hant"
    assert parse_locale("zh-Hans-CN").language_variant == "zh-Hans"  # type: ignore[union-attr]
    assert parse_locale("fr").country is None  # type: ignore[union-attr]
    assert parse_locale("es-419").country is None  # type: ignore[union-attr]
    assert parse_locale("not a locale!") is None and parse_locale(None) is None


def test_concern_passes_and_model_is_called(guard: Guard) -> None:
    model = FakeChatModel(["Breathe."])
    assert guard.wrap(model)("I'm so stressed") == "Breathe."
    assert model.call_count == 1


def test_low_calls_model_with_instruction_and_appends_resources(guard: Guard) -> None:
    model = FakeChatModel(["I'm sorry it hurts."])
    chat = guard.wrap(model)
    reply = chat([{"role": "user", "content": "some days I wish I was dead"}], mhguard_locale="en-GB")
    assert model.call_count == 1
    sent = model.calls[0]
    assert sent[0] == {"role": "system", "content": SAFETY} and sent[1]["role"] == "user"
    assert reply.startswith("I'm sorry it hurts.\n\nLOW. Samaritans: call 116 123")
    # A plain prompt gets the instruction prepended.
    chat("I wish I was dead")
    assert model.calls[1].startswith(SAFETY)


def test_moderate_and_high_do_not_call_model(guard: Guard) -> None:
    model = FakeChatModel(["never"])
    chat = guard.wrap(model)
    reply = chat("I'm cutting again", mhguard_locale="en-GB")
    assert model.call_count == 0 and reply.startswith("CRISIS.") and "116 123" in reply
    assert "Emergency" not in reply.split("\n")[0]


def test_imminent_is_emergency_first(guard: Guard) -> None:
    d = guard.check_input("I took all the pills", locale="en-GB")
    lines = d.text.splitlines()  # type: ignore[union-attr]
    assert d.action == "escalate" and lines[0] == "IMMINENT. Call 999 now."
    assert lines[1] == "- Emergency services: 999" and "Samaritans" in lines[2]


def test_locale_resolution_order_and_fallbacks(guard: Guard) -> None:
    class Session:
        id = "s1"
        locale = "fr-FR"

    # explicit locale > session locale > policy default
    assert "116 123" in guard.check_input("I'm cutting again", locale="en-GB", session=Session()).text  # type: ignore[operator]
    fr = guard.check_input("I'm cutting again", session=Session())
    # the country's lines come from the locale; the text follows the message's language when it is clear
    assert fr.text.startswith("CRISIS.") and "3114" in fr.text and fr.locale == "fr-FR"  # type: ignore[union-attr]
    assert fr.language == "en"
    unclear = guard.check_input("cutting again", session=Session())
    assert unclear.language is None
    assert unclear.text.startswith("CRISE.") and "3114" in unclear.text  # type: ignore[union-attr]
    us = guard.check_input("I'm cutting again")
    assert "988" in us.text and us.locale == "en-US"  # type: ignore[operator]
    # A country without an entry: local emergency number and the international directory.
    nowhere = guard.check_input("I took all the pills", locale="en-ZZ")
    assert "your local emergency number" in nowhere.text and "findahelpline.com" in nowhere.text  # type: ignore[operator]
    # A language without templates falls back to the policy default's language.
    assert guard.check_input("I'm cutting again", locale="de-DE").text.startswith("CRISIS.")  # type: ignore[union-attr]


def test_other_person_gets_helping_response(guard: Guard) -> None:
    d = guard.check_input("my friend wants to die, what do I do", locale="en-GB")
    assert d.action == "annotate" and d.risk == "concern"
    assert d.annotation is not None and d.annotation.startswith("OTHER. Help them.")


def test_escalation_handlers_once_without_text(guard: Guard) -> None:
    events: list[EscalationEvent] = []
    guard.on_escalation(events.append)
    model = FakeChatModel(["never"])
    chat = guard.wrap(model)
    chat("I am going to kill myself tonight", mhguard_session="abc")
    chat("I'm cutting again")  # moderate: below the threshold (high)
    chat("hello")
    assert len(events) == 1
    event = events[0]
    assert event.tier == "high" and event.session_id == "abc" and event.text is None
    dumped = json.dumps(event.to_dict())
    assert "kill myself" not in dumped and "tonight" not in dumped


def test_escalation_text_is_opt_in() -> None:
    g = Guard.from_policy(tier_policy(escalation={"threshold": "high", "include_text": True}))
    events: list[EscalationEvent] = []
    g.on_escalation(events.append)
    g.check_input("I am going to kill myself")
    assert events[0].text == "I am going to kill myself"


def test_failing_handler_keeps_crisis_response(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: EscalationEvent) -> None:
        raise ConnectionError("pager down")

    g = Guard.from_policy(tier_policy(), escalation_handlers=[broken])
    model = FakeChatModel(["never"])
    reply = g.wrap(model)("I took all the pills", mhguard_locale="en-GB")
    assert reply.startswith("IMMINENT.") and model.call_count == 0
    assert "pager down" in caplog.text


def test_async_handler_awaited_in_async_path() -> None:
    g = Guard.from_policy(tier_policy())
    events: list[EscalationEvent] = []

    async def handler(event: EscalationEvent) -> None:
        await asyncio.sleep(0)
        events.append(event)

    g.on_escalation(handler)
    model = FakeChatModel(["never"])
    chat = g.wrap(model.acall)
    assert asyncio.run(chat("I took all the pills")).startswith("IMMINENT.")
    assert len(events) == 1 and events[0].tier == "imminent"
    g.check_input("I took all the pills")  # sync path runs the async handler too
    assert len(events) == 2


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Receiver.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook_server() -> Any:
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/escalate", _Receiver.received
    server.shutdown()
    server.server_close()


def test_webhook_handler_posts_event(webhook_server: Any) -> None:
    url, received = webhook_server
    g = Guard.from_policy(tier_policy(), escalation_handlers=[WebhookHandler(url, timeout=5)])
    g.check_input("I am going to kill myself", session="s-9")
    assert len(received) == 1
    assert received[0]["tier"] == "high" and received[0]["session_id"] == "s-9"
    assert "text" not in received[0] and "kill" not in json.dumps(received[0])
    g2 = Guard.from_policy(tier_policy(), escalation_handlers=[AsyncWebhookHandler(url)])
    asyncio.run(g2.acheck_input("I took all the pills"))
    assert len(received) == 2 and received[1]["tier"] == "imminent"


def test_webhook_failure_is_contained(caplog: pytest.LogCaptureFixture) -> None:
    g = Guard.from_policy(tier_policy(), escalation_handlers=[WebhookHandler("http://127.0.0.1:9/none", timeout=1)])
    d = g.check_input("I am going to kill myself")
    assert d.action == "escalate" and d.text
    assert "escalation handler" in caplog.text


def test_missing_template_fails_at_load() -> None:
    with pytest.raises(PolicyError, match="no built-in template family named 'nosuch'"):
        Guard.from_policy(tier_policy(responses={"crisis": {"template": "nosuch"}}))


def test_unknown_instruction_id_fails_at_load() -> None:
    policy = tier_policy()
    policy["input"][0]["instructions"] = {"low": "safety_instr"}
    with pytest.raises(PolicyError, match=r"input\[0\]\.instructions\.low: unknown response id"):
        Guard.from_policy(policy)


# ---- wrong helplines in model replies ------------------------------------------------------------------
def helpline_guard() -> Guard:
    return Guard.from_policy({
        "name": "lines",
        "output": [{"type": "helplines", "directory": str(FIXTURES / "helplines.yaml"),
                    "category_actions": {"wrong_helpline": "rewrite", "outdated_helpline": "rewrite"}}],
    })


@pytest.mark.parametrize("locale, reply, expected", [
    ("en-GB", "Please call 911 right now.", "Please call 999 right now."),
    ("en-GB", "You can call the crisis hotline at 1-800-555-0199.", "You can call the crisis hotline at 116 123."),
    ("en-US", "Call the Samaritans on 116 123.", "Call the Samaritans on 988."),
    ("fr-FR", "Appelle le 988, c'est la ligne de crise.", "Appelle le 3114, c'est la ligne de crise."),
    ("en-US", "Call 1-800-273-8255 any time.", "Call 988 any time."),
])
def test_wrong_helpline_rewritten(locale: str, reply: str, expected: str) -> None:
    d = helpline_guard().check_output(reply, locale=locale)
    assert d.action == "rewrite" and d.text == expected
    assert d.findings[0].category in ("wrong_helpline", "outdated_helpline")


@pytest.mark.parametrize("locale, reply", [
    ("en-GB", "You can call Samaritans free on 116 123, or text SHOUT to 85258."),
    ("en-US", "Call or text 988, or dial 911 in an emergency."),
    ("en-GB", "In 1995 about 20 people came; take 2 breaths and count to 10."),
    ("en-GB", "The study had 4,000 participants and ran for 12 years."),
    ("fr-FR", "Le 3114 répond 24h/24. En urgence, fais le 112."),
])
def test_correct_or_non_phone_numbers_pass(locale: str, reply: str) -> None:
    d = helpline_guard().check_output(reply, locale=locale)
    assert d.action == "allow", d.findings


def test_unknown_country_flags_only_numbers_unknown_everywhere() -> None:
    g = helpline_guard()
    assert g.check_output("Call 988 now.", locale="en").action == "allow"
    d = g.check_output("Call the helpline on 0800 999 1234.", locale="en")
    assert d.action == "rewrite" and "findahelpline.com" in d.text  # type: ignore[operator]


def test_helplines_filter_is_output_only(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot run on input"):
        Guard.from_policy({"name": "x", "input": [{"type": "helplines"}]})
