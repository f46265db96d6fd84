"""The ``mhguard`` command.

Exit codes:
  0  success; for ``check``, the text is allowed (allow, annotate or rewrite)
  1  an error: invalid policy (``lint``), unreadable input, bad JSON line
  2  usage error (unknown command or option)
  3  ``check`` on one text: the decision blocks or escalates
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from mhguard.errors import MhguardError, PolicyError
from mhguard.guard import Guard
from mhguard.policy.loader import builtin_policy_names, load_policy
from mhguard.types import Decision

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_ALLOWED = 0, 1, 2, 3


def _print_decision(decision: Decision, out: TextIO) -> None:
    out.write(f"action: {decision.action}\nrisk: {decision.risk}\n")
    if decision.categories:
        out.write(f"categories: {', '.join(decision.categories)}\n")
    for f in decision.findings:
        mods = f" [{', '.join(f.modifiers)}]" if f.modifiers else ""
        out.write(f"  - {f.rule_id} ({f.category}, {f.tier}) at {f.span[0]}:{f.span[1]} "
                  f"{f.matched!r}{mods}: {f.reason}\n")
    if decision.status != "ok":
        out.write(f"status: {decision.status}\n")
    if decision.text is not None:
        out.write(f"text: {decision.text}\n")
    if decision.annotation:
        out.write(f"annotation: {decision.annotation}\n")


def _check_jsonl(guard: Guard, stage: str, locale: str | None, inp: TextIO, out: TextIO) -> int:
    """One JSON decision per input line, in constant memory. A bad line gets an error object, not a crash."""
    status = EXIT_OK
    for number, line in enumerate(inp, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("each line must be a JSON object")
            text: Any = row.get("text")
            history = row.get("history")
            row_locale = row.get("locale", locale)
            if stage == "input":
                decision = guard.check_input(text, history=history, locale=row_locale)
            else:
                decision = guard.check_output(text, user_text=row.get("user_text"), history=history,
                                              locale=row_locale)
            result: dict[str, Any] = decision.to_dict()
        except (ValueError, MhguardError) as exc:
            result = {"error": f"line {number}: {exc}"}
            status = EXIT_ERROR
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return status


def _cmd_check(args: argparse.Namespace) -> int:
    guard = Guard.from_policy(args.policy, audit=args.audit)
    try:
        return _run_check(guard, args)
    finally:
        if guard.audit is not None:
            guard.audit.close()


def _run_check(guard: Guard, args: argparse.Namespace) -> int:
    if args.jsonl:
        return _check_jsonl(guard, args.stage, args.locale, sys.stdin, sys.stdout)
    if args.text is None:
        print("mhguard check: give a TEXT or --jsonl", file=sys.stderr)
        return EXIT_USAGE
    if args.stage == "input":
        decision = guard.check_input(args.text, locale=args.locale)
    else:
        decision = guard.check_output(args.text, user_text=args.user_text, locale=args.locale)
    if args.json:
        print(json.dumps(decision.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_decision(decision, sys.stdout)
    return EXIT_OK if decision.allowed else EXIT_NOT_ALLOWED


def _cmd_report(args: argparse.Namespace) -> int:
    from mhguard.audit.reader import AuditReader
    from mhguard.audit.report import build_report, parse_time

    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until, end=True) if args.until else None
    except ValueError as exc:
        print(f"mhguard report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    reader = AuditReader(args.audit)
    report = build_report(reader, source=str(args.audit), period=args.period, since=since, until=until,
                          threshold=args.threshold)
    report.problems[:0] = [*reader.torn_lines, *reader.problems]
    if args.format == "json":
        output = json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"
    elif args.format == "html":
        from mhguard.audit.report_html import render_html

        output = render_html(report)
    else:
        output = report.to_text()
    for problem in report.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(output)
    else:
        sys.stdout.write(output)
    return EXIT_OK


def _cmd_lint(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for source in args.policies:
        try:
            policy = load_policy(source)
        except PolicyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_ERROR
            continue
        print(f"ok: {source} (policy {policy.name!r}, {len(policy.input_filters)} input and "
              f"{len(policy.output_filters)} output filters)")
    return status


def _cmd_policies(args: argparse.Namespace) -> int:
    for name in builtin_policy_names():
        policy = load_policy(name)
        description = " ".join(policy.document.description.split())
        print(f"{name}: {description[:100]}")
    return EXIT_OK


def _cmd_eval(args: argparse.Namespace) -> int:
    from mhguard.evaluation import evaluate, load_labelled
    from mhguard.types import Tier

    guard = Guard.from_policy(args.policy)
    rows = load_labelled(args.file)
    report = evaluate(guard, rows, threshold=Tier(args.threshold))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(report.to_markdown(show_errors=args.show_errors))
    return EXIT_OK


def _cmd_helplines(args: argparse.Namespace) -> int:
    from mhguard.helplines import load_directory

    directory = load_directory(args.directory)
    codes = [args.country.upper()] if args.country else sorted(directory.countries)
    if args.country and args.country.upper() not in directory.countries:
        print(f"no entry for {args.country.upper()}; international lines:", file=sys.stderr)
        codes = []
    for code in codes:
        country = directory.countries[code]
        print(f"{code} {country.name}: emergency {', '.join(country.emergency)}")
        for s in country.services:
            ways = [w for w in (s.phone and f"call {s.phone}",
                                s.sms and f"text {(s.sms.keyword + ' to ') if s.sms.keyword else ''}{s.sms.number}",
                                s.chat_url and f"chat {s.chat_url}") if w]
            flag = "" if s.status == "verified" else " [unverified]"
            print(f"  - {s.name}: {'; '.join(ways) or s.email or ''} (verified {s.verified}){flag}")
            print(f"    source: {s.source}")
    if not args.country or args.country.upper() not in directory.countries:
        for s in directory.international:
            print(f"international: {s.name} {s.chat_url or s.source} (verified {s.verified})")
    stale = [(c, s) for c, s in directory.stale(max_age_days=args.max_age_days)
             if not args.country or c in (args.country.upper(), "international")]
    for code, service in stale:
        print(f"warning: {code} {service.name}: verified {service.verified}, older than {args.max_age_days} days; "
              f"check {service.source}", file=sys.stderr)
    unverified = sum(1 for c, s in directory.all_entries() if s.status != "verified" and c in codes)
    if unverified:
        print(f"warning: {unverified} entr{'y is' if unverified == 1 else 'ies are'} unverified: review before "
              "deployment", file=sys.stderr)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mhguard", description="Mental-health safety rails for chatbots.",
                                     epilog="Exit codes: 0 ok/allowed, 1 error, 2 usage, 3 check blocked or "
                                            "escalated.")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="judge a text (or JSON lines from stdin) and print the decision")
    check.add_argument("text", nargs="?", help="the text to judge")
    check.add_argument("--policy", default="default", help="built-in name or YAML path (default: default)")
    check.add_argument("--stage", choices=("input", "output"), default="input")
    check.add_argument("--locale", default=None, help="BCP-47 locale, e.g. en-GB")
    check.add_argument("--user-text", default=None, help="with --stage output: the message the reply answers")
    check.add_argument("--json", action="store_true", help="print the decision as JSON")
    check.add_argument("--jsonl", action="store_true",
                       help='read {"text", "history", "locale", "user_text"} lines from stdin')
    check.add_argument("--audit", default=None, metavar="PATH",
                       help="record every decision (no text) to PATH: .jsonl or .db/.sqlite/.sqlite3")
    check.set_defaults(func=_cmd_check)

    rep = sub.add_parser("report", help="count crisis detections and referrals in an audit; list escalations")
    rep.add_argument("audit", help="an audit file: .jsonl (with its rotated files) or .db/.sqlite/.sqlite3")
    rep.add_argument("--format", choices=("text", "json", "html"), default="text")
    rep.add_argument("-o", "--output", default=None, metavar="FILE", help="write to FILE instead of stdout")
    rep.add_argument("--period", choices=("day", "week", "month"), default="month")
    rep.add_argument("--since", default=None, help="ISO date or date-time (UTC unless given), inclusive")
    rep.add_argument("--until", default=None, help="ISO date (that whole day included) or date-time (exclusive)")
    rep.add_argument("--threshold", choices=("concern", "low", "moderate", "high", "imminent"), default="low",
                     help="risk tier at or above which an input decision counts as a detection (default: low)")
    rep.set_defaults(func=_cmd_report)

    lint = sub.add_parser("lint", help="validate policy files; exit 1 with the located error")
    lint.add_argument("policies", nargs="+", help="policy YAML paths or built-in names")
    lint.set_defaults(func=_cmd_lint)

    policies = sub.add_parser("policies", help="list the built-in policies")
    policies.set_defaults(func=_cmd_policies)

    lines = sub.add_parser("helplines", help="print crisis lines from the directory; warn about old entries")
    lines.add_argument("--country", help="ISO 3166-1 code, e.g. GB")
    lines.add_argument("--max-age-days", type=int, default=365, help="warn about entries verified longer ago")
    lines.add_argument("--directory", default=None, help="a directory YAML instead of the built-in one")
    lines.set_defaults(func=_cmd_helplines)

    ev = sub.add_parser("eval", help="evaluate crisis detection on labelled JSONL")
    ev.add_argument("file", help='JSONL rows {"text", "history"?, "label"} (label: a tier, crisis, no_crisis)')
    ev.add_argument("--policy", default="default")
    ev.add_argument("--threshold", default="low", help="tier at or above which a row counts as flagged")
    ev.add_argument("--show-errors", action="store_true", help="list the rows it got wrong")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=_cmd_eval)

    from mhguard.scan_cli import add_scan_parser

    add_scan_parser(sub)  # batch screening; options and handler live in scan_cli (docs/scan.md)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except MhguardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return code


if __name__ == "__main__":
    raise SystemExit(main())
