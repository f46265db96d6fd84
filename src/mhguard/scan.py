"""Batch screening of transcripts: one input row in, its decision records out.

This module is the engine-independent part of ``mhguard scan``: :func:`screen_record` turns one row (a
single message or a whole conversation) into JSON-ready decision records, and :class:`ScanCounts` adds
records up into a summary. The command line's process pool (:mod:`mhguard.scan_runner`) and the Dask
helper (:mod:`mhguard.scan_dask`) both call these, so a distributed run gives the same records as a local
one. The row and record formats are documented in ``docs/scan.md``.

Privacy: records carry no message text unless ``include_text=True``. Fail closed: a row or turn that cannot
be screened gives a record with ``status: "error"``; it is never dropped, and every row gives at least one
record.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mhguard.guard import Guard
from mhguard.messages import content_text
from mhguard.sessions import Session
from mhguard.types import Decision

__all__ = [
    "CONTEXT_ROLES",
    "SCREENED_ROLES",
    "RowError",
    "ScanCounts",
    "parse_row",
    "row_id",
    "screen_record",
]

#: Roles whose turns are screened: user turns with ``check_input``, assistant turns with ``check_output``.
SCREENED_ROLES = ("user", "assistant")
#: Roles kept as context (history) but not screened themselves.
CONTEXT_ROLES = ("system", "developer", "tool", "function")
_ERROR_CHARS = 300


class RowError(ValueError):
    """A row does not follow the row format; the whole row gets one error record."""


def parse_row(row: object) -> dict[str, Any]:
    """A row as a dict: a mapping passes through; a JSON line (``str`` or UTF-8 ``bytes``) is parsed."""
    if isinstance(row, (bytes, bytearray)):
        try:
            row = bytes(row).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RowError(f"the line is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if isinstance(row, str):
        try:
            row = json.loads(row.lstrip("\ufeff"))
        except json.JSONDecodeError as exc:
            raise RowError(f"the line is not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, Mapping):
        raise RowError(f"a row must be a JSON object, not {type(row).__name__}")
    return dict(row)


def row_id(row: object) -> Any:
    """The ``id`` of a row, or ``None`` when it has none or cannot be parsed (used to check resumes)."""
    try:
        value = parse_row(row).get("id")
    except RowError:
        return None
    return value if _valid_id(value) else None


def _valid_id(value: object) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _optional_str(row: Mapping[str, Any], key: str) -> str | None:
    value = row.get(key)
    if value is not None and not isinstance(value, str):
        raise RowError(f"'{key}' must be a string, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class _Turn:
    index: int | None  # position in "messages"; None for a single-message row
    role: str
    text: str
    history: Sequence[Mapping[str, Any]] | None
    user_text: str | None


def _conversation_turns(messages: object) -> list[_Turn]:
    """Every user and assistant turn of a conversation, each with the context it was said in.

    A user turn is judged with all earlier turns as history. An assistant turn is judged as the answer to
    the latest user turn before it (``user_text``), with every other earlier turn as history: the same
    split a wrapped chat call makes.
    """
    if not isinstance(messages, list):
        raise RowError("'messages' must be a list of {'role', 'content'} objects")
    if not messages:
        raise RowError("'messages' is empty: nothing to screen")
    texts: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise RowError(f"messages[{i}] must be an object with 'role' and 'content'")
        role = message.get("role")
        if role not in SCREENED_ROLES and role not in CONTEXT_ROLES:
            # An unknown role could be a person's words under another name: refuse rather than skip it.
            known = ", ".join((*SCREENED_ROLES, *CONTEXT_ROLES))
            raise RowError(f"messages[{i}]: unknown role {role!r} (expected one of {known})")
        try:
            texts.append(content_text(message.get("content")))
        except Exception as exc:
            raise RowError(f"messages[{i}]: {exc}") from None
    turns: list[_Turn] = []
    last_user: int | None = None
    for i, message in enumerate(messages):
        role = message["role"]
        if role == "user":
            turns.append(_Turn(i, role, texts[i], messages[:i], None))
            last_user = i
        elif role == "assistant":
            if last_user is None:
                turns.append(_Turn(i, role, texts[i], messages[:i], None))
            else:
                history = messages[:last_user] + messages[last_user + 1:i]
                turns.append(_Turn(i, role, texts[i], history, texts[last_user]))
    if not turns:
        raise RowError("'messages' has no user or assistant turn to screen")
    return turns


def _single_turn(row: Mapping[str, Any]) -> _Turn:
    text = row["text"]
    if not isinstance(text, str):
        raise RowError(f"'text' must be a string, not {type(text).__name__}")
    role = row.get("role", "user")
    if role not in SCREENED_ROLES:
        raise RowError(f"'role' must be 'user' or 'assistant', not {role!r}")
    user_text = _optional_str(row, "user_text")
    if user_text is not None and role != "assistant":
        raise RowError("'user_text' is only for rows with role 'assistant'")
    return _Turn(None, role, text, row.get("history"), user_text)


def _turns(row: Mapping[str, Any]) -> list[_Turn]:
    if ("text" in row) == ("messages" in row):
        raise RowError("a row needs exactly one of 'text' (one message) or 'messages' (a conversation)")
    if "messages" in row:
        if "history" in row or "role" in row or "user_text" in row:
            raise RowError("'history', 'role' and 'user_text' belong to single-message rows, not 'messages'")
        return _conversation_turns(row["messages"])
    return [_single_turn(row)]


def _base(line: int | None, rid: Any, policy: str) -> dict[str, Any]:
    return {"line": line, "id": rid, "turn": None, "role": None, "stage": None, "status": "error",
            "action": None, "risk": None, "allowed": None, "categories": [], "rule_ids": [], "findings": [],
            "policy": policy, "locale": None, "session": None}


def _error(base: Mapping[str, Any], exc: BaseException, include_text: bool, **fields: Any) -> dict[str, Any]:
    record = {**base, **fields, "status": "error", "error_type": type(exc).__name__,
              "error": str(exc)[:_ERROR_CHARS]}
    if include_text:
        record.setdefault("text", None)
        record["response"] = None
    return record


def _decision_record(base: Mapping[str, Any], turn: _Turn, decision: Decision,
                     include_text: bool) -> dict[str, Any]:
    rule_ids = list(dict.fromkeys(f.rule_id for f in decision.active_findings))
    record = {**base, "turn": turn.index, "role": turn.role, "stage": decision.stage.value,
              "status": decision.status, "action": decision.action.value, "risk": decision.risk.value,
              "allowed": decision.allowed, "categories": list(decision.categories), "rule_ids": rule_ids,
              "findings": [f.to_dict(include_text=include_text) for f in decision.findings],
              "locale": decision.locale}
    if include_text:
        record["text"] = turn.text
        record["response"] = decision.text
    return record


def screen_record(guard: Guard, row: object, *, line: int | None = None, locale: str | None = None,
                  include_text: bool = False) -> list[dict[str, Any]]:
    """Screen one row and return its decision records (at least one; never raises for a bad row).

    ``row`` is a mapping or a JSON line. ``line`` (the input line number) and the row's ``id`` identify the
    row in every record; ``locale`` is the default for rows without their own. A row that breaks the format
    gives one error record; a turn whose check raises gives an error record for that turn and the other
    turns are still screened. Each record carries ``record_index`` and ``row_records`` (its position in the
    row's records and their number), so a reader can tell a complete row from one cut off by a crash.
    """
    policy = guard.policy.name
    records: list[dict[str, Any]]
    try:
        data = parse_row(row)
        rid = data.get("id")
        if not _valid_id(rid):
            raise RowError(f"'id' must be a string or an integer, not {type(rid).__name__}")
        base = _base(line, rid, policy)
        row_locale = _optional_str(data, "locale") or locale
        session_id = _optional_str(data, "session")
        base["session"] = session_id
        # A session lives for one row only, so results never depend on how rows are split between
        # workers or on a resume; a conversation that must be judged together belongs in one row.
        session = Session(id=session_id, locale=row_locale) if session_id is not None else None
        turns = _turns(data)
    except Exception as exc:
        records = [_error(_base(line, row_id(row), policy), exc, include_text)]
    else:
        records = [_screen_turn(guard, base, turn, row_locale, session, include_text) for turn in turns]
    for index, record in enumerate(records):
        record["record_index"] = index
        record["row_records"] = len(records)
    return records


def _screen_turn(guard: Guard, base: Mapping[str, Any], turn: _Turn, locale: str | None, session: Session | None,
                 include_text: bool) -> dict[str, Any]:
    try:
        if turn.role == "user":
            decision = guard.check_input(turn.text, history=turn.history, locale=locale, session=session)
        else:
            decision = guard.check_output(turn.text, user_text=turn.user_text, history=turn.history,
                                          locale=locale, session=session)
    except Exception as exc:
        # Fail closed: the turn is reported as not screened, and the rest of the row still is.
        text_field = {"text": turn.text} if include_text else {}
        return _error(base, exc, include_text, turn=turn.index, role=turn.role,
                      stage="input" if turn.role == "user" else "output", locale=locale, **text_field)
    return _decision_record(base, turn, decision, include_text)


@dataclass
class ScanCounts:
    """Counts over decision records, mergeable (per worker, per partition, or over a whole output file)."""

    rows: int = 0
    records: int = 0
    messages: int = 0
    row_errors: int = 0
    message_errors: int = 0
    filter_errors: int = 0
    by_stage: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)
    policies: Counter[str] = field(default_factory=Counter)

    def add(self, record: Mapping[str, Any]) -> None:
        self.records += 1
        if record.get("record_index") == 0:
            self.rows += 1
        self.policies[str(record.get("policy"))] += 1
        if record.get("status") == "error" and record.get("action") is None:
            if record.get("turn") is None and record.get("stage") is None:
                self.row_errors += 1
            else:
                self.message_errors += 1
            return
        self.messages += 1
        if record.get("status") == "error":
            # A filter failed and the decision was closed (blocked): screened, but not as intended.
            self.filter_errors += 1
        stage = self.by_stage.setdefault(str(record.get("stage")), {
            "action": Counter(), "risk": Counter(), "category": Counter(), "rule": Counter()})
        stage["action"][str(record.get("action"))] += 1
        stage["risk"][str(record.get("risk"))] += 1
        for category in record.get("categories") or ():
            stage["category"][str(category)] += 1
        for rule in record.get("rule_ids") or ():
            stage["rule"][str(rule)] += 1

    def add_all(self, records: Iterable[Mapping[str, Any]]) -> ScanCounts:
        for record in records:
            self.add(record)
        return self

    def merge(self, other: ScanCounts) -> ScanCounts:
        """A new ScanCounts with both counts added."""
        out = ScanCounts(self.rows + other.rows, self.records + other.records, self.messages + other.messages,
                         self.row_errors + other.row_errors, self.message_errors + other.message_errors,
                         self.filter_errors + other.filter_errors, policies=self.policies + other.policies)
        for source in (self.by_stage, other.by_stage):
            for stage, counters in source.items():
                target = out.by_stage.setdefault(stage, {k: Counter() for k in counters})
                for key, counter in counters.items():
                    target.setdefault(key, Counter()).update(counter)
        return out

    @property
    def errors(self) -> int:
        return self.row_errors + self.message_errors + self.filter_errors

    def to_dict(self) -> dict[str, Any]:
        def ordered(counter: Counter[str]) -> dict[str, int]:
            return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))

        return {
            "rows": self.rows,
            "records": self.records,
            "messages": self.messages,
            "errors": {"total": self.errors, "invalid_rows": self.row_errors,
                       "message_errors": self.message_errors, "filter_errors": self.filter_errors},
            "policies": ordered(self.policies),
            "stages": {stage: {f"by_{key}": ordered(counter) for key, counter in counters.items()}
                       for stage, counters in sorted(self.by_stage.items())},
        }
