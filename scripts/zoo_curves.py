"""The zoo recipes' training curves side by side: win rate against the idle robot and the
policy's entropy per block of iterations, for every body and every recipe's run.

Reads ``training/zoo2`` to ``zoo7`` (``metrics.csv`` and ``budget.json`` of each
``selfplay-<body>`` run); a run continued from another's copy (recipe 4 from recipe 2) counts
from where it took over (``budget.json``'s ``continued_from``), its earlier rows being the other
run's. The win rate of an iteration is over the bouts against the idle robot that ended in its
rollout (a few per iteration, with action noise); a block's value is the mean over its
iterations that had such bouts, with a 95 % t-interval over those iterations. Writes the
"zoo-curves" section of docs/results.md and docs/plots/zoo_curves.png.

Usage:
    python scripts/zoo_curves.py [--block 50]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from resultsdoc import ROOT, commit, mean_ci, save_figure, write_section

from agents.logger import read_metrics

BODIES = ("ant", "bug", "spider")
RECIPES = {2: "training/zoo2", 3: "training/zoo3", 4: "training/zoo4", 5: "training/zoo5",
           6: "training/zoo6", 7: "training/zoo7"}


def read_run(run: Path) -> tuple[list[dict], int, dict]:
    """(metrics rows, the first iteration that is the run's own, budget)."""
    rows = read_metrics(run / "metrics.csv")
    budget = json.loads((run / "budget.json").read_text()) if (run / "budget.json").exists() \
        else {}
    start = 0
    if "continued_from" in budget:
        taken = budget["continued_from"]["env_steps"]
        start = next((int(r["iteration"]) for r in rows if int(r["env_steps"]) > taken),
                     len(rows) + 1)
    return rows, start, budget


def blocks(rows: list[dict], start: int, block: int) -> dict[int, dict[str, tuple]]:
    """Block start -> {"idle": (mean, half, n), "entropy": (mean, half, n)} over the rows of
    iterations >= ``start``."""
    out: dict[int, dict[str, list[float]]] = {}
    for r in rows:
        it = int(r["iteration"])
        if it < start:
            continue
        cell = out.setdefault((it // block) * block, {"idle": [], "entropy": []})
        for key, column in (("idle", "win_rate_idle"), ("entropy", "entropy")):
            x = r.get(column)
            if x is not None and math.isfinite(x):
                cell[key].append(x)
    return {b: {k: (*mean_ci(v), len(v)) if v else (math.nan, math.nan, 0)
                for k, v in cell.items()} for b, cell in out.items()}


def fmt(cell: tuple, pct: bool) -> str:
    mean, half, n = cell
    if n == 0:
        return "-"
    if pct:
        return f"{mean:.2f} ± {half:.2f}" if math.isfinite(half) else f"{mean:.2f}"
    return f"{mean:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--block", type=int, default=50, help="iterations per row")
    args = parser.parse_args()
    if args.block < 1:
        parser.error(f"--block must be an integer >= 1, got {args.block}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    sections, budgets = [], []
    for ax, body in zip(axes, BODIES, strict=True):
        table: dict[int, dict[int, dict]] = {}
        for recipe, root in RECIPES.items():
            run = ROOT / root / f"selfplay-{body}"
            if not (run / "metrics.csv").exists():
                continue
            rows, start, budget = read_run(run)
            table[recipe] = blocks(rows, start, args.block)
            xs = sorted(table[recipe])
            ax.plot([x + args.block / 2 for x in xs],
                    [table[recipe][x]["idle"][0] for x in xs], marker="o", ms=3,
                    label=f"recipe {recipe}")
            own = [i for i in budget.get("invocations", [])[
                budget.get("continued_from", {}).get("invocations", 0):]]
            budgets.append(f"- {body}, recipe {recipe} (`{root}/selfplay-{body}`): "
                           f"{int(rows[-1]['env_steps']):,} arena steps at iteration "
                           f"{int(rows[-1]['iteration'])}; its own "
                           f"{sum(i['steps'] for i in own):,} steps in "
                           f"{sum(i['cpu_s'] for i in own) / 3600:.2f} CPU hours over "
                           f"{len(own)} invocation(s)")
        ax.set_title(body)
        ax.set_xlabel("iteration (10,240 arena steps each)")
        ax.grid(alpha=0.3)
        recipes = sorted(table)
        starts = sorted({b for r in recipes for b in table[r]})
        head = "| iterations | " + " | ".join(
            f"recipe {r}: vs idle | recipe {r}: entropy" for r in recipes) + " |"
        lines = [head, "|---|" + "---:|---:|" * len(recipes)]
        for b in starts:
            cells = []
            for r in recipes:
                cell = table[r].get(b)
                cells += ([fmt(cell["idle"], True), fmt(cell["entropy"], False)] if cell
                          else ["", ""])
            lines.append(f"| {b}-{b + args.block - 1} | " + " | ".join(cells) + " |")
        sections.append(f"**{body}**\n\n" + "\n".join(lines))
    axes[0].set_ylabel("win rate against idle (training bouts)")
    axes[0].legend()
    plot = save_figure(fig, ROOT / "docs" / "plots" / "zoo_curves.png")
    plt.close(fig)

    body = f"""## The zoo recipes' training curves

Command: `python scripts/zoo_curves.py --block {args.block}` (commit {commit()}). Per block of
{args.block} iterations and per recipe: the win rate against the idle robot in training (mean
over the block's iterations that had bouts against it, ± its 95 % t-interval over them; bouts
of the training rollouts, with action noise) and the policy's entropy (summed over the action
dimensions). Recipe 4 continues recipe 2's runs, recipe 5 recipe 4's, recipe 6 recipe 5's
and recipe 7 recipe 6's: a continuing recipe's rows start where it took over, and the rows
before are the earlier recipe's. An empty cell: the run has no iterations in that block.

""" + "\n\n".join(sections) + f"""

Budget of each run:

{chr(10).join(budgets)}

![training curves](plots/{plot.name})
"""
    print(write_section("zoo-curves", body))


if __name__ == "__main__":
    main()
