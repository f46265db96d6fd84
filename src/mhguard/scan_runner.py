"""``mhguard scan``: screen a JSONL file of transcripts on every core, resumably.

How it works: the main process reads the input lines, sends them in chunks to a pool of worker processes
(each builds its :class:`~mhguard.guard.Guard` once, in the pool initializer; on Linux the pool forks
after the lexicons were built once here, so workers start at once, see :func:`_pool_context`), and writes
each chunk's records to
the output in input order, in one write, as soon as the chunk and every chunk before it are done. At most
a few chunks per worker are in flight, so memory stays constant however large the input is.

Resuming: the output is append-only and every record carries its input ``line``, ``record_index`` and
``row_records``. On resume the output is read back, a torn last line or a row cut off by a crash is
truncated, and the scan continues after the last complete row (after checking that the input row there
still has the same id and the policy is the same). See ``docs/scan.md``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from pydantic import SecretStr

from mhguard.audit import AuditSink, open_sink, sink_kind
from mhguard.errors import MhguardError
from mhguard.guard import Guard
from mhguard.policy.loader import Policy, load_policy
from mhguard.scan import ScanCounts, row_id, screen_record
from mhguard.scan_progress import open_progress, wants_total

__all__ = ["ScanError", "ScanInterrupted", "ScanOptions", "format_summary", "run_scan", "summarize_file",
           "summary_path"]


class ScanError(MhguardError, RuntimeError):
    """The scan cannot start or continue: unreadable files, an output that does not match the input."""


class ScanInterrupted(MhguardError):
    """Ctrl-C: every row written so far is complete; running the same command again resumes."""


@dataclass(frozen=True)
class ScanOptions:
    input: Path
    output: Path
    policy: str = "default"
    workers: int = 0
    """Worker processes; 0 means one per available core; 1 screens in this process (no pool)."""
    locale: str | None = None
    resume: bool = True
    include_text: bool = False
    progress: str = "auto"
    chunk_size: int = 64
    audit: Path | None = None
    """An audit sink path (``.jsonl`` or ``.db``): one audit record per screened message."""


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def summary_path(output: Path) -> Path:
    """``DECISIONS.jsonl`` -> ``DECISIONS.summary.json``."""
    stem = output.name[: -len(".jsonl")] if output.name.endswith(".jsonl") else output.name
    return output.with_name(stem + ".summary.json")


# ---- the worker side ----------------------------------------------------------------------------------
@dataclass
class _WorkerState:
    guard: Guard | None = None
    error: str | None = None
    locale: str | None = None
    include_text: bool = False
    audit: AuditSink | None = None


_STATE = _WorkerState()


@dataclass(frozen=True)
class _ChunkResult:
    pid: int
    policy: str
    payload: bytes
    rows: int
    messages: int


def _exit_when_orphaned(parent: int) -> None:
    # A pool worker blocks on its task queue forever if the parent is killed (SIGKILL, OOM killer).
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(policy: str, locale: str | None, include_text: bool, parent: int | None,
                 audit: tuple[str, str] | None = None) -> None:
    """Build this process's guard once. A failure is kept and reported by the first chunk, because an
    exception in a pool initializer only breaks the pool without saying why."""
    if parent is not None:
        # Ctrl-C reaches the whole process group; only the parent handles it (and stops cleanly).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    _STATE.locale, _STATE.include_text = locale, include_text
    try:
        loaded = load_policy(policy)
    except Exception as exc:
        _STATE.error = f"cannot load policy {policy!r}: {exc}"
        return
    try:
        _STATE.audit = _open_audit(loaded, audit) if audit is not None else None
        # audit=None lets a policy's own ``audit:`` section apply, as it does for any Guard.
        _STATE.guard = Guard(loaded, audit=_STATE.audit)
    except Exception as exc:
        _STATE.error = f"cannot open the audit sink: {exc}"


def _open_audit(policy: Policy, audit: tuple[str, str]) -> AuditSink:
    """The policy's audit settings with the scan's path. Every worker hashes texts with the same salt (the
    configured one, else one drawn for this run) so hashes stay comparable across workers. Records are
    fsynced per chunk rather than per record; a chunk's audit records are durable before its decisions are
    written to the output."""
    path, run_salt = audit
    settings = policy.document.audit
    update: dict[str, Any] = {"fsync": "batch"}
    if settings.salt is None and not os.environ.get(settings.salt_env):
        update["salt"] = SecretStr(run_salt)
    return open_sink(path, settings=settings.model_copy(update=update))


def _screen_chunk(chunk: list[tuple[int, bytes]]) -> _ChunkResult:
    if _STATE.guard is None:
        raise ScanError(_STATE.error or "the scan worker was not initialised")
    guard = _STATE.guard
    parts: list[str] = []
    messages = 0
    for line, raw in chunk:
        for record in screen_record(guard, raw, line=line, locale=_STATE.locale, include_text=_STATE.include_text):
            messages += record["action"] is not None
            parts.append(json.dumps(record, ensure_ascii=False))
            parts.append("\n")
    if _STATE.audit is not None:
        _STATE.audit.flush()
    return _ChunkResult(os.getpid(), guard.policy.name, "".join(parts).encode("utf-8"), len(chunk), messages)


# ---- the main side ------------------------------------------------------------------------------------
class _InlineExecutor:
    """``--workers 1``: the same chunk function, in this process, without a pool to start."""

    def __init__(self, options: ScanOptions, audit: tuple[str, str] | None) -> None:
        _init_worker(options.policy, options.locale, options.include_text, None, audit)

    def submit(self, fn: Callable[[list[tuple[int, bytes]]], _ChunkResult],
               chunk: list[tuple[int, bytes]]) -> Future[_ChunkResult]:
        future: Future[_ChunkResult] = Future()
        try:
            future.set_result(fn(chunk))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if _STATE.audit is not None:
            _STATE.audit.close()
        _STATE.guard = _STATE.audit = None


@dataclass
class _ResumePoint:
    last_line: int = 0
    last_id: Any = None
    rows: int = 0
    policy: str | None = None
    include_text: bool | None = None
    truncated: int = 0


def _bad_output(path: Path, number: int, why: str) -> ScanError:
    return ScanError(f"{path}:{number}: {why}; this file was not written by 'mhguard scan' or was edited. "
                     "Use --no-resume to start it over, or another -o file")


def _read_resume_point(path: Path) -> _ResumePoint:
    """Check the existing output, truncate an incomplete tail, and say where to continue."""
    point = _ResumePoint()
    good_end = offset = 0
    group: tuple[int, int] | None = None  # (line, row_records) of the row being read
    seen = 0
    with path.open("r+b") as f:
        for number, raw in enumerate(f, start=1):
            record: Any = None
            if raw.endswith(b"\n"):
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = None
            fields = record if isinstance(record, dict) else {}
            line, index, count = fields.get("line"), fields.get("record_index"), fields.get("row_records")
            if not (isinstance(line, int) and isinstance(index, int) and isinstance(count, int) and count > 0):
                if f.read(1):
                    raise _bad_output(path, number, "not a complete decision record")
                break  # a torn last line: the crash happened while it was written
            if index == 0:
                if group is not None and seen != group[1]:
                    raise _bad_output(path, number, f"the row of input line {group[0]} is incomplete")
                if line <= point.last_line:
                    raise _bad_output(path, number, f"input line {line} comes after line {point.last_line}")
                group, seen = (line, count), 0
            elif group is None or line != group[0] or index != seen:
                raise _bad_output(path, number, "records of a row are out of order")
            seen += 1
            offset += len(raw)
            policy, has_text = str(fields.get("policy")), "text" in fields
            if point.policy is None:
                point.policy, point.include_text = policy, has_text
            elif (policy, has_text) != (point.policy, point.include_text):
                raise _bad_output(path, number, "records of different policies or --include-text settings")
            if seen == group[1]:
                good_end = offset
                point.last_line, point.last_id, point.rows = line, fields.get("id"), point.rows + 1
        size = f.seek(0, os.SEEK_END)
        if good_end < size:
            f.truncate(good_end)
            point.truncated = size - good_end
    return point


def _input_chunks(path: Path, point: _ResumePoint, size: int) -> Iterator[list[tuple[int, bytes]]]:
    """Non-blank input lines after the resume point, in chunks, checking the resume point is still there."""
    chunk: list[tuple[int, bytes]] = []
    number = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if number <= point.last_line:
                if number == point.last_line and row_id(raw) != point.last_id:
                    raise ScanError(f"{path}:{number}: the row has id {row_id(raw)!r} but the output's last "
                                    f"row from this line has id {point.last_id!r}: the input changed since "
                                    "the output was written. Use --no-resume to start over")
                continue
            if not raw.strip():
                continue
            chunk.append((number, raw))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if number < point.last_line:
        raise ScanError(f"{path} has {number} lines but the output already has rows up to line "
                        f"{point.last_line}: wrong input, or use --no-resume")
    if chunk:
        yield chunk


def _count_rows(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for raw in f if raw.strip())


def _write_all(out: IO[bytes], data: bytes) -> None:
    # One chunk's rows in as few write calls as the OS allows, flushed; a crash can tear only the tail,
    # which the next resume truncates.
    view = memoryview(data)
    while view:
        written = out.write(view)
        view = view[written or 0:]
    out.flush()


def summarize_file(path: Path) -> ScanCounts:
    """Counts over every record of a scan output (constant memory)."""
    counts = ScanCounts()
    with path.open("rb") as f:
        for raw in f:
            if raw.strip():
                counts.add(json.loads(raw))
    return counts


@dataclass
class _RunStats:
    rows: int = 0
    messages: int = 0
    pids: set[int] = field(default_factory=set)
    policy: str | None = None
    first_at: float | None = None  # when the first chunk came back: start-up (guard builds) is over
    first_messages: int = 0


def _pool_context(policy: str) -> multiprocessing.context.BaseContext:
    """``fork`` on Linux, after building the policy's lexicons once here: the workers inherit the compiled
    lexicons (the module caches), so starting a worker costs milliseconds instead of the seconds a build
    takes. ``spawn`` elsewhere (and with ``MHGUARD_SCAN_START=spawn``): each worker builds its own.

    Fork is safe here because the parent holds no lock-taking threads when the pool starts (the progress
    bar's monitor thread is switched off, see :mod:`mhguard.scan_progress`) and the warm-up guard opens no
    audit sink, database or file.
    """
    method = os.environ.get("MHGUARD_SCAN_START", "fork" if sys.platform.startswith("linux") else "spawn")
    if method == "fork" and "fork" in multiprocessing.get_all_start_methods():
        try:
            Guard(load_policy(policy), audit=False)  # fills the lexicon caches the workers inherit
        except Exception:  # the workers report a broken policy, with its reason
            pass
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _run_chunks(options: ScanOptions, workers: int, chunks: Iterable[list[tuple[int, bytes]]], out: IO[bytes],
                point: _ResumePoint, on_progress: Callable[[int, int], None]) -> _RunStats:
    stats = _RunStats()
    audit = (str(options.audit), secrets.token_hex(32)) if options.audit is not None else None
    executor: ProcessPoolExecutor | _InlineExecutor
    if workers == 1:
        executor = _InlineExecutor(options, audit)
    else:
        executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=_pool_context(options.policy), initializer=_init_worker,
            initargs=(options.policy, options.locale, options.include_text, os.getpid(), audit))
    pending: deque[Future[_ChunkResult]] = deque()
    window = 1 if workers == 1 else 3 * workers

    def take() -> None:
        result = pending.popleft().result()
        if stats.policy is None:
            stats.policy = result.policy
            if point.policy is not None and point.policy != result.policy:
                raise ScanError(f"{options.output} was written with policy {point.policy!r}, this scan uses "
                                f"{result.policy!r}. Use --no-resume to start over, or another -o file")
        _write_all(out, result.payload)
        stats.rows += result.rows
        stats.messages += result.messages
        stats.pids.add(result.pid)
        if stats.first_at is None:
            stats.first_at, stats.first_messages = time.perf_counter(), result.messages
        on_progress(result.rows, result.messages)

    try:
        for chunk in chunks:
            pending.append(executor.submit(_screen_chunk, chunk))
            while len(pending) >= window:
                take()
        while pending:
            take()
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    return stats


def run_scan(options: ScanOptions, *, stderr: TextIO | None = None) -> dict[str, Any]:
    """Screen ``options.input`` into ``options.output``; write and return the summary."""
    stderr = stderr if stderr is not None else sys.stderr
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    source, output = Path(options.input), Path(options.output)
    if not source.is_file():
        raise ScanError(f"input not found: {source}")
    if output.exists() and output.resolve() == source.resolve():
        raise ScanError("the output file must not be the input file")
    if options.chunk_size < 1:
        raise ScanError("--chunk-size must be at least 1")
    if options.audit is not None:
        sink_kind(options.audit)  # a wrong suffix fails here, before any worker starts
    workers = options.workers if options.workers > 0 else default_workers()
    point = _ResumePoint()
    if options.resume and output.exists():
        point = _read_resume_point(output)
        if point.include_text is not None and point.include_text != options.include_text:
            raise ScanError(f"{output} was written {'with' if point.include_text else 'without'} --include-text; "
                            "use the same setting to resume, or --no-resume")
        if point.truncated:
            stderr.write(f"mhguard scan: dropped an incomplete last row ({point.truncated} bytes) from {output}\n")
        if point.rows:
            stderr.write(f"mhguard scan: resuming after input line {point.last_line} "
                         f"({point.rows:,} rows already done)\n")
    output.parent.mkdir(parents=True, exist_ok=True)
    total = _count_rows(source) if wants_total(options.progress, stderr) else None
    progress = open_progress(options.progress, stderr, total=total, initial=point.rows)
    mode = "ab" if options.resume else "wb"
    try:
        with output.open(mode, buffering=0) as out:
            stats = _run_chunks(options, workers, _input_chunks(source, point, options.chunk_size), out, point,
                                progress.update)
            os.fsync(out.fileno())
    except KeyboardInterrupt:
        progress.close()
        raise ScanInterrupted(f"interrupted; the rows written to {output} are complete: run the same command "
                              "again to resume") from None
    progress.close()
    end = time.perf_counter()
    seconds = end - start
    startup = (stats.first_at - start) if stats.first_at is not None else seconds
    steady = end - stats.first_at if stats.first_at is not None else 0.0
    counts = summarize_file(output)
    summary: dict[str, Any] = {
        "input": str(source), "output": str(output),
        "policy": stats.policy or point.policy or options.policy,
        **counts.to_dict(),
        "run": {"rows": stats.rows, "messages": stats.messages, "resumed_after_rows": point.rows,
                "truncated_bytes": point.truncated, "workers": workers, "worker_processes": len(stats.pids),
                "seconds": round(seconds, 3), "cpu_seconds": round(_cpu_seconds() - cpu_start, 3),
                "messages_per_second": round(stats.messages / seconds, 1) if seconds > 0 else None,
                # The rate once the workers have built their guards: what a longer scan converges to.
                "startup_seconds": round(startup, 3),
                "messages_per_second_after_startup":
                    round((stats.messages - stats.first_messages) / steady, 1) if steady > 0 else None},
    }
    target = summary_path(output)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    summary["summary_file"] = str(target)
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a few human-readable lines."""
    run, errors = summary["run"], summary["errors"]
    lines = [
        f"{summary['output']}: {summary['messages']:,} messages screened in {summary['rows']:,} rows "
        f"(policy {summary['policy']})",
        f"this run: {run['messages']:,} messages in {run['rows']:,} rows, {run['seconds']:.1f} s, "
        f"{run['messages_per_second'] or 0:,.0f} messages/s ({run['messages_per_second_after_startup'] or 0:,.0f} "
        f"after {run['startup_seconds']:.1f} s start-up), {run['worker_processes']} worker process(es), "
        f"{run['cpu_seconds']:.1f} s CPU",
        f"errors: {errors['invalid_rows']:,} invalid rows, {errors['message_errors']:,} message errors, "
        f"{errors['filter_errors']:,} filter errors",
    ]
    for stage, counts in summary["stages"].items():
        for key in ("risk", "action", "category"):
            values = counts.get(f"by_{key}") or {}
            if values:
                shown = ", ".join(f"{name} {n:,}" for name, n in values.items())
                lines.append(f"{stage} by {key}: {shown}")
    lines.append(f"summary: {summary.get('summary_file', summary_path(Path(summary['output'])))}")
    return "\n".join(lines)
