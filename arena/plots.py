"""PNG plots of a league: ratings over time, payoff heatmap, win rates by group (matplotlib Agg)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def colours(n: int) -> list[Any]:
    """``n`` distinct colours: matplotlib's tab10 up to 10, tab20 up to 20, then an HSV wheel
    (the 10-colour cycle gave the first and the eleventh agent one colour)."""
    plt = _pyplot()
    if n <= 10:
        return [plt.get_cmap("tab10")(k) for k in range(n)]
    if n <= 20:
        return [plt.get_cmap("tab20")(k) for k in range(n)]
    return [plt.get_cmap("hsv")(k / n) for k in range(n)]


def ratings_plot(history: Sequence[Mapping[str, Any]], path: Path,
                 order: Sequence[str] | None = None) -> Path:
    """Each agent's ``mu - 3 sigma`` after every game it played, against the game number.

    Args:
        history: rating updates (``leagues.report.rating_history``): game, name, ordinal, ...
        path: the PNG file to write.
        order: agent names in legend order (default: by final rating).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=DPI)
    series: dict[str, tuple[list[int], list[float]]] = {}
    for row in history:
        games, values = series.setdefault(row["name"], ([], []))
        games.append(int(row["game"]))
        values.append(float(row["ordinal"]))
    names = [n for n in order if n in series] if order else sorted(
        series, key=lambda name: -series[name][1][-1])
    names += [n for n in series if n not in names]
    for name, colour in zip(names, colours(len(names)), strict=True):
        games, values = series[name]
        ax.plot(games, values, marker="o", markersize=3, label=name, color=colour)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("game")
    ax.set_ylabel("rating (mu - 3 sigma)")
    ax.set_title("Ratings over time")
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def payoff_heatmap(names: Sequence[str], rate: np.ndarray, count: np.ndarray, path: Path) -> Path:
    """The payoff table as a heatmap: row's score against column (draws half), games in cells.

    Args:
        names: agent names (rows and columns).
        rate: ``[n, n]`` scores of row against column.
        count: ``[n, n]`` games between row and column.
        path: the PNG file to write.
    """
    plt = _pyplot()
    n = len(names)
    size = 2.5 + 0.6 * n
    fig, ax = plt.subplots(figsize=(size + 1.5, size), dpi=DPI)
    shown = np.where(count > 0, rate, np.nan)
    image = ax.imshow(shown, cmap="RdYlGn", vmin=0.0, vmax=1.0)
    for i in range(n):
        for j in range(n):
            if count[i, j] > 0:
                ax.text(j, i, f"{rate[i, j]:.2f}\n({int(count[i, j])})", ha="center",
                        va="center", fontsize=7)
    ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    ax.set_xlabel("opponent")
    ax.set_title("Payoff: row's score against column (games)")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def win_rate_bars(groups: Mapping[str, Sequence[tuple[str, float, float, float]]],
                  path: Path) -> Path:
    """Side-by-side bar charts of episode win rates with their 95 % intervals.

    Args:
        groups: panel title -> rows of (label, rate, low, high).
        path: the PNG file to write.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.6), dpi=DPI,
                             squeeze=False)
    for ax, (title, rows) in zip(axes[0], groups.items(), strict=True):
        labels = [r[0] for r in rows]
        rates = np.array([r[1] for r in rows])
        err = np.array([[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]])
        ax.bar(range(len(rows)), rates, yerr=err if len(rows) else None, capsize=4,
               color="#4c78a8")
        ax.set_xticks(range(len(rows)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_ylabel("episode win rate")
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
