"""Scale benchmark: not a test; prints one markdown table of figures and ratios measured in ONE run.

    python benchmarks/bench_scale.py [--policy default] [--number 200] [--messages 2000] [--workers 1,2]
                                     [--no-scan] [--no-full-alternation]

Every mhguard figure sits next to two baselines measured in the same run on the same texts:

- ``re``: ONE stdlib ``re`` alternation with ``\\b`` and IGNORECASE of as many phrases as the built-in
  lexicons hold as written (input: the ``en`` crisis lexicon; output: ``safe_messaging`` + ``scope``), each
  phrase its first literal expansion;
- ``substr``: a plain substring list of the same phrases on the lower-cased text.

Rows: input check, output check, streaming (a reply in 12 pieces through ``guard.wrap``), policy load (a
fresh process), memory (tracemalloc peak and peak RSS of a fresh process that builds the guard, against one
that compiles the alternation), batch throughput (``mhguard scan`` with each ``--workers`` value against a
one-process JSONL loop with the ``re`` alternation). ``--full-alternation`` (default on) adds the ``re``
alternation of EVERY literal expansion of the input lexicon, which is what matching the same surface as
mhguard with one regex would take (measured on a handful of calls: it is slow).

Texts come from ``benchmarks/synthetic.py`` (templates, no dataset rows). Timings are best-of-3 means, so
other load on the machine matters less; ratios are what to compare between machines.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from synthetic import generate, write_jsonl

from mhguard import Guard
from mhguard.scan_runner import ScanOptions, run_scan


# ---- baselines ------------------------------------------------------------------------------------------
def lexicon_phrases(names: Sequence[str], *, every_variant: bool = False) -> list[str]:
    """One literal phrase per written phrase of the named built-in lexicons (or every literal expansion)."""
    from mhguard.lexicon.loader import load_lexicon
    from mhguard.lexicon.phrase import GAP

    out: dict[str, None] = {}
    for name in names:
        for rule in load_lexicon(name).rules:
            seen: set[int] = set()
            for index, variant in rule.variants:
                if any(kind == GAP for kind, _ in variant) or (index in seen and not every_variant):
                    continue
                seen.add(index)
                out[" ".join(word for _, word in variant)] = None
    return list(out)


class Baselines:
    def __init__(self, phrases: Sequence[str]) -> None:
        self.count = len(phrases)
        # Longest first, so the alternation prefers the longer phrase as a trie would.
        ordered = sorted(phrases, key=len, reverse=True)
        self.pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, ordered)) + r")\b", re.IGNORECASE)
        self.lowered = [p.lower() for p in phrases]

    def regex(self, text: str) -> object:
        return self.pattern.findall(text)

    def substr(self, text: str) -> object:
        low = text.lower()
        return [p for p in self.lowered if p in low]


def per_item(fn: Callable[[str], object], texts: Sequence[str], repeat: int = 3) -> float:
    """Best-of-repeat mean seconds per text over ``texts``."""
    def run() -> None:
        for text in texts:
            fn(text)
    return min(timeit.repeat(run, number=1, repeat=repeat)) / len(texts)


# ---- texts ----------------------------------------------------------------------------------------------
def sample_texts(number: int) -> tuple[list[str], list[tuple[str, str]]]:
    """``number`` user messages and ``number`` (reply, user text) pairs from the synthetic generator."""
    users: list[str] = []
    replies: list[tuple[str, str]] = []
    seed = 7
    while len(users) < number or len(replies) < number:
        for row in generate(200, seed=seed):
            turns = row.get("messages") or [{"role": row.get("role", "user"), "content": row["text"]}]
            last_user = row.get("user_text", "")
            for turn in turns:
                if turn["role"] == "user":
                    users.append(turn["content"])
                    last_user = turn["content"]
                elif turn["role"] == "assistant":
                    # Replies are longer than user turns; join three templates into one reply.
                    replies.append((" ".join([turn["content"]] * 3), last_user))
        seed += 1
    return users[:number], replies[:number]


def pieces(text: str, n: int = 12) -> list[str]:
    step = max(1, len(text) // n)
    return [text[i:i + step] for i in range(0, len(text), step)]


# ---- fresh-process measurements -------------------------------------------------------------------------
_CHILD = r"""
import json, resource, sys, time, tracemalloc
mode, arg, trace = sys.argv[1], sys.argv[2], sys.argv[3] == "trace"
if mode == "guard":
    from mhguard import Guard
else:
    import re
    # The baseline process never imports mhguard: its phrases come from a file.
    phrases = json.load(open(arg, encoding="utf-8")) if arg != "none" else []
if trace:
    tracemalloc.start()
