"""Progress display for ``mhguard scan`` on stderr: tqdm when installed (``mhguard[scan]``), else one line.

``auto`` shows progress only when stderr is a terminal (logs and CI output stay clean); ``always`` shows it
anyway: the built-in display then writes a full line at most every few seconds instead of redrawing one.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, Protocol, TextIO

__all__ = ["PROGRESS_MODES", "LineProgress", "Progress", "open_progress", "wants_total"]

PROGRESS_MODES = ("auto", "always", "never")


class Progress(Protocol):
    def update(self, rows: int, messages: int) -> None: ...

    def close(self) -> None: ...


class _NoProgress:
    def update(self, rows: int, messages: int) -> None:
        pass

    def close(self) -> None:
        pass


class LineProgress:
    """A dependency-free progress line: redrawn in place on a terminal, appended as lines elsewhere."""

    def __init__(self, stream: TextIO, *, total: int | None, initial: int = 0, tty: bool | None = None,
                 interval: float | None = None, clock: Any = time.monotonic) -> None:
        self.stream = stream
        self.total = total
        self.rows = initial
        self.messages = 0
        self.tty = stream.isatty() if tty is None else tty
        # Redrawing in place is cheap; appended lines are not, so a log gets one every few seconds.
        self.interval = interval if interval is not None else (0.2 if self.tty else 5.0)
        self._clock = clock
        self._start = clock()
        self._last = self._start

    def _line(self) -> str:
        elapsed = max(self._clock() - self._start, 1e-9)
        done = f"{self.rows:,}/{self.total:,} rows" if self.total is not None else f"{self.rows:,} rows"
        if self.total:
            done += f" ({100 * self.rows / self.total:.0f}%)"
        return f"mhguard scan: {done}, {self.messages:,} messages, {self.messages / elapsed:,.0f} messages/s"

    def _emit(self) -> None:
        if self.tty:
            self.stream.write("\r" + self._line() + "\x1b[K")
        else:
            self.stream.write(self._line() + "\n")
        self.stream.flush()

    def update(self, rows: int, messages: int) -> None:
        self.rows += rows
        self.messages += messages
        now = self._clock()
        if now - self._last >= self.interval:
            self._last = now
            self._emit()

    def close(self) -> None:
        self._emit()
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class _TqdmProgress:
    def __init__(self, tqdm: Any, stream: TextIO, total: int | None, initial: int) -> None:
        tqdm.monitor_interval = 0  # no monitor thread: the scan forks its workers after the bar exists
        self.messages = 0
        self.bar = tqdm(total=total, initial=initial, unit="row", file=stream, desc="mhguard scan",
                        mininterval=0.2, dynamic_ncols=True)

    def update(self, rows: int, messages: int) -> None:
        self.messages += messages
        self.bar.set_postfix_str(f"{self.messages:,} messages", refresh=False)
        self.bar.update(rows)

    def close(self) -> None:
        self.bar.close()


def _tqdm() -> Any:
    try:
        # Imported by name so that tqdm stays optional and untyped installs do not concern mypy.
        return importlib.import_module("tqdm").tqdm
    except ImportError:
        return None


def open_progress(mode: str, stream: TextIO, *, total: int | None, initial: int = 0,
                  use_tqdm: bool = True) -> Progress:
    """A progress display for ``mode`` (``auto``, ``always``, ``never``) on ``stream``."""
    if mode not in PROGRESS_MODES:
        raise ValueError(f"progress mode must be one of {', '.join(PROGRESS_MODES)}, not {mode!r}")
    isatty = getattr(stream, "isatty", lambda: False)()
    if mode == "never" or (mode == "auto" and not isatty):
        return _NoProgress()
    tqdm = _tqdm() if use_tqdm else None
    if tqdm is not None:
        return _TqdmProgress(tqdm, stream, total, initial)
    return LineProgress(stream, total=total, initial=initial, tty=isatty)


def wants_total(mode: str, stream: TextIO) -> bool:
    """Whether a display will be shown (and so whether counting the input rows first is worth it)."""
    return mode == "always" or (mode == "auto" and bool(getattr(stream, "isatty", lambda: False)()))
