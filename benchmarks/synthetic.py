"""Synthetic chat transcripts for throughput benchmarks (``mhguard scan``, ``bench_scale.py``).

    python benchmarks/synthetic.py --messages 10000 -o /tmp/transcripts.jsonl [--seed 1]

Every text is built from the templates below (written for this file; no dataset rows): ordinary chat,
everyday stress, idioms that only look risky, distress, and some crisis statements, as single user or
assistant messages and as multi-turn conversations. The mix is roughly what a wellbeing chatbot sees:
most messages carry no risk. The output has exactly ``--messages`` screened turns (user + assistant).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

OPENERS = ["Honestly,", "Ugh,", "So", "Hi,", "Hey there.", "Okay so", "Not sure how to say this, but", "Well,", ""]
SUBJECTS = ["work", "school", "my sister", "my landlord", "the new job", "my exams", "my partner", "my roommate",
            "my dad", "the commute", "this project", "my team lead", "the group chat", "my thesis"]
EVERYDAY = [
    "{o} {s} has been a lot this week and I'm tired.",
    "{o} I can't decide whether to talk to {s} about it or let it go.",
    "{o} what are some ways to sleep better when {s} keeps me up?",
    "{o} I had a good day today, {s} finally went well.",
    "{o} can you help me plan a weekend that is actually restful?",
    "{o} I keep procrastinating on {s} and then feeling guilty.",
    "{o} how do I say no to {s} without feeling bad?",
    "{o} any breathing exercises for when {s} stresses me out?",
]
IDIOMS = [
    "{o} {s} is killing me, but in a funny way.",
    "{o} I'm dying to see the new film this weekend.",
    "{o} I nearly died laughing at what {s} said.",
    "{o} how do I kill the process that froze my laptop?",
    "{o} that presentation slayed, I'm dead 😂",
]
DISTRESS = [
    "{o} I feel so alone lately and {s} doesn't notice.",
    "{o} everything feels pointless and I can't stop crying.",
    "{o} I'm exhausted, I barely sleep, and {s} makes it worse.",
    "{o} I feel like a burden to everyone around me.",
    "{o} nothing I do matters and I don't see it getting better.",
]
CRISIS = [
    "{o} sometimes I wish I could just not wake up.",
    "{o} I've been thinking about ending my life.",
    "{o} I don't want to be here anymore.",
    "{o} I have the pills ready and I'm going to take them tonight.",
    "{o} I started cutting myself again after {s} happened.",
    "{o} i want to kill myself",
]
REPLIES = [
    "That sounds really heavy. Would it help to talk through what is weighing on you most about {s}?",
    "It makes sense that you feel tired. Small steps, like a short walk, can help.",
    "Thank you for telling me. You're not alone in this; what usually helps you when {s} gets hard?",
    "Here is one idea: write down the three things about {s} that you can control this week.",
    "I'm an AI, not a therapist, but I'm glad to listen. How long has {s} felt like this?",
    "Many people find that a regular wind-down routine helps with sleep.",
]
# Mix of user texts by kind: mostly ordinary, as in real traffic.
USER_KINDS = [(EVERYDAY, 60), (IDIOMS, 12), (DISTRESS, 18), (CRISIS, 10)]


def _user(rng: random.Random) -> str:
    pools, weights = zip(*USER_KINDS, strict=True)
    template = rng.choice(rng.choices(pools, weights=weights)[0])
    return " ".join(template.format(o=rng.choice(OPENERS), s=rng.choice(SUBJECTS)).split())


def _reply(rng: random.Random) -> str:
    return rng.choice(REPLIES).format(s=rng.choice(SUBJECTS))


def generate(messages: int, seed: int = 1) -> list[dict[str, Any]]:
    """Rows with exactly ``messages`` screened turns: about half in conversations of 2 to 8 turns."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    left = messages
    while left > 0:
        kind = rng.random()
        rid = f"syn-{len(rows)}"
        if kind < 0.4 or left == 1:
            rows.append({"id": rid, "text": _user(rng)})
            left -= 1
        elif kind < 0.5:
            rows.append({"id": rid, "text": _reply(rng), "role": "assistant", "user_text": _user(rng)})
            left -= 1
        else:
            turns = min(left, rng.randint(2, 8))
            convo = [{"role": "system", "content": "You are a supportive wellbeing assistant."}]
            for i in range(turns):
                convo.append({"role": "user", "content": _user(rng)} if i % 2 == 0
                             else {"role": "assistant", "content": _reply(rng)})
            rows.append({"id": rid, "messages": convo})
            left -= turns
    return rows


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    rows = generate(args.messages, args.seed)
    write_jsonl(rows, args.output)
    print(f"{args.output}: {len(rows):,} rows, {args.messages:,} messages")


if __name__ == "__main__":
    main()
