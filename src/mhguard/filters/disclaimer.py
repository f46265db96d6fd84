"""``disclaimer``: AI disclosure, care notices and break reminders at the cadence the chatbot laws set.

Output filter. It inserts texts at the start (or end) of a reply, as zero-width rewrites, so the reply
itself is untouched:

- AI disclosure at the start of a session, again every ``every_hours`` of a continuing session
  (NY GBL Art. 47, CA SB 243: 3 hours), after ``after_days_away`` days away (Utah HB 452: 7 days), and
  whenever the person asks whether they are talking to a human, a bot or a real person (a truthful answer
  first);
- a "not a substitute for professional care" notice when a reply touches clinical topics, at most once
  every ``care_notice_every_hours``;
- optionally a break reminder every ``break_every_hours`` and a notice for minors (the ``youth`` policy).

The filter only reads the session; the guard records what was shown. Without a session, the disclosure is
shown when the conversation has no assistant turn yet (its start), never on every message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import regex
from pydantic import Field

from mhguard.filters.base import Filter, FilterConfig, FilterContext, LocalizedText
from mhguard.filters.human_question import PATTERNS as HUMAN_QUESTION_PATTERNS
from mhguard.registry import register_filter
from mhguard.responses import pick_language
from mhguard.text.normalize import NormalizedText
from mhguard.types import Action, Finding, Stage, Tier

__all__ = ["NOTICE_CATEGORIES", "DisclaimerConfig", "DisclaimerFilter"]

HOUR = 3600.0
DAY = 24 * HOUR

#: Finding categories this filter emits; the guard records each in the session when shown.
NOTICE_CATEGORIES = ("ai_answer", "ai_disclosure", "minor_notice", "break_reminder", "care_notice")

# "Are you human / a bot / a real person?" in en, es, fr, de, pt and zh; ja, hi, ar and more zh forms come
# from mhguard.filters.human_question (with its examples). One regex, one search per reply.
_ASKS_IF_HUMAN_EN_ES_FR_DE_PT = (
    r"\b(?:are|r)\s+(?:you|u)\s+(?:an?\s+|actually\s+|really\s+|even\s+)*(?:human|real|person|bot|robot|ai|"
    r"machine|computer|chatbot|real\s+person|a\s+real\s+person)\b"
    r"|\b(?:am\s+i|i\s+am|im)\s+(?:talking|speaking|chatting|texting)\s+(?:to|with)\s+(?:an?\s+)?"
    r"(?:human|real\s+person|person|bot|robot|ai|machine|computer|chatbot)\b"
    r"|\bis\s+this\s+(?:an?\s+)?(?:bot|human|real\s+person|ai|robot|chatbot)\b"
    r"|\b(?:eres|es)\s+(?:un\s+)?(?:humano|humana|robot|bot|persona\s+real|una\s+persona)\b"
    r"|\b(?:tu\s+es|vous\s+[eê]tes|es[- ]tu|[eê]tes[- ]vous)\s+(?:un\s+|une\s+)?(?:humain|humaine|robot|bot|"
    r"vraie\s+personne|ia)\b"
    r"|\bbist\s+du\s+(?:ein\s+|eine\s+)?(?:mensch|roboter|bot|ki|echter\s+mensch)\b"
    r"|\bvoc[eê]\s+[eé]\s+(?:um\s+|uma\s+)?(?:humano|humana|rob[oô]|bot|pessoa\s+real|ia)\b"
    r"|你是(?:真人|人|机器人|機器人|ai|AI)吗|你是不是(?:真人|机器人|機器人)"
)
_ASKS_IF_HUMAN = regex.compile(
    "|".join(f"(?:{p})" for p in (_ASKS_IF_HUMAN_EN_ES_FR_DE_PT, *HUMAN_QUESTION_PATTERNS.values())),
    regex.IGNORECASE,
)

_CLINICAL = regex.compile(
    r"\b(?:diagnos\w*|disorder\w*|depress\w*|anxiety|bipolar|adhd|ptsd|ocd|schizophren\w*|psychos[ie]s|"
    r"medication\w*|medicine|antidepressant\w*|ssri\w*|dosage|dose\w*|prescri\w*|therap\w*|psychiatr\w*|"
    r"psycholog\w*|treatment\w*|symptom\w*|trastorno\w*|depresi[oó]n|ansiedad|medicaci[oó]n|terapia|"
    r"d[ée]pression|anxi[ée]t[ée]|trouble\w*|m[ée]dicament\w*|th[ée]rapie|st[oö]rung\w*|therapie|"
    r"medikament\w*|transtorno\w*|depress[aã]o|ansiedade|medica[cç][aã]o)\b|抑郁|焦虑|诊断|药物|治疗|障碍",
    regex.IGNORECASE,
)


class DisclaimerConfig(FilterConfig):
    position: Literal["start", "end"] = "start"
    #: The AI disclosure. A text, or texts per language.
    disclosure: LocalizedText = (
        "Just so you know: I'm an AI, not a human, and not a therapist or a doctor."
    )
    every_hours: float = Field(default=3.0, gt=0)
    after_days_away: float = Field(default=7.0, gt=0)
    #: Answer "are you human?" truthfully, first thing in the reply.
    on_question: bool = True
    question_answer: LocalizedText = "No, I'm not a human. I'm an AI program."
    #: "Not a substitute for professional care", when a reply touches clinical topics; null to switch off.
    care_notice: LocalizedText | None = (
        "I'm not a substitute for professional care. A doctor or mental-health professional can give you "
        "advice that fits your situation."
    )
    care_notice_every_hours: float = Field(default=24.0, gt=0)
    #: A reminder to take a break (CA SB 243 for known minors: every 3 hours); null to switch off.
    break_reminder: LocalizedText | None = None
    break_every_hours: float = Field(default=3.0, gt=0)
    #: Shown with the first disclosure of a session (CA SB 243 notice for minors); null to switch off.
    minor_notice: LocalizedText | None = None


@register_filter("disclaimer")
class DisclaimerFilter(Filter):
    Config = DisclaimerConfig
    stages = frozenset({Stage.OUTPUT})
    default_actions: ClassVar[Mapping[Tier, Action]] = {Tier.NONE: Action.REWRITE}

    def __init__(self, config: FilterConfig, *, base_dir: Path | None = None) -> None:
        super().__init__(config, base_dir=base_dir)
        assert isinstance(config, DisclaimerConfig)
        self.cfg = config

    def _text(self, value: LocalizedText, ctx: FilterContext) -> str:
        return pick_language(value, ctx.language or ctx.locale, None).strip()

    def _due(self, ctx: FilterContext) -> list[tuple[str, str, str]]:
        """(category, text, why) of everything to show now, in display order."""
        cfg, session, now = self.cfg, ctx.session, ctx.now
        due: list[tuple[str, str, str]] = []
        asked = bool(cfg.on_question and ctx.user_text and _ASKS_IF_HUMAN.search(ctx.user_text))
        if asked:
            due.append(("ai_answer", self._text(cfg.question_answer, ctx), "the person asked whether they talk to a "
                                                                            "human"))
        disclose, why = self._disclosure_due(session, ctx, now)
        if disclose and not asked:
            due.append(("ai_disclosure", self._text(cfg.disclosure, ctx), why))
        if disclose and cfg.minor_notice is not None and _last(session, "minor_notice") is None:
            due.append(("minor_notice", self._text(cfg.minor_notice, ctx), "first disclosure of the session"))
        if cfg.break_reminder is not None and session is not None:
            since = _last(session, "break_reminder") or getattr(session, "created", None)
            if since is not None and now - since >= cfg.break_every_hours * HOUR:
                due.append(("break_reminder", self._text(cfg.break_reminder, ctx),
                            f"{cfg.break_every_hours:g} hours since the last break reminder"))
        return due

    def _disclosure_due(self, session: Any, ctx: FilterContext, now: float) -> tuple[bool, str]:
        cfg = self.cfg
        if session is None or not hasattr(session, "disclosed_at"):
            started = not any(m.get("role") == "assistant" for m in ctx.history)
            return started, "start of the conversation (no session: judged from the history)"
        last = session.last_disclosed
        if last is None:
            return True, "start of the session"
        if now - last >= cfg.every_hours * HOUR:
            return True, f"{cfg.every_hours:g} hours since the last disclosure"
        previous = getattr(session, "previous_seen", None)
        if previous is not None and now - previous >= cfg.after_days_away * DAY and last <= previous:
            return True, f"back after {cfg.after_days_away:g}+ days away"
        return False, ""

    def check(self, text: NormalizedText, ctx: FilterContext) -> Sequence[Finding]:
        if ctx.extra.get("stream_piece", 0):
            return []  # a streamed reply gets its notices once, with its first piece
        due = self._due(ctx)
        cfg = self.cfg
        if cfg.care_notice is not None:
            last = _last(ctx.session, "care_notice")
            fresh = last is None or ctx.now - last >= cfg.care_notice_every_hours * HOUR
            clinical = _CLINICAL.search(text.text) or (ctx.user_text and _CLINICAL.search(ctx.user_text))
            no_session_repeat = ctx.session is None and any(
                "professional care" in str(m.get("content", "")) for m in ctx.history if m.get("role") == "assistant")
            if fresh and clinical and not no_session_repeat:
                due.append(("care_notice", self._text(cfg.care_notice, ctx), "the reply touches a clinical topic"))
        findings: list[Finding] = []
        at_start = cfg.position == "start"
        end = len(text.original)
        for category, notice, why in due:
            # A truthful answer to "are you human?" always comes first; the care notice follows the reply.
            if category == "ai_answer" or (at_start and category != "care_notice"):
                span, insert = (0, 0), notice + "\n\n"
            else:
                span, insert = (end, end), "\n\n" + notice
            findings.append(Finding(filter_id=self.id, rule_id=f"disclaimer.{category}", category=category,
                                    tier=Tier.NONE, span=span, matched="", reason=why, replacement=insert))
        return findings


def _last(session: Any, kind: str) -> float | None:
    notices = getattr(session, "notices", None)
    if not isinstance(notices, dict):
        return None
    value = notices.get(kind)
    return float(value) if value is not None else None
