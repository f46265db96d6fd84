"""A toy chatbot wrapped with mhguard's default policy.

Run:  python examples/quickstart.py
Shows a normal reply, a crisis answered WITHOUT calling the model, and a model reply rewritten in place.
"""

from __future__ import annotations

from mhguard import Decision, Guard

guard = Guard.from_policy("default")
model_calls: list[str] = []


def log_decision(decision: Decision) -> None:
    # Hooks see every decision; to_dict(include_text=False) keeps the person's words out of logs.
    info = decision.to_dict(include_text=False)
    print(f"    [{info['stage']}] action={info['action']} risk={info['risk']} "
          f"rules={[f['rule_id'] for f in info['findings']]}")


guard.add_hook(log_decision)


@guard
def toy_chatbot(prompt: str) -> str:
    """Stands in for an LLM call."""
    model_calls.append(prompt)
    if "uncle" in prompt:
        return "I'm so sorry. When someone has committed suicide, grief can feel overwhelming."
    return "That sounds like a lovely plan. Tell me more!"


for message in (
    "I'm going hiking with friends this weekend.",
    "I can't do this anymore. I'm going to kill myself tonight.",
    "My uncle died last year and I still think about him.",
):
    print(f"user:  {message}")
    calls_before = len(model_calls)
    # A session id lets mhguard disclose that this is an AI once per session, not on every reply.
    reply = toy_chatbot(message, mhguard_session="demo-user", mhguard_locale="en-GB")
    called = "model called" if len(model_calls) > calls_before else "model NOT called"
    print(f"bot:   {reply}\n       ({called})\n")