start = time.perf_counter()
if mode == "guard":
    obj = Guard.from_policy(arg)
    obj.check_input("warm up: I am tired")
else:
    ordered = sorted(phrases, key=len, reverse=True)
    obj = re.compile(r"\b(?:" + "|".join(map(re.escape, ordered)) + r")\b", re.IGNORECASE)
    obj.findall("warm up: I am tired")
seconds = time.perf_counter() - start
# ru_maxrss survives exec, so it would report the parent's peak; VmHWM belongs to this process image.
try:
    status = open("/proc/self/status", encoding="ascii").read()
    peak_kb = int(status.split("VmHWM:")[1].split()[0])
except (OSError, IndexError):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {"seconds": seconds, "maxrss_kb": peak_kb}
if trace:
    current, peak = tracemalloc.get_traced_memory()
    out.update(current=current, peak=peak)
print(json.dumps(out))
"""


def fresh_process(mode: str, arg: str, *, trace: bool) -> dict[str, Any]:
    """Measure in a new interpreter, so that nothing built earlier in this run is reused or counted."""
    if mode == "guard" and Path(arg).exists():
        arg = str(Path(arg).resolve())
    done = subprocess.run([sys.executable, "-c", _CHILD, mode, arg, "trace" if trace else "plain"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ---- batch ----------------------------------------------------------------------------------------------
def regex_jsonl_loop(path: Path, base: Baselines, out: Path) -> int:
    """The simplest batch screen: read rows, run the alternation on every turn, write a JSON line each."""
    count = 0
    with path.open(encoding="utf-8") as f, out.open("w", encoding="utf-8") as w:
        for line in f:
            row = json.loads(line)
            turns = row.get("messages") or [{"role": row.get("role", "user"), "content": row["text"]}]
            for i, turn in enumerate(turns):
                if turn["role"] in ("user", "assistant"):
                    w.write(json.dumps({"id": row.get("id"), "turn": i, "hits": base.regex(turn["content"])}) + "\n")
                    count += 1
    return count


# ---- table ----------------------------------------------------------------------------------------------
class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def add(self, what: str, value: str, ratio: str = "") -> None:
        self.rows.append((what, value, ratio))

    def lines(self) -> Iterator[str]:
        yield "| measurement | value | ratio |"
        yield "|---|---|---|"
        for row in self.rows:
            yield "| " + " | ".join(row) + " |"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs"


def ratio(a: float, b: float, name: str) -> str:
    return f"{a / b:.2f}x {name}" if b > 0 else "-"


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="default")
    parser.add_argument("--number", type=int, default=200, help="texts per timing (default 200)")
    parser.add_argument("--messages", type=int, default=2000, help="messages for the batch rows (default 2000)")
    parser.add_argument("--workers", default="1,2", help="comma-separated --workers values for the batch rows")
    parser.add_argument("--scan", action=argparse.BooleanOptionalAction, default=True, help="batch rows")
    parser.add_argument("--full-alternation", action=argparse.BooleanOptionalAction, default=True,
                        help="also time an re alternation of every literal expansion of the input lexicon")
    args = parser.parse_args(list(argv) if argv is not None else None)
    n = max(1, args.number)

    table = Table()
    phrases_in = lexicon_phrases(["en"])
    tmpdir = tempfile.TemporaryDirectory()
    phrase_file = Path(tmpdir.name) / "phrases.json"
    phrase_file.write_text(json.dumps(phrases_in), encoding="utf-8")
    load = fresh_process("guard", args.policy, trace=False)
    load_re = fresh_process("regex", str(phrase_file), trace=False)
    guard = Guard.from_policy(args.policy)
    users, replies = sample_texts(n)
    base_in = Baselines(phrases_in)
    base_out = Baselines(lexicon_phrases(["safe_messaging", "scope"]))

    t_in = per_item(guard.check_input, users)
    re_in, sub_in = per_item(base_in.regex, users), per_item(base_in.substr, users)
    table.add(f"input check ({n} messages, mean {sum(map(len, users)) / n:.0f} chars)", us(t_in),
              ratio(t_in, re_in, "re"))
    table.add(f"  baseline: re alternation of {base_in.count:,} phrases", us(re_in), "1.00x re")
    table.add(f"  baseline: substring list of {base_in.count:,} phrases", us(sub_in), ratio(sub_in, re_in, "re"))
    if args.full_alternation:
        every = Baselines(lexicon_phrases(["en"], every_variant=True))
        sample = users[: max(1, min(5, n))]
        re_all = per_item(every.regex, sample, repeat=1)
        table.add(f"  baseline: re alternation of all {every.count:,} literal expansions ({len(sample)} calls)",
                  us(re_all), ratio(re_all, re_in, "re"))

    reply_texts = [r for r, _ in replies]
    t_out = min(timeit.repeat(lambda: [guard.check_output(r, user_text=u) for r, u in replies], number=1,
                              repeat=3)) / n
    re_out, sub_out = per_item(base_out.regex, reply_texts), per_item(base_out.substr, reply_texts)
    table.add(f"output check ({n} replies, mean {sum(map(len, reply_texts)) / n:.0f} chars)", us(t_out),
              ratio(t_out, re_out, "re"))
    table.add(f"  baseline: re alternation of {base_out.count:,} phrases", us(re_out), "1.00x re")
    table.add(f"  baseline: substring list of {base_out.count:,} phrases", us(sub_out),
              ratio(sub_out, re_out, "re"))

    def model(prompt: str, reply: str) -> Iterator[str]:
        yield from pieces(reply)

    wrapped = guard.wrap(model)
    t_stream = min(timeit.repeat(lambda: ["".join(wrapped(u, r)) for r, u in replies], number=1, repeat=3)) / n
    t_plain = min(timeit.repeat(lambda: ["".join(model(u, r)) for r, u in replies], number=1, repeat=3)) / n
    table.add("streaming: a reply in 12 pieces through guard.wrap (input + output)", us(t_stream),
              ratio(t_stream, re_in + re_out, "re (input + output)"))
    table.add("  the same stream without mhguard", us(t_plain), ratio(t_plain, re_in + re_out, "re"))

    table.add(f"policy load: Guard.from_policy({args.policy!r}) in a fresh process", f"{load['seconds']:.2f} s",
              ratio(load["seconds"], load_re["seconds"], "re compile"))
    table.add(f"  baseline: compile the {base_in.count:,}-phrase re alternation", f"{load_re['seconds']:.3f} s",
              "1.00x re compile")
    mem = fresh_process("guard", args.policy, trace=True)
    mem_re = fresh_process("regex", str(phrase_file), trace=True)
    idle = fresh_process("regex", "none", trace=True)
    table.add("memory: tracemalloc peak while building the guard", f"{mem['peak'] / 2**20:.1f} MiB",
              ratio(mem["peak"], mem_re["peak"], "re"))
    table.add("  retained after building (tracemalloc current)", f"{mem['current'] / 2**20:.1f} MiB",
              ratio(mem["current"], mem_re["current"], "re"))
    table.add("  baseline: tracemalloc peak compiling the re alternation", f"{mem_re['peak'] / 2**20:.1f} MiB",
              "1.00x re")
    table.add("memory: peak RSS of the process", f"{mem['maxrss_kb'] / 1024:.0f} MiB",
              ratio(mem["maxrss_kb"], mem_re["maxrss_kb"], "re"))
    table.add("  baseline: peak RSS with the re alternation", f"{mem_re['maxrss_kb'] / 1024:.0f} MiB",
              f"(an idle interpreter: {idle['maxrss_kb'] / 1024:.0f} MiB)")

    if args.scan:
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "transcripts.jsonl"
            write_jsonl(generate(args.messages, seed=3), source)
            start = time.perf_counter()
            count = regex_jsonl_loop(source, base_in, Path(tmp) / "regex.jsonl")
            re_rate = count / (time.perf_counter() - start)
            table.add(f"batch baseline: one-process JSONL loop with the re alternation ({count:,} messages)",
                      f"{re_rate:,.0f} messages/s", "1.00x re")
            for workers in (int(w) for w in args.workers.split(",") if w.strip()):
                out = Path(tmp) / f"scan-{workers}.jsonl"
                summary = run_scan(ScanOptions(source, out, policy=args.policy, workers=workers, resume=False,
                                               progress="never"), stderr=io.StringIO())
                run = summary["run"]
                rate = run["messages_per_second"] or 0.0
                after = run["messages_per_second_after_startup"]
                table.add(f"batch: mhguard scan --workers {workers} ({run['messages']:,} messages, incl. "
                          f"{run['startup_seconds']:.1f} s start-up)", f"{rate:,.0f} messages/s",
                          f"{ratio(rate, re_rate, 're')}; CPU/wall {run['cpu_seconds'] / run['seconds']:.2f}")
                if after:
                    table.add("  the same after start-up", f"{after:,.0f} messages/s", ratio(after, re_rate, "re"))

    tmpdir.cleanup()
    print(f"policy: {guard.policy.name}; best of 3; synthetic texts (benchmarks/synthetic.py)\n")
    print("\n".join(table.lines()))


if __name__ == "__main__":
    main()
