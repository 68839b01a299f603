"""Continuous adaptation in RoboSumo for every body: the zoo's meta-learners against their lineage.

For each body of ``--bodies``, iterated adaptation games (the protocol of
``scripts/sumo_adaptation.py``: the opponent is the zoo's ``selfplay-<body>`` lineage, one
stored version later every round from its first, ``--episodes`` bouts per round, the agent
adapting between rounds from the game's own bouts) of these methods, every one on the same
``--games`` game seeds so that differences are paired game by game:

- no adaptation: the lineage's newest version frozen; PPO tracking of it;
- MAML, NoRML and RL^2 (``zoo:<method>-sumo-<body>``, trained by ``scripts/population_zoo.py``)
  adapting their own way, and each with ``adapt=none`` (MAML and NoRML: theta frozen; RL^2: its
  memory cleared at every bout).

Outcomes are cached per method under ``--runs`` (rerunning plays only what is missing); the
games of different methods run in ``--workers`` processes. Writes the section
"sumo-adaptation-bodies" of docs/results.md with a plot, and its comparisons (adapted minus own
frozen self, every method minus no adaptation, per body and pooled over the bodies) to
docs/results/adaptation.json.

Usage:
    python scripts/sumo_adaptation_bodies.py [--bodies ant bug spider] [--games 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from population_zoo import run_name
from resultsdoc import ROOT, commit, machine, mean_ci, save_figure, update_entries, write_section
from sumo_adaptation import draw, play_cached

from leagues.roster import AgentSpec

SECTION = "sumo-adaptation-bodies"
BODIES = ("ant", "bug", "spider")
NONE, TRACKING = "no adaptation", "PPO tracking"
METHODS = ("maml", "norml", "rl2")
LABELS = {"maml": "MAML", "norml": "NoRML", "rl2": "RL^2"}
SEED = 20_000  # the game seeds of scripts/sumo_adaptation.py
REPLICATED = ("maml", "norml")  # the methods --seeds applies to (RL^2: seed 0 only)


def learners(seeds: list[int]) -> list[tuple[str, str, int]]:
    """(label, method, training seed) of every meta-learner played."""
    return [(LABELS[m] + (f", seed {seed}" if seed else ""), m, seed)
            for m in METHODS for seed in (seeds if m in REPLICATED else [0])]


def frozen(label: str) -> str:
    return f"{label}, frozen"


def methods(body: str, seeds: list[int]) -> dict[str, AgentSpec]:
    """The methods of one body, by the names of the report."""
    lineage = f"zoo:selfplay-{body}"
    out = {NONE: AgentSpec(lineage), TRACKING: AgentSpec(lineage, adaptation="tracking")}
    for label, method, seed in learners(seeds):
        ref = f"zoo:{run_name(method, body, seed)}"
        out[label] = AgentSpec(ref)
        out[frozen(label)] = AgentSpec(ref, adaptation="none")
    return out


def cost(name: str) -> int:
    """The slowest first, so that the workers finish together (MAML adapts on 75 bouts every
    round, tracking runs PPO; frozen agents only act)."""
    if name.startswith("MAML") and not name.endswith("frozen"):
        return 0
    return 1 if name == TRACKING else 3 if name.endswith("frozen") or name == NONE else 2


def job(body: str, name: str, spec: AgentSpec, games: int, episodes: int,
        cache: Path) -> tuple[str, str, np.ndarray, float]:
    """One method's games against one body's lineage (in a worker process)."""
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    out = play_cached(spec, games, episodes, SEED, cache, lineage=f"selfplay-{body}")
    return body, name, out, time.perf_counter() - start


def shares(r: np.ndarray, rounds: slice) -> np.ndarray:
    """Per game, the share of bouts won in ``rounds`` (``r``: ``[games, rounds, 3]``)."""
    part = r[:, rounds]
    return part[..., 0].sum(1) / part.sum((1, 2))


def comparisons(seeds: list[int]) -> list[tuple[str, str]]:
    """(a, b) pairs read as "a minus b": the primary ones (adapted minus own frozen) first."""
    labels = [label for label, *_ in learners(seeds)]
    pairs = [(n, frozen(n)) for n in labels]
    pairs += [(n, NONE) for n in (TRACKING, *labels, *map(frozen, labels))]
    pairs.append(("MAML", TRACKING))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", nargs="+", default=list(BODIES), choices=BODIES)
    parser.add_argument("--games", type=int, default=16, help="games per method and body")
    parser.add_argument("--episodes", type=int, default=3, help="bouts per round")
    parser.add_argument("--last", type=int, default=10,
                        help="rounds at the end of a game the primary comparison is taken over")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="training seeds of MAML and NoRML to play (seed k > 0: the zoo's "
                             "<method>-sumo-<body>-seed<k>)")
    parser.add_argument("--workers", type=int, default=2, help="processes playing games")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "results")
    parser.add_argument("--print-only", action="store_true",
                        help="print the report without writing docs/")
    args = parser.parse_args()
    for flag, value, low in (("--games", args.games, 2), ("--episodes", args.episodes, 1),
                             ("--last", args.last, 1), ("--workers", args.workers, 1)):
        if value < low:
            raise SystemExit(f"{flag} must be >= {low}, got {value}")
    cache = args.runs / SECTION
    if 0 not in args.seeds or len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        raise SystemExit(f"--seeds must be distinct seeds >= 0 including 0, got {args.seeds}")
    todo = [(b, n, s) for b in args.bodies for n, s in methods(b, args.seeds).items()]
    todo.sort(key=lambda j: cost(j[1]))
    t0 = time.perf_counter()
    results: dict[str, dict[str, np.ndarray]] = {b: {} for b in args.bodies}
    seconds: dict[str, float] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(job, b, n, s, args.games, args.episodes, cache)
                   for b, n, s in todo]
        for f in futures:
            body, name, out, s = f.result()
            results[body][name] = out
            seconds[f"{body}/{name}"] = s
            late = out[:, -args.last:]
            print(f"{body:6s} {name:16s} late win rate {late[..., 0].sum() / late.sum():.3f} "
                  f"({s / 60:.1f} min)", flush=True)
    for body in results:  # the report's order
        results[body] = {n: results[body][n] for n in methods(body, args.seeds)}
    wall = time.perf_counter() - t0
    body = report(args, results, wall)
    if args.print_only:
        print(body)
        return
    figure(results, ROOT / "docs" / "plots" / f"{SECTION.replace('-', '_')}.png")
    write_section(SECTION, body)
    update_entries(entries(args, results))
    print(body)


def command() -> str:
    return "python scripts/sumo_adaptation_bodies.py " + " ".join(sys.argv[1:])


def paired(results: dict[str, dict[str, np.ndarray]], a: str, b: str,
           rounds: slice) -> np.ndarray:
    """Per game, a's share minus b's, the bodies' games one after another."""
    return np.concatenate([shares(r[a], rounds) - shares(r[b], rounds)
                           for r in results.values()])


