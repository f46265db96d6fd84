"""Rough timing of ``mhguard.text.normalize`` (prints numbers only; no assertions).

Run: ``PYTHONPATH=src python benchmarks/bench_normalize.py``
"""

from __future__ import annotations

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
}


def per_call_us(text: str, number: int = 2000) -> float:
    def run() -> None:
        normalize(text).tokens  # noqa: B018 - the property is computed lazily

    return min(timeit.repeat(run, number=number, repeat=7)) / number * 1e6


def main() -> None:
    for name, text in MESSAGES.items():
        n = normalize(text)
        print(
            f"{name:22s} {len(text):4d} chars, {len(n.tokens):3d} tokens: "
            f"{per_call_us(text):7.1f} us per normalize()+tokens"
        )
    big = (MESSAGES["chat ASCII"] + " ") * (1_000_000 // (len(MESSAGES["chat ASCII"]) + 1))
    big_u = (MESSAGES["smart quotes + emoji"] + " ") * (1_000_000 // (len(MESSAGES["smart quotes + emoji"]) + 1))
    for name, text in [
        ("1 MB ASCII chat", big),
        ("1 MB smart quotes/emoji", big_u),
        ("100k repeated letter", "a" * 100_000),
        ("100k punctuation", "!?.,*" * 20_000),
        ("zero-width spam", "k\u200bi\u200dl\u2060l " * 50_000),
    ]:
        t0 = time.perf_counter()
        n = normalize(text)
        _ = n.tokens
        n.to_original(0, len(n.text))
        print(f"{name:24s} {len(text):8d} chars: {time.perf_counter() - t0:6.3f} s")


if __name__ == "__main__":
    main()
