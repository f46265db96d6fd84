"""The :class:`Guard`: checks user messages and model replies, and wraps chat callables.

One state machine (:meth:`Guard._plan`) decides what happens in a wrapped call; thin drivers run it for
plain functions and coroutines, and :class:`~mhguard.streaming.StreamJudge` does the same for generators and
async generators. Nothing is stored on the guard per call, so one guard serves concurrent requests.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from mhguard.audit.recorder import AuditTarget, record_decision, resolve_sink
from mhguard.engine import Engine
from mhguard.errors import AuditError, InputTypeError, ModelOutputError
from mhguard.escalation import EscalationEvent, EscalationHandler
from mhguard.filters.base import FilterContext
from mhguard.filters.disclaimer import NOTICE_CATEGORIES
from mhguard.messages import ChatCall, find_call, validate_history
from mhguard.policy.loader import Policy, load_policy
from mhguard.streaming import StreamJudge
from mhguard.types import Action, Decision, Stage

if TYPE_CHECKING:
    from mhguard.sessions import SessionStore

__all__ = ["Guard", "GuardedResult", "Hook"]

logger = logging.getLogger("mhguard")

#: A hook receives every Decision the guard makes. It may be a plain function or a coroutine function.
Hook = Callable[[Decision], Any]
PolicySource = str | Path | Mapping[str, Any] | Policy
T = TypeVar("T")
_background: set[asyncio.Task[Any]] = set()


@dataclass(frozen=True)
class GuardedResult:
    """What a wrapped call returned, with both decisions (from ``wrapped.detailed(...)``)."""

    text: str
    input: Decision
    output: Decision | None
    model_called: bool


@dataclass(frozen=True)
class _CallModel:
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class _RunHooks:
    decision: Decision
    text: str | None = None


_Effect = _CallModel | _RunHooks


@dataclass(frozen=True)
class _Prepared:
    call: ChatCall
    decision: Decision
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class Guard:
    """Applies a policy to user messages and model replies.

    >>> guard = Guard.from_policy("default")
    >>> guard.check_input("I'm dying to see that film").allowed
    True
    """

    def __init__(self, policy: PolicySource = "default", *, hooks: Sequence[Hook] = (),
                 escalation_handlers: Sequence[EscalationHandler] = (), session_store: SessionStore | None = None,
                 clock: Callable[[], float] = time.time, audit: AuditTarget = None) -> None:
        self.policy: Policy = load_policy(policy)
        #: Where every decision is recorded (``audit=`` path or sink, else the policy's ``audit.path``), or None.
        self.audit = resolve_sink(audit, self.policy)
        self.engine = Engine(self.policy)
        self._hooks: list[Hook] = list(hooks)
        self._escalation: list[EscalationHandler] = list(escalation_handlers)
        #: Where sessions named by id live (in memory unless given, e.g. a SQLiteSessionStore).
        from mhguard.sessions import MemorySessionStore

        self.sessions: SessionStore = session_store if session_store is not None else MemorySessionStore()
        self.clock = clock

    @classmethod
    def from_policy(cls, source: PolicySource = "default", *, hooks: Sequence[Hook] = (),
                    escalation_handlers: Sequence[EscalationHandler] = (), session_store: SessionStore | None = None,
                    clock: Callable[[], float] = time.time, audit: AuditTarget = None) -> Guard:
        """Build a guard from a built-in policy name, a YAML path, a dict or a loaded Policy."""
        return cls(source, hooks=hooks, escalation_handlers=escalation_handlers, session_store=session_store,
                   clock=clock, audit=audit)

    def add_hook(self, hook: Hook) -> None:
        """Register a callable that receives every Decision (logging, dashboards...)."""
        if not callable(hook):
            raise TypeError("a hook must be callable")
        self._hooks.append(hook)

    def on_escalation(self, handler: EscalationHandler) -> EscalationHandler:
        """Register a handler (sync or async) for input decisions at or above ``escalation.threshold``.
        Usable as a decorator."""
        if not callable(handler):
            raise TypeError("an escalation handler must be callable")
        self._escalation.append(handler)
        return handler

    def _escalation_event(self, decision: Decision, text: str | None) -> EscalationEvent | None:
        settings = self.policy.document.escalation
        if not self._escalation or decision.stage is not Stage.INPUT or decision.risk < settings.threshold:
            return None
        return EscalationEvent.from_decision(decision, policy_version=self.policy.version,
                                             text=text if settings.include_text else None)

    # ---- sessions -------------------------------------------------------------------------------------
    def _session(self, session: Any, stage: Stage, locale: str | None, now: float) -> Any:
        """A session id becomes the stored Session (a user turn touches it); objects pass through."""
        from mhguard.sessions import Session

        if session is None:
            return None
        if isinstance(session, str):
            if stage is Stage.INPUT:
                return self.sessions.update(session, lambda s: s.touch(now), locale=locale, now=now)
            return self.sessions.get_or_create(session, locale=locale, now=now)
        if isinstance(session, Session) and stage is Stage.INPUT:
            session.touch(now)
        return session

    def _remember(self, session: Any, decision: Decision, now: float, *, in_store: bool) -> None:
        """Record what the person saw (notices) and their risk in the session: in the store when the call
        named the session by id, else in the Session object the caller passed."""
        from mhguard.sessions import Session

        if not isinstance(session, Session):
            return
        shown = [f.category for f in decision.findings
                 if f.category in NOTICE_CATEGORIES and decision.action is not Action.ESCALATE]

        def record(s: Any) -> None:
            if decision.stage is Stage.INPUT:
                s.record_risk(now, decision.risk.value)
            for kind in shown:
                if kind in ("ai_disclosure", "ai_answer"):
                    s.record_disclosure(now)
                s.record_notice(kind, now)

        if decision.stage is Stage.OUTPUT and not shown:
            return
        if in_store:
            updated = self.sessions.update(session.id, record, now=now)
            session.__dict__.update(updated.__dict__)
        else:
            record(session)

    # ---- checks ---------------------------------------------------------------------------------------
    def _context(self, stage: Stage, *, history: object, locale: str | None, session: object,
                 user_text: str | None = None, now: float = 0.0) -> FilterContext:
        if locale is not None and not isinstance(locale, str):
            raise InputTypeError("locale must be a BCP-47 string such as 'en-GB'")
        if user_text is not None and not isinstance(user_text, str):
            raise InputTypeError("user_text must be a str")
        messages = validate_history(history)
        keep = self.policy.document.limits.max_history_messages
        messages = messages[-keep:] if keep else ()
        resolved = locale or getattr(session, "locale", None) or self.policy.document.locale
        return FilterContext(stage=stage, locale=resolved, history=messages,
                             user_text=user_text, session=session, now=now or self.clock())

    def check_input(self, text: str, *, history: Sequence[Mapping[str, Any]] | None = None,
                    locale: str | None = None, session: Any = None) -> Decision:
        """Judge a user message. ``history`` is the OpenAI-style messages before it. ``session`` is a
        session id (kept in the guard's session store), a :class:`Session`, or ``None``."""
        decision = self._check(Stage.INPUT, text, history=history, locale=locale, session=session)
        self._run_hooks_sync(decision, text)
        return decision

    def check_output(self, text: str, *, user_text: str | None = None,
                     history: Sequence[Mapping[str, Any]] | None = None, locale: str | None = None,
                     session: Any = None) -> Decision:
        """Judge a model reply; ``user_text`` is the message it answers."""
        decision = self._check(Stage.OUTPUT, text, history=history, locale=locale, session=session,
                                    user_text=user_text)
        self._run_hooks_sync(decision)
        return decision

    async def acheck_input(self, text: str, *, history: Sequence[Mapping[str, Any]] | None = None,
                           locale: str | None = None, session: Any = None) -> Decision:
        """Async twin of :meth:`check_input` (the check itself is CPU-bound and fast; hooks are awaited)."""
        decision = self._check(Stage.INPUT, text, history=history, locale=locale, session=session)
        await self._run_hooks_async(decision, text)
        return decision

    async def acheck_output(self, text: str, *, user_text: str | None = None,
                            history: Sequence[Mapping[str, Any]] | None = None, locale: str | None = None,
                            session: Any = None) -> Decision:
        """Async twin of :meth:`check_output`."""
        decision = self._check(Stage.OUTPUT, text, history=history, locale=locale, session=session,
                                    user_text=user_text)
        await self._run_hooks_async(decision)
        return decision

    def _check(self, stage: Stage, text: object, *, history: object, locale: str | None, session: Any,
               user_text: str | None = None) -> Decision:
        """Resolve the session, run the engine, record the outcome in the session."""
        now = self.clock()
        started = time.perf_counter()
        self.engine.check_text(text)  # type errors before any session is touched
        resolved = self._session(session, stage, locale, now)
        ctx = self._context(stage, history=history, locale=locale, session=resolved, user_text=user_text, now=now)
        decision = self.engine.run(stage, text, ctx)
        decision = self._audit(decision, text, stage.value, started, now)
        self._remember(resolved, decision, now, in_store=isinstance(session, str))
        return decision

    def _audit(self, decision: Decision, text: object, stage: str, started: float | None, now: float) -> Decision:
        """Record the decision in the audit sink, if any. Raises AuditError, or returns the decision closed,
        when the record cannot be written (the policy's ``audit.on_error``)."""
        if self.audit is None:
            return decision
        latency = None if started is None else (time.perf_counter() - started) * 1000
        checked = text if isinstance(text, str) else None
        try:
            return record_decision(self.audit, decision, policy=self.policy, text=checked, stage=stage,
                                   latency_ms=latency, epoch=now)
        except AuditError:
            # The call fails, but a crisis must still reach the hooks and the humans on call.
            self._run_hooks_sync(decision, checked if stage == "input" else None)
            raise

    # ---- hooks ----------------------------------------------------------------------------------------
    def _callbacks(self, decision: Decision, text: str | None) -> list[tuple[Callable[[Any], Any], Any]]:
        calls: list[tuple[Callable[[Any], Any], Any]] = [(hook, decision) for hook in self._hooks]
        event = self._escalation_event(decision, text)
        if event is not None:
            calls += [(handler, event) for handler in self._escalation]
        return calls

    def _run_hooks_sync(self, decision: Decision, text: str | None = None) -> None:
        for callback, argument in self._callbacks(decision, text):
            try:
                result = callback(argument)
                if inspect.isawaitable(result):
                    _run_awaitable_from_sync(result)
            except Exception:
                # A failing hook or handler must never cost the person their response.
                logger.exception("mhguard hook or escalation handler %r failed", callback)

    async def _run_hooks_async(self, decision: Decision, text: str | None = None) -> None:
        for callback, argument in self._callbacks(decision, text):
            try:
                result = callback(argument)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("mhguard hook or escalation handler %r failed", callback)

    # ---- wrapping -------------------------------------------------------------------------------------
    def _prepare(self, args: tuple[Any, ...], kwargs: dict[str, Any], locale: str | None,
                 session: Any) -> _Prepared:
        call = find_call(args, kwargs)
        decision = self._check(Stage.INPUT, call.user_text, history=call.history, locale=locale, session=session)
        rewritten = decision.text if decision.action == "rewrite" else None
        new_args, new_kwargs = call.replaced(rewritten, decision.instructions)
        return _Prepared(call, decision, new_args, new_kwargs)

    def _finish(self, prep: _Prepared, raw: object, locale: str | None, session: Any) -> Decision:
        if not isinstance(raw, str):
            raise ModelOutputError(f"the wrapped model returned {type(raw).__name__}, expected str")
        decision = self._check(Stage.OUTPUT, raw, history=prep.call.history, locale=locale, session=session,
                                  user_text=prep.call.user_text)
        return decision

    def _plan(self, args: tuple[Any, ...], kwargs: dict[str, Any], locale: str | None,
              session: Any) -> Generator[_Effect, Any, GuardedResult]:
        """The whole wrapped call as a state machine; drivers perform the model call and the hooks."""
        prep = self._prepare(args, kwargs, locale, session)
        yield _RunHooks(prep.decision, prep.call.user_text)
        if not prep.decision.allowed:
            return GuardedResult(prep.decision.text or "", prep.decision, None, model_called=False)
        raw = yield _CallModel(prep.args, prep.kwargs)
        out = self._finish(prep, raw, locale, session)
        yield _RunHooks(out)
        text = out.text if out.text is not None else str(raw)
        if prep.decision.annotation and out.allowed:
            text = f"{text}\n\n{prep.decision.annotation}"
        return GuardedResult(text, prep.decision, out, model_called=True)

    def _drive_sync(self, fn: Callable[..., Any], plan: Generator[_Effect, Any, GuardedResult]) -> GuardedResult:
        value: Any = None
        try:
            while True:
                effect = plan.send(value)
                if isinstance(effect, _CallModel):
                    value = fn(*effect.args, **effect.kwargs)
                else:
                    self._run_hooks_sync(effect.decision, effect.text)
                    value = None
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def _drive_async(self, fn: Callable[..., Awaitable[Any]],
                           plan: Generator[_Effect, Any, GuardedResult]) -> GuardedResult:
        value: Any = None
        try:
            while True:
                effect = plan.send(value)
                if isinstance(effect, _CallModel):
                    value = await fn(*effect.args, **effect.kwargs)
                else:
                    await self._run_hooks_async(effect.decision, effect.text)
                    value = None
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def _judge_for(self, prep: _Prepared, locale: str | None, session: Any) -> tuple[StreamJudge, Any]:
        now = self.clock()
        resolved = self._session(session, Stage.OUTPUT, locale, now)
        ctx = self._context(Stage.OUTPUT, history=prep.call.history, locale=locale, session=resolved,
                            user_text=prep.call.user_text, now=now)
        pieces = 0

        def check(window: str, focus_start: int) -> Decision:
            nonlocal pieces
            # Filters that add notices once per reply (disclaimer) look at the piece number.
            piece_ctx = replace(ctx, extra={**ctx.extra, "stream_piece": pieces})
            pieces += 1
            return self.engine.run(Stage.OUTPUT, window, piece_ctx, focus_start=focus_start)

        judge = StreamJudge(check, self.policy.document.stream)
        judge.annotation = prep.decision.annotation
        return judge, resolved

    def _sync_stream(self, fn: Callable[..., Iterator[Any]], args: tuple[Any, ...], kwargs: dict[str, Any],
                     locale: str | None, session: Any, sink: list[Decision] | None) -> Iterator[str]:
        prep = self._prepare(args, kwargs, locale, session)
        self._run_hooks_sync(prep.decision, prep.call.user_text)
        if sink is not None:
            sink.append(prep.decision)
        if not prep.decision.allowed:
            yield prep.decision.text or ""
            return
        judge, resolved = self._judge_for(prep, locale, session)
        upstream = fn(*prep.args, **prep.kwargs)
        try:
            for chunk in upstream:
                yield from judge.feed(chunk)
                if judge.stopped:
                    break
            yield from judge.finish()
        finally:
            close = getattr(upstream, "close", None)
            if close is not None:
                close()
            summary = self._audit(judge.summary(), None, "stream", None, self.clock())
            self._remember(resolved, summary, self.clock(), in_store=isinstance(session, str))
            if sink is not None:
                sink.append(summary)
            self._run_hooks_sync(summary)

    async def _async_stream(self, fn: Callable[..., AsyncIterator[Any]], args: tuple[Any, ...],
                            kwargs: dict[str, Any], locale: str | None, session: Any,
                            sink: list[Decision] | None) -> AsyncIterator[str]:
        prep = self._prepare(args, kwargs, locale, session)
        await self._run_hooks_async(prep.decision, prep.call.user_text)
        if sink is not None:
            sink.append(prep.decision)
        if not prep.decision.allowed:
            yield prep.decision.text or ""
            return
        judge, resolved = self._judge_for(prep, locale, session)
        upstream = fn(*prep.args, **prep.kwargs)
        try:
            async for chunk in upstream:
                for piece in judge.feed(chunk):
                    yield piece
                if judge.stopped:
                    break
            for piece in judge.finish():
                yield piece
        finally:
            aclose = getattr(upstream, "aclose", None)
            if aclose is not None:
                await aclose()
            summary = self._audit(judge.summary(), None, "stream", None, self.clock())
            self._remember(resolved, summary, self.clock(), in_store=isinstance(session, str))
            if sink is not None:
                sink.append(summary)
            await self._run_hooks_async(summary)

    @overload
    def wrap(self, fn: Callable[..., T], *, locale: str | None = None, session: Any = None) -> Callable[..., T]: ...

    @overload
    def wrap(self, fn: None = None, *, locale: str | None = None,
             session: Any = None) -> Callable[[Callable[..., T]], Callable[..., T]]: ...

    def wrap(self, fn: Callable[..., Any] | None = None, *, locale: str | None = None,
             session: Any = None) -> Any:
        """Guard a chat callable: a function, coroutine function, generator or async generator function.

        The callable takes a ``str`` prompt or an OpenAI-style ``messages`` list (first argument or
        ``messages=``/``prompt=``). The wrapper checks the user text, answers a block or crisis itself
        WITHOUT calling the model, otherwise calls the model and checks (and streams) its reply.
        Call ``wrapped.detailed(...)`` for a :class:`GuardedResult` with both decisions (for generators:
        an iterator, and the decisions are appended to the list passed as ``decisions=``).
        Per-call ``mhguard_locale=`` and ``mhguard_session=`` keyword arguments override the defaults and
        are not passed to the model.
        """
        if fn is None:
            return functools.partial(self.wrap, locale=locale, session=session)
        if not callable(fn):
            raise TypeError("guard.wrap needs a callable")
        guard = self

        def options(kwargs: dict[str, Any]) -> tuple[str | None, Any]:
            return kwargs.pop("mhguard_locale", locale), kwargs.pop("mhguard_session", session)

        wrapper: Any
        detailed: Any
        if inspect.isasyncgenfunction(fn):
            @functools.wraps(fn)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[str]:
                loc, ses = options(kwargs)
                async for piece in guard._async_stream(fn, args, kwargs, loc, ses, None):
                    yield piece

            def agen_detailed(*args: Any, decisions: list[Decision] | None = None,
                              **kwargs: Any) -> AsyncIterator[str]:
                loc, ses = options(kwargs)
                return guard._async_stream(fn, args, kwargs, loc, ses, decisions)

            wrapper, detailed = agen_wrapper, agen_detailed
        elif inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Iterator[str]:
                loc, ses = options(kwargs)
                yield from guard._sync_stream(fn, args, kwargs, loc, ses, None)

            def gen_detailed(*args: Any, decisions: list[Decision] | None = None, **kwargs: Any) -> Iterator[str]:
                loc, ses = options(kwargs)
                return guard._sync_stream(fn, args, kwargs, loc, ses, decisions)

            wrapper, detailed = gen_wrapper, gen_detailed
        elif inspect.iscoroutinefunction(fn):
            async def coro_detailed(*args: Any, **kwargs: Any) -> GuardedResult:
                loc, ses = options(kwargs)
                return await guard._drive_async(fn, guard._plan(args, kwargs, loc, ses))

            @functools.wraps(fn)
            async def coro_wrapper(*args: Any, **kwargs: Any) -> str:
                return (await coro_detailed(*args, **kwargs)).text

            wrapper, detailed = coro_wrapper, coro_detailed
        else:
            def sync_detailed(*args: Any, **kwargs: Any) -> GuardedResult:
                loc, ses = options(kwargs)
                return guard._drive_sync(fn, guard._plan(args, kwargs, loc, ses))

            @functools.wraps(fn)
            def sync_wrapper(*args: Any, **kwargs: Any) -> str:
                return sync_detailed(*args, **kwargs).text

            wrapper, detailed = sync_wrapper, sync_detailed
        wrapper.detailed = detailed
        wrapper.guard = self
        return wrapper

    def __call__(self, fn: Callable[..., T]) -> Callable[..., T]:
        """``@guard`` decorates a chat callable; same as :meth:`wrap`."""
        return self.wrap(fn)


def _run_awaitable_from_sync(awaitable: Awaitable[Any]) -> None:
    """Run an async hook from a sync check: as a task when a loop runs here, else to completion."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_await(awaitable))
        return
    task = loop.create_task(_await(awaitable))
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