def entries(args: argparse.Namespace,
            results: dict[str, dict[str, np.ndarray]]) -> list[dict]:
    """The comparisons as ``docs/results/adaptation.json`` entries."""
    out = []
    groups = {b: {b: r} for b, r in results.items()}
    if len(results) > 1:
        groups["all bodies"] = results
    windows = {f"last {args.last} rounds": slice(-args.last, None), "all rounds": slice(None)}
    for group, rs in groups.items():
        for a, b in comparisons(args.seeds):
            for window, rounds in windows.items():
                d = paired(rs, a, b, rounds)
                m, h = mean_ci(d)
                out.append({"domain": "robosumo", "method": f"{a} [{SECTION}, {group}]",
                            "comparison": f"minus {b}", "window": window, "mean": m,
                            "ci_low": m - h, "ci_high": m + h, "n": len(d),
                            "command": command()})
    return out


def figure(results: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4.2), squeeze=False)
    for ax, (body, r) in zip(axes[0], results.items(), strict=True):
        shown = {n: r[n] for n in (NONE, TRACKING, *LABELS.values())}  # the rest: in tables
        draw(ax, shown)
        ax.set_title(f"{body} against selfplay-{body}", fontsize=9)
        ax.set_xlabel("round (one stored version later every round)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def report(args: argparse.Namespace, results: dict[str, dict[str, np.ndarray]],
           wall: float) -> str:
    last = args.last
    late, every = slice(-last, None), slice(None)

    def cell(values: np.ndarray, sign: bool = False) -> str:
        m, h = mean_ci(values)
        return f"{m:+.2f} ± {h:.2f}" if sign else f"{m:.2f} ± {h:.2f}"

    bodies = list(results)
    rows = ["| method | " + " | ".join(f"{b}: all rounds | {b}: last {last}" for b in bodies)
            + " |", "|---|" + "---|---|" * len(bodies)]
    for name in next(iter(results.values())):
        rows.append(f"| {name} | " + " | ".join(
            f"{cell(shares(results[b][name], every))} | {cell(shares(results[b][name], late))}"
            for b in bodies) + " |")
    groups = [[b] for b in bodies] + ([bodies] if len(bodies) > 1 else [])
    head = [g[0] if len(g) == 1 else "pooled" for g in groups]
    diffs = ["| comparison | " + " | ".join(f"{h}: last {last}" for h in head)
             + f" | {head[-1]}: all rounds |", "|---|" + "---|" * (len(groups) + 1)]
    for a, b in comparisons(args.seeds):
        cells = [cell(paired({k: results[k] for k in g}, a, b, late), sign=True)
                 for g in groups]
        cells.append(cell(paired(results, a, b, every), sign=True))
        diffs.append(f"| {a} minus {b} | " + " | ".join(cells) + " |")
    rounds = {b: next(iter(r.values())).shape[1] for b, r in results.items()}
    games = next(iter(results[bodies[0]].values())).shape[0]
    n_pooled = games * len(bodies)
    return f"""## Continuous adaptation in RoboSumo, every body: the population's meta-learners

Command: `{command()}` (commit {commit()}, {machine()}), the protocol of the section
`sumo-adaptation-bodies-protocol`, fixed before these games. For each body, the opponent is the
zoo's `selfplay-<body>` lineage from its first stored version, one stored version later every
round ({", ".join(f"{b}: {n} rounds" for b, n in rounds.items())}), {args.episodes} bouts of at
most 500 steps per round, players alternating sides; {games} games per method on the same game
seeds. Share of bouts won per game (mean ± 95 % t-interval over the {games} games):

{chr(10).join(rows)}

Paired differences of the share of bouts won (mean ± 95 % t-interval over the games: {games}
per body, {n_pooled} pooled); the first {len(learners(args.seeds))} rows are the primary
comparison (each meta-learner adapting minus its own frozen self):

{chr(10).join(diffs)}

![share of bouts won per round](plots/{SECTION.replace('-', '_')}.png)

- No adaptation: `zoo:selfplay-<body>` at its newest version, frozen; PPO tracking: the same
  policy with 4 PPO epochs on the round's bouts after every round.
- MAML: `zoo:maml-sumo-<body>` (20 meta-iterations from the lineage's newest version, KL-sized
  inner steps of 0.01, separate value step sizes, per-task baseline); phi recomputed from
  theta on the game's last 75 bouts after every round, importance-corrected. Frozen: theta.
- NoRML: `zoo:norml-sumo-<body>` (25 meta-iterations from the newest version, centred learned
  advantage); one reward-free step from theta on the last round's bouts after every round.
  Frozen: theta, without the offset.
- RL^2: `zoo:rl2-sumo-<body>` (LSTM, 200,000 steps from scratch on trials of 5 bouts, BPTT
  windows of 100 steps); a new trial every round. Frozen: a new trial at every bout.
- Seeds: {", ".join(map(str, args.seeds))} of MAML and NoRML (seed k > 0: the same training
  command with `--seed k`, zoo files `<method>-sumo-<body>-seed<k>`); RL^2: seed 0.
- The meta-learners play the lineage they were meta-trained against: there is no held-out
  opponent. The commands that trained them are in each file's metadata (`arena zoo`).

Wall time of this invocation: {wall / 60:.0f} min on {args.workers} worker processes (outcomes
of methods already played with the same settings are reused from the run directory).
"""


if __name__ == "__main__":
    main()
