"""Core overhead benchmark: not a test; prints figures and ratios measured in one process.

    python benchmarks/bench_core.py [--policy default] [--number 2000]

- ``wrap`` overhead: a no-op model called directly vs through ``guard.wrap`` (sync, and a sync stream).
- ``check_input`` on a 200-character message with the policy, against two baselines run in the same
  process on the same message: ONE stdlib ``re`` alternation of 250 escaped phrases with ``\\b`` and
  IGNORECASE, and a plain substring list of the same 250 phrases.
- linearity: ``check_input`` time per character at 200, 2,000 and 20,000 characters.
"""

from __future__ import annotations

import argparse
import re
import statistics
import timeit
from collections.abc import Callable

from mhguard import Guard

MESSAGE = (
    "Work has been really hard lately and my manager keeps piling on deadlines. I'm exhausted, I barely "
    "sleep, and honestly I don't know how much longer I can keep going like this. Any tips for coping?"
)[:200]


def baseline_phrases(n: int = 250) -> list[str]:
    # Phrases of the kind a crisis list holds, padded with numbered variants to reach n.
    seeds = ["kill myself", "want to die", "end my life", "suicide", "self harm", "cut myself",
             "overdose", "no reason to live", "better off dead", "hang myself", "jump off",
             "take my own life", "sleep forever", "hurt myself", "not be here"]
    out = list(seeds)
    i = 0
    while len(out) < n:
        out.append(f"{seeds[i % len(seeds)]} {i}")
        i += 1
    return out[:n]


def per_call(fn: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Best-of-repeat mean seconds per call (the minimum is the least noisy estimate)."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def paired(
    a: Callable[[], object], b: Callable[[], object], number: int, rounds: int = 9
) -> tuple[float, float, float]:
    """``a`` and ``b`` timed in alternating rounds, so a change of machine speed during the run (other
    processes, CPU clock) falls on both: best-of seconds per call of each, and the median per-round ratio."""
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(rounds):
        ta.append(timeit.timeit(a, number=number) / number)
        tb.append(timeit.timeit(b, number=number) / number)
    return min(ta), min(tb), statistics.median(x / y for x, y in zip(ta, tb, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="default")
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()
    n = args.number
    guard = Guard.from_policy(args.policy)

    def noop(prompt: str) -> str:
        return "Thanks for sharing. What helps you relax?"

    def noop_stream(prompt: str):  # type: ignore[no-untyped-def]
        yield "Thanks for sharing. "
        yield "What helps you relax?"

    wrapped, wrapped_stream = guard.wrap(noop), guard.wrap(noop_stream)
    phrases = baseline_phrases()
    alternation = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b", re.IGNORECASE)
    lowered = [p.lower() for p in phrases]

    direct = per_call(lambda: noop(MESSAGE), n)
    through = per_call(lambda: wrapped(MESSAGE), n)
    streamed = per_call(lambda: "".join(wrapped_stream(MESSAGE)), n)
    check, re_alt, median_ratio = paired(lambda: guard.check_input(MESSAGE), lambda: alternation.findall(MESSAGE), n)
    substr = per_call(lambda: [p for p in lowered if p in MESSAGE.lower()], n)

    print(f"policy: {guard.policy.name}; message: {len(MESSAGE)} characters; best of 5 x {n} calls\n")
    print("| measurement | µs per call | ratio |")
    print("|---|---|---|")
    print(f"| no-op model, direct | {direct * 1e6:.2f} | 1.00 |")
    print(f"| no-op model through guard.wrap (input + output check) | {through * 1e6:.1f} | "
          f"{through / direct:.0f}x direct |")
    print(f"| wrap overhead (wrapped - direct) | {(through - direct) * 1e6:.1f} | |")
    print(f"| no-op streaming model through guard.wrap | {streamed * 1e6:.1f} | |")
    print(f"| check_input, 200 chars | {check * 1e6:.1f} | {check / re_alt:.2f}x re alternation "
          f"(median of 9 alternating rounds: {median_ratio:.2f}x) |")
    print(f"| baseline: one re alternation of 250 phrases, \\b, IGNORECASE | {re_alt * 1e6:.1f} | 1.00 |")
    print(f"| baseline: substring list of 250 phrases | {substr * 1e6:.1f} | {substr / re_alt:.2f}x |")

    print("\nlinearity of check_input:")
    print("| characters | µs per call | ns per character |")
    print("|---|---|---|")
    per_char = []
    for size in (200, 2_000, 20_000):
        text = (MESSAGE + " ") * (size // (len(MESSAGE) + 1) + 1)
        text = text[:size]
        t = per_call(lambda text=text: guard.check_input(text), max(10, n * 200 // size))  # type: ignore[misc]
        per_char.append(t / size)
        print(f"| {size:,} | {t * 1e6:.1f} | {t / size * 1e9:.0f} |")
    print(f"\nper-character cost spread (max/min): {max(per_char) / min(per_char):.2f} "
          f"(median {statistics.median(per_char) * 1e9:.0f} ns/char)")

    print("\noutput check (replies) against the input check, per character:")
    print("| characters | check_output µs | check_input µs | output/input per character |")
    print("|---|---|---|---|")
    reply_seed = ("It sounds like a really heavy week. Many people feel this way when work piles up, and it makes "
                  "sense that you're tired. Would it help to talk through what's weighing on you most? ")
    for size in (1_000, 2_000, 4_000):
        reply = (reply_seed * (size // len(reply_seed) + 1))[:size]
        count = max(10, n * 200 // size)
        out_t = per_call(lambda reply=reply: guard.check_output(reply, user_text=MESSAGE), count)  # type: ignore[misc]
        in_t = per_call(lambda reply=reply: guard.check_input(reply), count)  # type: ignore[misc]
        print(f"| {size:,} | {out_t * 1e6:.0f} | {in_t * 1e6:.0f} | {out_t / in_t:.2f} |")


if __name__ == "__main__":
    main()
