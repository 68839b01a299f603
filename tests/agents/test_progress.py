"""Progress in a log is periodic plain lines (no carriage returns); on a terminal it is a bar."""

from __future__ import annotations

import io

from agents import progress as progress_module
from agents.progress import LogProgress, progress_bar


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_line_every_interval_with_what_is_left(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    out = io.StringIO()
    bar = LogProgress(1000, 0, "steps", "ppo", out, every=10.0)
    for _ in range(10):
        clock.now += 3.0
        bar.update(50)
        bar.set_postfix({"win_rate": "0.5"})
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    # at 12, 24 s (every 10 s at most) and the final line
    assert lines[0] == "ppo: 200/1,000 steps (20 %), 12 s, about 48 s left; win_rate 0.5"
    assert len(lines) == 3 and lines[-1].startswith("ppo: 500/1,000 steps (50 %), 30 s")


def test_a_terminal_gets_a_bar_and_a_file_gets_lines(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert type(progress_bar(10, file=Terminal())).__name__ == "tqdm"
    with open(tmp_path / "log.txt", "w") as handle:
        assert isinstance(progress_bar(10, file=handle), LogProgress)
    silent = progress_bar(10, disable=True)
    silent.update(5)
    silent.close()
