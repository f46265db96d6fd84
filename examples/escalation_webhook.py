"""A chatbot with human escalation through a webhook and localized crisis responses.

Run:  python examples/escalation_webhook.py

A tiny local HTTP server stands in for the on-call team's webhook. When a person's risk reaches the
policy's escalation threshold (default: high), the guard posts an event (tier, categories, rule ids,
session id, locale; no message text) to it, and the person gets a crisis response in their language with
the crisis lines of their country, without the model being called.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from mhguard import Guard
from mhguard.escalation import WebhookHandler


class OnCallTeam(BaseHTTPRequestHandler):
    """Prints what the on-call team would receive."""

    def do_POST(self) -> None:
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        print(f"    >>> on-call webhook: tier={event['tier']} categories={event['categories']} "
              f"session={event['session_id']} locale={event['locale']} text included: {'text' in event}")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


server = HTTPServer(("127.0.0.1", 0), OnCallTeam)
threading.Thread(target=server.serve_forever, daemon=True).start()
webhook = WebhookHandler(f"http://127.0.0.1:{server.server_address[1]}/mhguard", timeout=5)

guard = Guard.from_policy("default", escalation_handlers=[webhook])


@guard
def chatbot(messages: list[dict[str, str]]) -> str:
    """Stands in for an LLM call."""
    return "Thanks for sharing that with me. What would help most right now?"


conversations = [
    ("user-gb", "en-GB", "I've been saving my pills and I'm going to take them all tonight."),
    ("user-es", "es-ES", "I'm going to kill myself tonight."),
    ("user-br", "pt-BR", "I wrote my goodbye letters. Tonight is the night."),
    ("user-us", "en-US", "Work was long today but I'm okay."),
]
for session_id, locale, text in conversations:
    print(f"[{locale}] user: {text}")
    reply = chatbot([{"role": "user", "content": text}], mhguard_session=session_id, mhguard_locale=locale)
    print("bot:  " + reply.replace("\n", "\n      ") + "\n")

server.shutdown()
