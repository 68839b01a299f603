"""Training metrics to CSV and TensorBoard, appended across resumed runs."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

# TensorBoard groups, as SB3 and CleanRL show them: what the rollouts saw, what the update did,
# how fast it ran; anything else goes under its trainer's name ("train/").
_ROLLOUT = ("return", "length", "episodes", "win_rate", "loss_rate", "draw_rate", "shaping")
_TIME = ("steps_per_s", "iteration_s")


def tensorboard_tag(key: str) -> str:
    """The grouped TensorBoard tag of a metric: ``rollout/``, ``time/`` or ``train/``."""
    if key.startswith(_TIME):
        return f"time/{key}"
    if key.startswith(_ROLLOUT) or key.startswith(("pre_", "post_")):
        return f"rollout/{key}"
    return f"train/{key}"


class MetricsLogger:
    """Writes one row per iteration to ``metrics.csv`` and scalars to TensorBoard event files.

    The CSV header grows with the first row that brings a new metric (earlier rows get empty
    cells); a resumed run appends to the same file (rows past the resume point are dropped
    first, so nothing is counted twice).

    Args:
        directory: the run directory.
        tensorboard: also write TensorBoard events under ``directory / "tb"``.
    """

    def __init__(self, directory: Path, tensorboard: bool = True) -> None:
        self.path = Path(directory) / "metrics.csv"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fields: list[str] | None = None
        if self.path.exists():
            with self.path.open(newline="") as f:
                self._fields = next(csv.reader(f), None)
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(Path(directory) / "tb"))

    def truncate_after(self, iteration: int) -> None:
        """Drop rows of iterations after ``iteration`` (they were not checkpointed)."""
        if not self.path.exists() or self._fields is None:
            return
        with self.path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["iteration"]) <= iteration]
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, self._fields)
            writer.writeheader()
            writer.writerows(rows)

    def log(self, row: dict[str, Any]) -> None:
        """Append a row (must contain ``iteration`` and ``env_steps``)."""
        if self._fields is None:
            self._fields = list(row)
            with self.path.open("w", newline="") as f:
                csv.DictWriter(f, self._fields).writeheader()
        elif any(k not in self._fields for k in row):  # a new metric: widen the header
            with self.path.open(newline="") as f:
                rows = list(csv.DictReader(f))
            self._fields += [k for k in row if k not in self._fields]
            with self.path.open("w", newline="") as f:
                writer = csv.DictWriter(f, self._fields)
                writer.writeheader()
                writer.writerows(rows)
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self._fields, extrasaction="ignore").writerow(
                {k: row.get(k, "") for k in self._fields})
        if self._tb is not None:
            step = int(row["env_steps"])
            for key, value in row.items():
                if isinstance(value, int | float) and math.isfinite(value) and key != "env_steps":
                    self._tb.add_scalar(tensorboard_tag(key), value, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(path: Path | str) -> list[dict[str, float]]:
    """Rows of a ``metrics.csv`` as floats (empty cells dropped)."""
    with Path(path).open(newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(f)]
