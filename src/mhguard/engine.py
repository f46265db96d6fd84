"""The one place where findings become a :class:`Decision`: precedence, responses, rewrites, fail-closed.

Pure: no I/O besides logging a filter failure; hooks and model calls belong to :mod:`mhguard.guard`.
Precedence is explicit: escalate > block > rewrite > annotate > allow. A filter that raises produces a
blocking decision with reason ``filter_error`` unless the policy says ``on_error: raise``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mhguard.errors import FilterError, InputTooLargeError, InputTypeError
from mhguard.filters.base import Filter, FilterContext
from mhguard.locale import parse_locale
from mhguard.policy.loader import Policy
from mhguard.responses import DEFAULT_RESPONSE_IDS, FALLBACK_TEXTS
from mhguard.text.language import detect_language
from mhguard.text.normalize import NormalizedText, normalize
from mhguard.types import Action, Decision, Finding, Stage, Tier

__all__ = ["FILTER_ERROR", "Engine"]

logger = logging.getLogger("mhguard")

FILTER_ERROR = "filter_error"


@dataclass(frozen=True)
class _Judged:
    filt: Filter
    finding: Finding
    action: Action


class Engine:
    """Runs a stage's filters over one text and applies the policy."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def check_text(self, text: object) -> str:
        if not isinstance(text, str):
            raise InputTypeError(f"text to check must be a str, not {type(text).__name__}")
        limit = self.policy.document.limits.max_chars
        if len(text) > limit:
            raise InputTooLargeError(
                f"text has {len(text)} characters; the policy allows {limit} (limits.max_chars)"
            )
        return text

    def run(self, stage: Stage, text: object, ctx: FilterContext, *, focus_start: int = 0) -> Decision:
        """Judge ``text``. Findings that end at or before ``focus_start`` are ignored (already judged
        context, used by streaming)."""
        checked = self.check_text(text)
        session_id = _session_id(ctx.session)
        if not checked.strip():
            # Documented decision: an empty or blank text has nothing to judge and passes.
            return Decision(stage=stage, action=Action.ALLOW, risk=Tier.NONE, policy=self.policy.name,
                            locale=ctx.locale, session_id=session_id)
        normalized = normalize(checked)
        ctx = self._with_language(ctx, normalized)
        if focus_start:
            # Filters that widen a span (to a whole sentence) must not reach into text already released.
            ctx = replace(ctx, extra={**ctx.extra, "focus_start": focus_start})
        judged: list[_Judged] = []
        status = "ok"
        for filt in self.policy.filters(stage):
            try:
                found = filt.check(normalized, ctx)
                findings = _validated(found, filt)
            except Exception as exc:
                on_error = filt.config.on_error or self.policy.document.on_error
                if on_error == "raise":
                    raise FilterError(filt.id, exc) from exc
                logger.error("mhguard filter %r failed; blocking (fail closed): %s: %s",
                             filt.id, type(exc).__name__, exc)
                status = "error"
                error = Finding(filter_id=filt.id, rule_id=FILTER_ERROR, category=FILTER_ERROR,
                                tier=Tier.NONE, span=(0, 0), matched="",
                                reason=f"{FILTER_ERROR}: {type(exc).__name__}")
                judged.append(_Judged(filt, error, Action.BLOCK))
                continue
            for finding in findings:
                if focus_start and finding.span[1] <= focus_start:
                    continue
                judged.append(_Judged(filt, finding, filt.action_for(finding)))
        return self._decide(stage, checked, judged, ctx, status, session_id)

    def _decide(self, stage: Stage, text: str, judged: Sequence[_Judged], ctx: FilterContext,
                status: str, session_id: str | None) -> Decision:
        action = Action.highest((j.action for j in judged), Action.ALLOW)
        risk = Tier.highest((j.finding.tier for j in judged), Tier.NONE)
        categories: list[str] = []
        for j in judged:
            if (j.finding.tier is not Tier.NONE or j.action is not Action.ALLOW) \
                    and j.finding.category not in categories:
                categories.append(j.finding.category)
        out_text: str | None = None
        annotation: str | None = None
        instructions: tuple[str, ...] = ()
        if action in (Action.ESCALATE, Action.BLOCK):
            # The response fits the most serious finding behind the winning action.
            top = max((j for j in judged if j.action is action), key=lambda j: j.finding.tier.rank)
            out_text = self._response(top.filt, action, ctx, top.finding)
        else:
            if action is Action.REWRITE:
                out_text = self._rewrite(text, [j for j in judged if j.action is Action.REWRITE], ctx)
            notes: list[str] = []
            annotating = sorted((j for j in judged if j.action is Action.ANNOTATE),
                                key=lambda j: -j.finding.tier.rank)
            for j in annotating:
                note = self._response(j.filt, Action.ANNOTATE, ctx, j.finding)
                if note and note not in notes:
                    notes.append(note)
            if notes:
                annotation = "\n\n".join(notes)
                if stage is Stage.OUTPUT:
                    out_text = f"{out_text if out_text is not None else text}\n\n{annotation}"
            instructions = self._instructions(judged, ctx)
        return Decision(
            stage=stage, action=action, risk=risk, categories=tuple(categories),
            findings=tuple(j.finding for j in judged), text=out_text, annotation=annotation,
            instructions=instructions, status=status, policy=self.policy.name, locale=ctx.locale,
            session_id=session_id, language=ctx.language,
        )

    def _with_language(self, ctx: FilterContext, normalized: NormalizedText) -> FilterContext:
        """The languages the text shows (for the lexicons) and the reply language, once per text."""
        forced = self.policy.document.language
        if forced != "auto":
            return replace(ctx, language=forced, extra={**ctx.extra, "languages": (forced.split("-")[0].lower(),)})
        guess = detect_language(normalized)
        return replace(ctx, language=guess.tag if guess.confident else None,
                       extra={**ctx.extra, "languages": guess.languages})

    def _reply_locale(self, ctx: FilterContext) -> str | None:
        """The locale to write in: the message's language when it is clear, in the locale's country
        (a Spanish message with locale en-US gets Spanish text and US lines)."""
        base = ctx.locale or self.policy.document.locale
        if not ctx.language:
            return ctx.locale
        parsed = parse_locale(base)
        if parsed is not None and parsed.language == ctx.language.split("-")[0].lower():
            return ctx.locale
        if parsed is not None and parsed.country:
            return f"{ctx.language}-{parsed.country}"
        return ctx.language

    def _instructions(self, judged: Sequence[_Judged], ctx: FilterContext) -> tuple[str, ...]:
        """Instructions for the model: per filter, the one of its most serious finding's tier."""
        seen: list[str] = []
        by_filter: dict[str, list[_Judged]] = {}
        for j in judged:
            by_filter.setdefault(j.filt.id, []).append(j)
        for group in by_filter.values():
            filt = group[0].filt
            found = [j.finding for j in group]
            texts = list(filt.instructions(found, ctx))
            listed = filt.config.instructions
            if listed:
                worst = max(found, key=lambda f: f.tier.rank)
                ref = None
                for tier in Tier:
                    if tier.rank > worst.tier.rank:
                        break
                    ref = listed.get(tier, ref)
                if ref is not None and worst.tier is not Tier.NONE:
                    texts.append(self.policy.renderer.render(ref, locale=self._reply_locale(ctx), finding=worst))
            for text in texts:
                if text and text not in seen:
                    seen.append(text)
        return tuple(seen)

    def _response(self, filt: Filter, action: Action, ctx: FilterContext, finding: Finding | None) -> str:
        ref = filt.response_ref(finding, action) if finding is not None else filt.config.responses.get(action)
        ref = ref or DEFAULT_RESPONSE_IDS[action]
        text = self.policy.renderer.render(ref, locale=self._reply_locale(ctx), finding=finding)
        if not text.strip() and action in (Action.ESCALATE, Action.BLOCK):
            # Never answer a crisis or a block with nothing.
            text = FALLBACK_TEXTS[DEFAULT_RESPONSE_IDS[action]]
        return text

    def _rewrite(self, text: str, judged: Sequence[_Judged], ctx: FilterContext) -> str:
        pieces: list[str] = []
        cursor = 0
        for j in sorted(judged, key=lambda item: (item.finding.span[0], -item.finding.span[1])):
            start, end = j.finding.span
            if start < cursor:
                continue  # overlaps a span already rewritten
            replacement = j.finding.replacement
            if replacement is None:
                replacement = self._response(j.filt, Action.REWRITE, ctx, j.finding)
            pieces.append(text[cursor:start])
            pieces.append(replacement)
            cursor = end
        pieces.append(text[cursor:])
        return "".join(pieces)


def _validated(found: object, filt: Filter) -> list[Finding]:
    if not isinstance(found, (list, tuple)):
        raise TypeError(f"filter {filt.id!r} returned {type(found).__name__}, not a list of findings")
    for item in found:
        if not isinstance(item, Finding):
            raise TypeError(f"filter {filt.id!r} returned a {type(item).__name__} among its findings")
    return list(found)


def _session_id(session: object) -> str | None:
    if session is None:
        return None
    if isinstance(session, str):
        return session
    value = getattr(session, "id", None)
    return str(value) if value is not None else None
