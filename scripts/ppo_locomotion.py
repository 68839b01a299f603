"""PPO on NonstationaryLocomotion-Bug-v0 without damage: return against env steps, 3 seeds.

Trains one run per seed (resumable: rerunning continues unfinished runs), then plots the mean
episode return against environment steps with a 95 % t-interval over seeds and writes the
"ppo-locomotion" section of docs/results.md.

Usage:
    python scripts/ppo_locomotion.py [--steps 1000000] [--seeds 0 1 2] [--runs runs/results]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from resultsdoc import ROOT, commit, machine, mean_ci, save_figure, write_section

from agents.logger import read_metrics
from agents.policy import PolicyConfig
from agents.ppo import PPOConfig
from agents.ppo.train import TrainConfig, Trainer

ENV = "NonstationaryLocomotion-Bug-v0"


def config(seed: int, steps: int) -> TrainConfig:
    return TrainConfig(env=ENV, total_steps=steps, num_envs=16, rollout=256, seed=seed,
                       policy=PolicyConfig(arch="mlp", hidden=64),
                       ppo=PPOConfig(lr=3e-4, gamma=0.99, lam=0.95, epochs=10, minibatches=16))


def curve(rows: list[dict], grid: np.ndarray) -> np.ndarray:
    steps = np.array([r["env_steps"] for r in rows if "return_mean" in r])
    returns = np.array([r["return_mean"] for r in rows if "return_mean" in r])
    return np.interp(grid, steps, returns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1_000_000, help="env steps per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "results")
    args = parser.parse_args()

    timings = {}
    for seed in args.seeds:
        start = time.perf_counter()
        trainer = Trainer(config(seed, args.steps), args.runs / f"ppo-bug-s{seed}",
                          tensorboard=False)
        trainer.run(progress=sys.stderr.isatty())
        timings[seed] = time.perf_counter() - start

    grid = np.linspace(args.steps / 20, args.steps, 20)
    curves = np.stack([curve(read_metrics(args.runs / f"ppo-bug-s{s}" / "metrics.csv"), grid)
                       for s in args.seeds])
    stats = [mean_ci(curves[:, k]) for k in range(len(grid))]
    mean = np.array([m for m, _ in stats])
    half = np.array([h for _, h in stats])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for s, c in zip(args.seeds, curves, strict=True):
        ax.plot(grid, c, lw=0.8, alpha=0.5, label=f"seed {s}")
    ax.plot(grid, mean, color="black", lw=2, label="mean")
    ax.fill_between(grid, mean - half, mean + half, color="black", alpha=0.15, label="95 % CI")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return (100 steps)")
    ax.set_title(f"PPO on {ENV} (no damage)")
    ax.legend(fontsize=7)
    plot = ROOT / "docs" / "plots" / "ppo_locomotion_bug.png"
    save_figure(fig, plot, dpi=120)

    first = mean_ci(curves[:, 0])
    last = mean_ci(curves[:, -1])
    c = config(args.seeds[0], args.steps)
    rows = "\n".join(f"| {int(g):,} | {m:.1f} ± {h:.1f} |" for g, m, h in
                     zip([*grid[::4].tolist(), grid[-1]], [*mean[::4].tolist(), mean[-1]],
                         [*half[::4].tolist(), half[-1]], strict=True))
    seeds = " ".join(map(str, args.seeds))
    walls = ", ".join(f"{t / 60:.1f} min" for t in timings.values())
    body = f"""## PPO on nonstationary locomotion (bug, no damage)

Command: `python scripts/ppo_locomotion.py --steps {args.steps} --seeds {seeds}`
(commit {commit()}, {machine()}). Seeds {', '.join(map(str, args.seeds))}; {args.steps:,} env
steps each; {c.num_envs} envs x {c.rollout} steps per iteration; MLP 2x64 tanh; PPO lr
{c.ppo.lr}, gamma {c.ppo.gamma}, lambda {c.ppo.lam}, {c.ppo.epochs} epochs x
{c.ppo.minibatches} minibatches, clip {c.ppo.clip}. Episode return = distance run along +x over
100 steps divided by dt, minus the control cost (higher is better); a random policy scores about
{first[0]:.0f} at the start. Wall time per seed: {walls}.

Mean episode return of the training episodes (95 % t-interval over the {len(args.seeds)} seeds):

| env steps | return |
|---|---|
{rows}

From {first[0]:.1f} ± {first[1]:.1f} at {int(grid[0]):,} steps to {last[0]:.1f} ± {last[1]:.1f}
at {int(grid[-1]):,}.

![PPO on the bug]({plot.relative_to(ROOT / 'docs').as_posix()})
"""
    print(write_section("ppo-locomotion", body))


if __name__ == "__main__":
    main()
