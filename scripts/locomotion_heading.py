"""Which way the bug runs: a diagnostic of the no-adaptation policies of the locomotion comparison.

The bug is rewarded for its speed along +x, but nothing in the task holds its heading, so an
episode's return depends much on which way it happens to run. For each policy (a checkpoint,
acting as the "no adaptation" baseline does: sampled actions, seed 0, and with ``mean`` also its
mean action), this plays the chains of the paper's Fig. 4 protocol with the seeds of
``scripts/locomotion_adaptation.py`` (held-out pairs, 7 episodes, scale 1 -> 0) and measures the
direction of each episode's torso displacement: the share of episodes that end more than 45
degrees off +x, the mean absolute angle, the mean return and the share of the return's variance
that the angle explains (R^2 of the return on cos(angle) over all episodes).

Writes the ``locomotion-heading`` section of docs/results.md.

Usage:
    python scripts/locomotion_heading.py NAME=CHECKPOINT [NAME=CHECKPOINT ...] [--repeats 40]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from resultsdoc import ROOT, commit, machine, mean_ci, write_section

from agents.base import PolicyAgent
from agents.policy import load_policy
from envs.nonstationary_locomotion import LocomotionEnv, TaskChain, train_test_split

EVAL_SEED = 10_000  # the base seed of locomotion_adaptation.py's evaluation (seed 0)


def chains(agent, repeats: int, episodes: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Returns and displacement angles (radians from +x), ``[repeats, pairs, episodes]`` each, on
    the seeds of ``agents.evaluate.nonstationary_returns``."""
    pairs = train_test_split("bug")[1]
    env = LocomotionEnv("bug")
    returns = np.zeros((repeats, len(pairs), episodes))
    angles = np.zeros_like(returns)
    for r in range(repeats):
        for j, pair in enumerate(pairs):
            agent.reset()
            for e, damage in enumerate(TaskChain(tuple(pair), episodes)):
                obs, _ = env.reset(seed=EVAL_SEED + 1000 * r + 100 * j + e,
                                   options={"damage": damage})
                start, total, done = obs[:2].copy(), 0.0, False  # torso x, y come first
                while not done:
                    action = agent.act(obs)
                    obs, reward, term, trunc, _ = env.step(action)
                    agent.observe(action, reward, obs, term, trunc)
                    total += reward
                    done = term or trunc
                dx, dy = obs[:2] - start
                returns[r, j, e], angles[r, j, e] = total, np.arctan2(dy, dx)
                agent.adapt()
    env.close()
    return returns, angles


def summary(returns: np.ndarray, angles: np.ndarray) -> dict[str, float]:
    ret, ang = returns.ravel(), np.abs(angles.ravel())
    cos = np.cos(ang)
    r2 = float(np.corrcoef(cos, ret)[0, 1] ** 2) if ret.std() > 0 else 0.0
    m, h = mean_ci(returns.reshape(-1, returns.shape[-1]).mean(1))  # chains are the unit
    return {"off45": float((ang > np.pi / 4).mean()), "angle": float(np.degrees(ang).mean()),
            "return": m, "return_ci": h, "r2": r2, "n": ret.size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("policies", nargs="+", metavar="NAME=CHECKPOINT")
    parser.add_argument("--repeats", type=int, default=40, help="chains per held-out pair")
    parser.add_argument("--mean", action="store_true", help="also play each policy's mean action")
    args = parser.parse_args()
    specs = []
    for spec in args.policies:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"policies are given as NAME=CHECKPOINT, got {spec!r}")
        specs.append((name, path))
    t0 = time.perf_counter()
    rows = ["| policy | actions | episodes | > 45° off +x | mean abs angle | return | "
            "R² of return on cos(angle) |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, path in specs:
        policy, _ = load_policy(path)
        for deterministic in (False, True) if args.mean else (False,):
            agent = PolicyAgent(policy, name=name, body="bug", deterministic=deterministic, seed=0)
            s = summary(*chains(agent, args.repeats))
            kind = "mean" if deterministic else "sampled"
            rows.append(f"| {name} | {kind} | {s['n']} | {100 * s['off45']:.0f} % | "
                        f"{s['angle']:.0f}° | {s['return']:.1f} ± {s['return_ci']:.1f} | "
                        f"{s['r2']:.2f} |")
            print(rows[-1], flush=True)
    minutes = (time.perf_counter() - t0) / 60
    command = "python scripts/locomotion_heading.py " + " ".join(sys.argv[1:])
    body = f"""## Which way the bug runs (a diagnostic)

Command: `{command}` (commit {commit()}, {machine()}, {minutes:.0f} min). The chains of the
locomotion comparison (held-out pairs, 7 episodes, scale 1 -> 0, {args.repeats} chains per pair,
its seeds), played by each policy without adaptation; the angle is that of the episode's torso
displacement from +x. The return is the mean over all episodes, with the 95 % t-interval over
the chains (each chain's mean return: episodes within a chain are not independent).

{chr(10).join(rows)}
"""
    write_section("locomotion-heading", body)
    print(f"wrote the locomotion-heading section of {ROOT / 'docs' / 'results.md'}")


if __name__ == "__main__":
    main()
