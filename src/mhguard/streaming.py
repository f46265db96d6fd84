"""Hold streamed model text back until the output filters have judged it.

A :class:`StreamJudge` lives for ONE call (never on a shared object), so concurrent streams cannot mix.
Text is released piece by piece, at sentence ends or when ``max_piece_chars`` are pending. Each piece is
checked once, with the last ``window_chars`` of released text as context, so the total cost is linear in
the length of the reply. On a block or escalation the stream ends with the policy's response.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import regex

from mhguard.errors import ModelOutputError
from mhguard.policy.models import StreamSettings
from mhguard.types import Action, Decision, Finding, Stage, Tier

__all__ = ["StreamJudge"]

# A sentence ends at . ! ? … (with closing quotes/brackets) followed by white space, or at a line break.
_BOUNDARY = regex.compile(r"(?:[.!?…。！？]+[\"'”’)\]]*\s+|\n+)")

_BOUNDARY_CHARS = frozenset(".!?…。！？\"'”’)] \t\r\n\f\v")

CheckPiece = Callable[[str, int], Decision]


@dataclass
class StreamJudge:
    """Per-call state: pending text, released tail, piece decisions."""

    check: CheckPiece  # (window + piece, focus_start) -> Decision
    settings: StreamSettings
    pending: str = ""
    tail: str = ""
    released_chars: int = 0
    decisions: list[Decision] = field(default_factory=list)
    stopped: bool = False
    annotation: str | None = None
    _scan_from: int = 0
    _offsets: list[int] = field(default_factory=list)

    def feed(self, chunk: object) -> list[str]:
        """Add a chunk; return the text that is now safe to release (may be empty)."""
        if self.stopped or chunk is None:
            return []
        if not isinstance(chunk, str):
            raise ModelOutputError(f"a streamed chunk must be a str, not {type(chunk).__name__}")
        self.pending += chunk
        out: list[str] = []
        pos = 0  # cut by index and slice once at the end: a huge chunk stays linear
        while not self.stopped:
            cut = self._next_cut(pos)
            if cut is None:
                break
            piece = self.pending[pos:cut]
            pos = cut
            self._scan_from = cut
            out.extend(self._judge(piece))
        self.pending = self.pending[pos:]
        self._scan_from -= pos
        return out

    def finish(self) -> list[str]:
        """The upstream ended: judge what is still pending, then add the annotation if any."""
        out: list[str] = []
        if not self.stopped and self.pending:
            piece, self.pending = self.pending, ""
            out.extend(self._judge(piece))
        if not self.stopped and self.annotation:
            out.append("\n\n" + self.annotation)
        return out

    def _next_cut(self, pos: int) -> int | None:
        limit = pos + self.settings.max_piece_chars
        end = min(len(self.pending), limit + 1)
        # Only text not yet scanned can hold a new boundary (keeps the work per chunk bounded).
        # The LAST boundary within the piece limit: several short sentences are judged together.
        last: int | None = None
        for match in _BOUNDARY.finditer(self.pending, max(pos, self._scan_from), end):
            if match.end() < len(self.pending) or match.group().endswith("\n"):
                last = match.end()
        if last is not None:
            return last
        if len(self.pending) > limit:
            space = self.pending.rfind(" ", pos, limit)
            return space + 1 if space > pos + self.settings.max_piece_chars // 2 else limit
        # A boundary at the very end may still grow ("...", more spaces): rescan its trailing run next time.
        back = len(self.pending)
        while back > pos and self.pending[back - 1] in _BOUNDARY_CHARS:
            back -= 1
        self._scan_from = back
        return None

    def _judge(self, piece: str) -> list[str]:
        window = self.tail + piece
        decision = self.check(window, len(self.tail))
        self.decisions.append(decision)
        # Where this window starts in the whole reply, so summary spans point into the full text.
        self._offsets.append(self.released_chars - len(self.tail))
        if not decision.allowed:
            self.stopped = True
            return [decision.text or ""]
        released = piece
        if decision.action is Action.REWRITE and decision.text is not None:
            rewritten = decision.text
            if decision.annotation and rewritten.endswith("\n\n" + decision.annotation):
                rewritten = rewritten[: -len(decision.annotation) - 2]
            if not rewritten.startswith(self.tail):
                # A rewrite reached back into text already released: stop rather than release it.
                self.stopped = True
                return ["[...]"]
            released = rewritten[len(self.tail):]
        if decision.annotation and self.annotation is None:
            self.annotation = decision.annotation
        self.released_chars += len(piece)
        self.tail = (self.tail + released)[-self.settings.window_chars:] if self.settings.window_chars else ""
        return [released] if released else []

    def summary(self, stage: Stage = Stage.OUTPUT) -> Decision:
        """One decision for the whole stream: strongest action and risk, every finding."""
        if not self.decisions:
            return Decision(stage=stage, action=Action.ALLOW, risk=Tier.NONE)
        action = Action.highest((d.action for d in self.decisions), Action.ALLOW)
        risk = Tier.highest((d.risk for d in self.decisions), Tier.NONE)
        findings: list[Finding] = []
        categories: list[str] = []
        for d, offset in zip(self.decisions, self._offsets, strict=True):
            for f in d.findings:
                start, end = max(0, f.span[0] + offset), max(0, f.span[1] + offset)
                findings.append(replace(f, span=(start, end)))
            categories.extend(c for c in d.categories if c not in categories)
        final = next((d for d in reversed(self.decisions) if d.action is action), self.decisions[-1])
        return Decision(
            stage=stage, action=action, risk=risk, categories=tuple(categories), findings=tuple(findings),
            text=final.text if not final.allowed else None, annotation=self.annotation,
            status="error" if any(d.status == "error" for d in self.decisions) else "ok",
            policy=final.policy, locale=final.locale, session_id=final.session_id,
            extra=(("pieces", len(self.decisions)),),
        )
