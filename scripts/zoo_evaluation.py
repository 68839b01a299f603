"""How strong the zoo's self-play lineages are: against idle and random robots, the previous zoo,
each other (the paper's Table 2 matchups) and, where a copy is present, the original policies.

For each body the candidate is the newest snapshot of the lineage ``selfplay-<body>`` under
``--zoo`` (the shipped zoo by default; ``training/zoo`` evaluates the long runs in progress).
Every entry is ``--episodes`` bouts with sides alternating (half of the arenas seat the candidate
as player_0), fixed seeds, outcomes from the first-named agent's side, 95 % Wilson intervals. With
``--original SRC`` (the original policy_zoo/assets folder, a user's own copy) the 18 original
policies are converted into a temporary folder and played too: each candidate against the three
MLP and the three LSTM versions of its body (bouts pooled over versions), and the original
policies against each other across bodies (Table 2 as the original agents see it in our physics).

Writes the ``zoo-evaluation`` section of docs/results.md and docs/results/zoo.json (with
``--section NAME``: the section NAME and docs/results/NAME.json, beside the earlier ones).

Usage:
    python scripts/zoo_evaluation.py [--zoo agents/zoo] [--previous agents/zoo]
        [--original SRC] [--episodes 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

from resultsdoc import ROOT, commit, machine, save_figure, write_section

from agents.evaluate import ENDS, MatchResult, head_to_head
from agents.lineage import Lineage
from agents.policy import load_policy

BODIES = ("ant", "bug", "spider")


def candidate(root: Path, body: str) -> tuple[object, str, int]:
    """The newest snapshot of ``selfplay-<body>`` under ``root`` (a zoo folder, or a folder of
    training runs, each holding ``lineage/selfplay-<body>``): (policy, label, env steps)."""
    lineage = Lineage(root, f"selfplay-{body}")
    if lineage.latest() is None:  # a training run's directory
        lineage = Lineage(root / f"selfplay-{body}" / "lineage", f"selfplay-{body}")
    latest = lineage.latest()
    if latest is None:
        raise SystemExit(f"{lineage.directory} holds no snapshots")
    policy, meta = load_policy(lineage.path(latest))
    return policy, f"selfplay-{body}@{latest}", int(meta.extra.get("env_steps", 0))


def training_curves(root: Path, out: Path) -> Path | None:
    """Win rates against each kind of opponent over training, per body, from the runs' metrics
    (``--zoo`` a folder of training runs); None if there are none."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    runs = {b: root / f"selfplay-{b}" / "metrics.csv" for b in BODIES}
    runs = {b: p for b, p in runs.items() if p.is_file()}
    if not runs:
        return None
    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 3.4), dpi=110,
                             squeeze=False, sharey=True)
    for ax, (body, path) in zip(axes[0], runs.items(), strict=True):
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        steps = np.array([float(r["env_steps"]) for r in rows]) / 1e6
        for kind in ("idle", "random", "pool", "self"):
            key = f"win_rate_{kind}"
            values = np.array([float(r[key]) if r.get(key) not in (None, "") else np.nan
                               for r in rows])
            if np.isfinite(values).sum() < 2:
                continue
            # a running mean over 10 iterations (each iteration sees a few dozen bouts)
            kernel = np.ones(10)
            ok = np.isfinite(values)
            smooth = (np.convolve(np.where(ok, values, 0.0), kernel, "same")
                      / np.maximum(np.convolve(ok.astype(float), kernel, "same"), 1))
            ax.plot(steps, smooth, label=f"vs {kind}")
        ax.set_title(f"{body}")
        ax.set_xlabel("arena steps (millions)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("training win rate (10-iteration mean)")
    axes[0][-1].legend(fontsize=8)
    save_figure(fig, out, dpi=100)
    plt.close(fig)
    return out


def pooled(results: list[MatchResult]) -> MatchResult:
    return MatchResult(sum(r.wins for r in results), sum(r.losses for r in results),
                       sum(r.draws for r in results))


def cell(r: MatchResult) -> str:
    lo, hi = r.interval("win")
    return (f"{100 * r.win_rate:.0f} % [{100 * lo:.0f}, {100 * hi:.0f}] "
            f"({r.wins}/{r.losses}/{r.draws})")


def record(r: MatchResult, a: str, b: str) -> dict:
    lo, hi = r.interval("win")
    return {"a": a, "b": b, "wins": r.wins, "losses": r.losses, "draws": r.draws,
            "win_rate": r.win_rate, "ci_low": lo, "ci_high": hi, "ends": r.ends}


def ends_table(results: list[tuple[str, str, MatchResult]]) -> str:
    """How bouts ended, one row per match (counts; ``ENDS``' columns that occur)."""
    cols = [e for e in ENDS if any(r.ends.get(e) for _, _, r in results)]
    lines = ["| A | B | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    lines += [f"| {a} | {b} | " + " | ".join(str(r.ends.get(e, 0)) for e in cols) + " |"
              for a, b, r in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", type=Path, default=ROOT / "agents" / "zoo",
                        help="folder holding the lineages selfplay-<body>")
    parser.add_argument("--previous", type=Path, default=None,
                        help="an earlier zoo folder to play against (default: none)")
    parser.add_argument("--original", type=Path, default=None,
                        help="the original RoboSumo policy_zoo/assets folder, if you have one")
    parser.add_argument("--episodes", type=int, default=100, help="bouts per entry")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--section", default="zoo-evaluation",
                        help="the docs/results.md section to write: zoo-evaluation or "
                             "zoo-evaluation-<name>, which keeps the earlier evaluation (its JSON "
                             "goes to docs/results/<section>.json)")
    args = parser.parse_args()
    if not re.fullmatch(r"zoo-evaluation(-[a-z0-9]+)*", args.section):
        parser.error(f"--section must be zoo-evaluation or zoo-evaluation-<name> (lowercase "
                     f"words joined by '-'), got {args.section!r}")
    start = time.perf_counter()
    n, seed = args.episodes, args.seed
    cands = {b: candidate(args.zoo, b) for b in BODIES}
    records: list[dict] = []

    def play(a, b, bodies, a_name, b_name, k):
        r = head_to_head(a, b, bodies, n, seed=seed + 1000 * k)
        records.append(record(r, a_name, b_name))
        print(f"{a_name} vs {b_name}: {cell(r)}", flush=True)
        return r

    rows, k, builtin = [], 0, []
    prev = {b: candidate(args.previous, b) for b in BODIES} if args.previous else {}
    for body in BODIES:
        policy, label, _ = cands[body]
        res = []
        for opp, opp_name in (("idle", f"idle-{body}"), ("random", f"random-{body}")):
            res.append(play(policy, opp, (body, body), label, opp_name, k := k + 1))
            builtin.append((label, opp_name, res[-1]))
        if prev:
            res.append(play(policy, prev[body][0], (body, body), label,
                            f"previous {prev[body][1]}", k := k + 1))
        rows.append(f"| {label} | {cands[body][2]:,} | " + " | ".join(cell(r) for r in res) + " |")
    prev_col = " vs previous zoo |" if prev else ""
    table1 = ("| candidate | training steps | vs idle | vs random |" + prev_col + "\n"
              "|---|---:|---|---|" + ("---|" if prev else "") + "\n" + "\n".join(rows))

    cross = ["| A \\ B | " + " | ".join(BODIES) + " |", "|---|---|---|---|"]
    for a in BODIES:
        line = []
        for b in BODIES:
            line.append(cell(play(cands[a][0], cands[b][0], (a, b), cands[a][1], cands[b][1],
                                  k := k + 1)))
        cross.append(f"| {a} | " + " | ".join(line) + " |")

    original_text = "The original policies were not played (no `--original` folder given)."
    if args.original:
        from agents.robosumo_original import import_robosumo, load_original

        with tempfile.TemporaryDirectory() as tmp:
            files = {p.stem: p for p in import_robosumo(args.original, tmp)}
            orig = {name: load_original(p)[0] for name, p in files.items()}
            vs = ["| candidate | vs original MLP v1-v3 (pooled) | "
                  "vs original LSTM v1-v3 (pooled) |", "|---|---|---|"]
            for body in BODIES:
                policy, label, _ = cands[body]
                per_arch = []
                for arch in ("mlp", "lstm"):
                    per_arch.append(pooled([
                        play(policy, orig[f"robosumo-{body}-{arch}-v{v}"], (body, body), label,
                             f"robosumo-{body}-{arch}-v{v}", k := k + 1) for v in (1, 2, 3)]))
                vs.append(f"| {label} | {cell(per_arch[0])} | {cell(per_arch[1])} |")
            table2 = {}
            for arch in ("mlp", "lstm"):
                t = [f"| {arch.upper()} v1: A \\ B | " + " | ".join(BODIES) + " |",
                     "|---|---|---|---|"]
                for a in BODIES:
                    t.append(f"| {a} | " + " | ".join(cell(play(
                        orig[f"robosumo-{a}-{arch}-v1"], orig[f"robosumo-{b}-{arch}-v1"],
                        (a, b), f"robosumo-{a}-{arch}-v1", f"robosumo-{b}-{arch}-v1",
                        k := k + 1)) for b in BODIES) + " |")
                table2[arch] = "\n".join(t)
        original_text = ("Against the original policies of its body (the converted files of "
                         "`arena zoo import-robosumo`; "
                         f"{n} bouts per version, pooled over v1-v3):\n\n" + "\n".join(vs) +
                         "\n\nThe original policies against each other across bodies (v1, "
                         "win rate of A; the paper's Table 2 reports about 50 % between "
                         "bodies):\n\n" + table2["mlp"] + "\n\n" + table2["lstm"])

    plot_name = "zoo_training.png" if args.section == "zoo-evaluation" else \
        f"{args.section.replace('-', '_')}.png"
    curves = training_curves(args.zoo, ROOT / "docs" / "plots" / plot_name)
    budget_lines = []
    for body in BODIES:
        budget = args.zoo / f"selfplay-{body}" / "budget.json"
        if budget.is_file():
            data = json.loads(budget.read_text())
            budget_lines.append(f"- {body}: {data['env_steps']:,} arena steps, "
                                f"{data['cpu_hours']:.2f} CPU hours over "
                                f"{len(data['invocations'])} invocation(s)")
    minutes = (time.perf_counter() - start) / 60
    zoo = args.zoo.resolve().relative_to(ROOT) if args.zoo.resolve().is_relative_to(ROOT) \
        else args.zoo.name
    command = (f"python scripts/zoo_evaluation.py --zoo {zoo}"
               + (f" --previous {args.previous.resolve().relative_to(ROOT)}"
                  if args.previous and args.previous.resolve().is_relative_to(ROOT) else "")
               + (" --original <the original policy_zoo/assets>" if args.original else "")
               + f" --episodes {n} --seed {seed}"
               + (f" --section {args.section}" if args.section != "zoo-evaluation" else ""))
    title = "" if args.section == "zoo-evaluation" else \
        f" ({args.section[len('zoo-evaluation-'):].replace('-', ' ')})"
    body = f"""## The zoo's self-play lineages: how strong they are{title}

Command: `{command}` (commit {commit()}, {machine()}, {minutes:.0f} min). {n} bouts per entry,
sides alternating, win rate of the first-named agent with its 95 % Wilson interval and
(wins/losses/draws).

{table1}

How those bouts against idle and random ended (counts; "fell": the torso touched the tatami,
"out": it left it; A is the candidate):

{ends_table(builtin)}

Between bodies (the candidates of the table above; row A against column B):

{chr(10).join(cross)}

{original_text}
""" + ("" if not budget_lines else "\nTraining budget so far (`budget.json` of each run):\n\n"
       + "\n".join(budget_lines) + "\n") + ("" if curves is None else
    f"\n![training win rates](plots/{plot_name})\n\nWin rates during training against "
    "each kind of opponent (from the runs' metrics.csv; bouts of the training rollouts, with "
    "action noise).\n")
    print(write_section(args.section, body))
    out = ROOT / "docs" / "results" / ("zoo.json" if args.section == "zoo-evaluation"
                                       else f"{args.section}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": command, "episodes": n, "seed": seed,
                               "candidates": {b: {"agent": c[1], "env_steps": c[2]}
                                              for b, c in cands.items()},
                               "matches": records}, indent=1) + "\n")


if __name__ == "__main__":
    main()
