"""Rough timing of ``mhguard.text.normalize`` (prints numbers only; no assertions).

Run: ``PYTHONPATH=src python benchmarks/bench_normalize.py [--number 1000] [--large-chars 1000000]``

Per-message times are CPU time (``time.process_time``), best of several repeats, so other load on the
machine disturbs them less. For scale, the same message is also searched with one stdlib ``re``
alternation of 250 phrases, the budget the whole check (normalise + match + decide) must stay under.
"""

from __future__ import annotations

import argparse
import random
import re
import time
import timeit

from mhguard.text.normalize import normalize

MESSAGES = {
    "plain ASCII": (
        "I have been feeling really low lately and honestly I do not know what to do anymore. "
        "Work is awful, sleep is worse, and my friends never text back, so most nights I just lie awake."
    ),
    "chat ASCII": (
        "im so tired of everything lately and i dont know what to do anymore, my friends dont get it and "
        "honestly i just want it all to stop. work is awful, sleep is worse, nobody notices me at all!!"
    ),
    "smart quotes + emoji": (
        "I’m so tired of everything lately and I don’t know what to do anymore 😞 my friends don’t get it "
        "and honestly I just want it all to stop. Work is awful, sleep is worse, nobody notices me at all."
    ),
    "obfuscated": (
        "im sooooo done with everything, i wanna k1ll myself tbh. s u i c i d e seems like the only way out "
        "and i cant stop thinking about it. nobody would even notice if i was gone, i really mean it."
    ),
    "Russian": (
        "Мне очень плохо в последнее время, и я честно не знаю, что делать дальше. Работа ужасная, сон ещё "
        "хуже, друзья не пишут, и почти каждую ночь я просто лежу без сна и думаю, что всё бессмысленно."
    ),
}


def cpu_us(func: object, number: int) -> float:
    timer = timeit.Timer(func, timer=time.process_time)  # type: ignore[arg-type]
    return min(timer.repeat(repeat=15, number=number)) / number * 1e6


def baseline_pattern() -> re.Pattern[str]:
    rng = random.Random(1)
    words = (
        "want to die kill myself end it all suicide hurt cut pills overdose hang jump bridge no reason to live "
        "better off dead wish i were never wake up goodbye note give away plan tonight"
    ).split()
    phrases: set[str] = set()
    while len(phrases) < 250:
        phrases.add(" ".join(rng.choice(words) for _ in range(rng.randint(2, 4))))
    return re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(phrases))) + r")\b", re.IGNORECASE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=1000, help="calls per timing of one message")
    parser.add_argument("--large-chars", type=int, default=1_000_000, help="size of the large inputs")
    args = parser.parse_args()
    number, big = max(1, args.number), max(1, args.large_chars)
    pattern = baseline_pattern()
    for name, text in MESSAGES.items():
        n = normalize(text)
        ours = cpu_us(lambda text=text: normalize(text).tokens, number)
        base = cpu_us(lambda text=text: pattern.search(text), max(1, number // 10))
        print(
            f"{name:22s} {len(text):4d} chars, {len(n.tokens):3d} tokens: {ours:6.1f} us per normalize()+tokens"
            f"  (250-phrase re alternation: {base:6.1f} us, ratio {ours / base:4.0%})"
        )
    chat = MESSAGES["chat ASCII"] + " "
    mixed = MESSAGES["smart quotes + emoji"] + " " + MESSAGES["Russian"] + " "
    tenth = max(1, big // 10)
    for name, text in [
        (f"{big:,} chars ASCII chat", (chat * (big // len(chat) + 1))[:big]),
        (f"{big:,} chars mixed scripts", (mixed * (big // len(mixed) + 1))[:big]),
        (f"{tenth:,} repeated letter", "a" * tenth),
        (f"{tenth:,} punctuation", "!?.,*'" * (tenth // 5)),
        ("zero-width/RTL spam", "k\u200bi\u200dl\u2060l \u202e" * (tenth // 5)),
    ]:
        t0 = time.perf_counter()
        n = normalize(text)
        _ = n.tokens
        n.to_original(0, len(n.text))
        print(f"{name:22s} {len(text):8d} chars: {time.perf_counter() - t0:6.3f} s")


if __name__ == "__main__":
    main()
