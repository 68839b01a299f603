"""Throughput of ``SumoEnv.step`` against the raw physics of the same compiled model.

For each body (a mirror match, body vs body) the script records random-action episodes through
``env.step`` and times them, then replays the very same episodes (same start states, same actions,
so the same contacts and the same physics work) with nothing but ``data.ctrl`` assignment and
``mj_step(nstep=5)``, and times that. The arena model carries an acceleration-stage sensor, so
every ``mj_step`` runs ``mj_rnePostConstraint`` (the contact forces the robots observe) in both.
Resets are not timed in either.
The two are interleaved over several rounds and the median rates are reported with their ratio:
env steps/s divided by raw physics steps/s (1.0 means the env adds no overhead).

Usage:
    python benchmarks/env_throughput.py [--steps 4000] [--rounds 5] [--bodies ant bug spider]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import mujoco
import numpy as np
from bare_physics import time_raw

from envs.robosumo import BODIES, parallel_env


def record_and_time_env(env, steps: int, rng: np.random.Generator):
    """Run ``steps`` env steps with random actions; return (seconds, episodes to replay)."""
    episodes, elapsed, done = [], 0.0, 0
    spaces = [env.action_space(p) for p in env.possible_agents]
    while done < steps:
        env.reset(seed=int(rng.integers(2**31)))
        start = (env.data.qpos.copy(), env.data.qvel.copy())
        n = min(steps - done, env.max_steps)
        actions = [rng.uniform(-1, 1, (n, s.shape[0])) for s in spaces]
        dicts = [{"player_0": actions[0][t], "player_1": actions[1][t]} for t in range(n)]
        t0 = time.perf_counter()
        k = 0
        for k, a in enumerate(dicts, 1):  # noqa: B007
            env.step(a)
            if not env.agents:
                break
        elapsed += time.perf_counter() - t0
        done += k
        episodes.append((start, np.concatenate(actions, axis=1)[:k]))
    return elapsed, done, episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4000, help="env steps per round and body")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved env/raw rounds")
    parser.add_argument("--bodies", nargs="+", default=list(BODIES), choices=BODIES)
    args = parser.parse_args()

    print(f"# SumoEnv.step vs raw physics ({platform.processor() or platform.machine()}, "
          f"mujoco {mujoco.__version__}, {args.rounds} rounds x {args.steps} steps)")
    print("| matchup | env steps/s | raw physics steps/s | env / raw |")
    print("|---|---|---|---|")
    worst = np.inf
    for body in args.bodies:
        env = parallel_env((body, body))
        rng = np.random.default_rng(0)
        env_rates, raw_rates = [], []
        record_and_time_env(env, 500, rng)  # warm-up
        for _ in range(args.rounds):
            env_s, n, episodes = record_and_time_env(env, args.steps, rng)
            raw_s, n_raw = time_raw(env.model, env.data, episodes, nstep=5)
            assert n == n_raw
            env_rates.append(n / env_s)
            raw_rates.append(n_raw / raw_s)
        ratios = [e / r for e, r in zip(env_rates, raw_rates, strict=True)]
        ratio = statistics.median(ratios)
        worst = min(worst, ratio)
        print(f"| {body} vs {body} | {statistics.median(env_rates):,.0f} | "
              f"{statistics.median(raw_rates):,.0f} | {ratio:.3f} |")
        env.close()
    print(f"\nworst env/raw ratio: {worst:.3f} (goal >= 0.8)")


if __name__ == "__main__":
    main()
