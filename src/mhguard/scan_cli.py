"""The ``mhguard scan`` subcommand: options and handler (the work is in :mod:`mhguard.scan_runner`).

Exit codes: 0 every row screened without error; 1 some rows or messages gave error records (listed in the
output and counted in the summary), or the scan could not run; 130 interrupted (run it again to resume).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_scan_parser"]

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130


def _cmd_scan(args: argparse.Namespace) -> int:
    from mhguard.scan_runner import ScanInterrupted, ScanOptions, format_summary, run_scan

    progress = "never" if args.quiet else args.progress
    options = ScanOptions(input=Path(args.transcripts), output=Path(args.output), policy=args.policy,
                          workers=args.workers, locale=args.locale, resume=args.resume,
                          include_text=args.include_text, progress=progress, chunk_size=args.chunk_size,
                          audit=Path(args.audit) if getattr(args, "audit", None) else None)
    try:
        summary: dict[str, Any] = run_scan(options)
    except ScanInterrupted as exc:
        print(f"mhguard scan: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    elif not args.quiet:
        print(format_summary(summary))
    return EXIT_ERROR if summary["errors"]["total"] else EXIT_OK


def add_scan_parser(sub: Any) -> None:
    """Add ``scan`` to the ``mhguard`` subcommands (``sub`` is argparse's subparsers object)."""
    scan = sub.add_parser(
        "scan", help="screen a JSONL file of messages or conversations on all cores (resumable)",
        description="Screen every user and assistant turn of TRANSCRIPTS.jsonl and write one decision record per "
                    "message to DECISIONS.jsonl (no message text unless --include-text) and a summary to "
                    "DECISIONS.summary.json. Row and record formats: docs/scan.md.")
    scan.add_argument("transcripts", help='JSONL rows: {"id"?, "text", "role"?, "history"?, "session"?, '
                                          '"locale"?} or {"id"?, "messages": [{"role", "content"}, ...]}')
    scan.add_argument("-o", "--output", required=True, help="decision records (JSONL, appended on resume)")
    scan.add_argument("--policy", default="default", help="built-in name or YAML path (default: default)")
    scan.add_argument("--workers", type=int, default=0,
                      help="worker processes (default 0: one per core; 1: no pool, in this process)")
    scan.add_argument("--locale", default=None, help="BCP-47 locale for rows without their own")
    scan.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                      help="continue an interrupted scan of the same input into the same output (default), or "
                           "start the output over with --no-resume")
    scan.add_argument("--include-text", action="store_true",
                      help="also write each message and the response text into the records (off by default)")
    scan.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                      help="progress on stderr: auto (only on a terminal), always, never")
    scan.add_argument("--quiet", action="store_true", help="no progress and no printed summary")
    scan.add_argument("--json", action="store_true", help="print the summary as JSON")
    scan.add_argument("--chunk-size", type=int, default=64, help="rows per task sent to a worker (default 64)")
    scan.add_argument("--audit", default=None,
                      help="also record every decision in this audit sink (.jsonl or .db; no raw text)")
    scan.set_defaults(func=_cmd_scan)
