"""Progress for whatever makes a person wait: a bar on a terminal, periodic lines in a log.

``tqdm`` draws its bar with carriage returns, which a redirected log receives as one endless line
(or, hidden on a non-terminal, as 70 seconds of nothing). ``progress_bar`` gives the bar on a
terminal and otherwise a plain line every ``every`` seconds, with the same ``update`` /
``set_postfix`` / ``close`` calls.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

LOG_EVERY = 15.0  # seconds between progress lines in a log


class LogProgress:
    """Progress as lines: ``desc: 1,200/5,000 steps (24 %), 1.5 min, about 4.8 min left``."""

    def __init__(self, total: float | None, initial: float = 0, unit: str = "it",
                 desc: str = "progress", file: TextIO | None = None,
                 every: float = LOG_EVERY) -> None:
        self.total, self.n, self.unit, self.desc = total, initial, unit, desc
        self.file = file or sys.stderr
        self.every = every
        self._start_n, self._start = initial, time.monotonic()
        self._last = self._start
        self._postfix = ""

    def update(self, n: float = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._print(now)

    def set_postfix(self, values: dict[str, Any] | None = None, **kwargs: Any) -> None:
        items = {**(values or {}), **kwargs}
        self._postfix = ", ".join(f"{k} {v}" for k, v in items.items())

    def close(self) -> None:
        if self.n != self._start_n:
            self._print(time.monotonic(), final=True)

    def _print(self, now: float, final: bool = False) -> None:
        elapsed = now - self._start
        done = f"{self.n:,.0f}" + (f"/{self.total:,.0f}" if self.total else "")
        line = f"{self.desc}: {done} {self.unit}"
        if self.total:
            line += f" ({100 * self.n / self.total:.0f} %)"
        line += f", {_duration(elapsed)}"
        rate = (self.n - self._start_n) / elapsed if elapsed > 0 else 0.0
        if self.total and rate > 0 and not final and self.n < self.total:
            line += f", about {_duration((self.total - self.n) / rate)} left"
        if self._postfix:
            line += f"; {self._postfix}"
        print(line, file=self.file, flush=True)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def progress_bar(total: float | None, initial: float = 0, unit: str = "it",
                 desc: str = "progress", disable: bool = False,
                 file: TextIO | None = None) -> Any:
    """A tqdm bar on a terminal, periodic lines elsewhere (``disable``: nothing at all)."""
    from tqdm import tqdm

    file = file or sys.stderr
    if disable:
        return tqdm(total=total, disable=True)
    if getattr(file, "isatty", lambda: False)():
        return tqdm(total=total, initial=initial, unit=unit, desc=desc, file=file,
                    dynamic_ncols=True)
    return LogProgress(total, initial, unit, desc, file)
