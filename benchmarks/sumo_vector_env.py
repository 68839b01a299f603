"""RoboSumo's Gymnasium VectorEnv (batched arenas) against ``gymnasium.make_vec`` in sync mode.

Both give player_0's view of ``--envs`` arenas against the idle robot; random actions, interleaved
rounds of ``--steps`` vector steps each, medians. The batched env steps all arenas in one
``mujoco.batch`` call on ``--nthread`` threads; ``make_vec`` steps one ``SumoGymEnv`` after the
other in Python. Prints env steps per second (vector steps x envs) and the ratio.

Usage:
    python benchmarks/sumo_vector_env.py [--envs 16] [--steps 200] [--rounds 5] [--nthread 0]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import gymnasium
import numpy as np

import envs.robosumo  # noqa: F401  (registers the ids)
from envs.robosumo import SumoGymVectorEnv


def rate(venv, steps: int, rng: np.random.Generator) -> float:
    venv.reset(seed=0)
    actions = rng.uniform(-1, 1, (steps, *venv.action_space.shape))
    start = time.perf_counter()
    for a in actions:
        venv.step(a)
    return steps * venv.num_envs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nthread", type=int, default=0)
    parser.add_argument("--body", default="ant")
    args = parser.parse_args()
    env_id = f"RoboSumo-{args.body.capitalize()}-vs-{args.body.capitalize()}-v0"
    batched = SumoGymVectorEnv(args.envs, (args.body, args.body), opponent="idle",
                               nthread=args.nthread)
    synced = gymnasium.make_vec(env_id, num_envs=args.envs, vectorization_mode="sync",
                                opponent="idle")
    rng = np.random.default_rng(0)
    fast, slow = [], []
    for _ in range(args.rounds):
        fast.append(rate(batched, args.steps, rng))
        slow.append(rate(synced, args.steps, rng))
    f, s = statistics.median(fast), statistics.median(slow)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{env_id}, {args.envs} envs, {args.rounds} rounds of {args.steps} steps, physics "
          f"threads {args.nthread or 'all'}")
    print("| vector env | env steps/s | ratio |\n|---|---:|---:|")
    print(f"| make_vec sync (SumoGymEnv each) | {s:,.0f} | 1.00 |")
    print(f"| SumoGymVectorEnv (batched) | {f:,.0f} | {f / s:.2f} |")


if __name__ == "__main__":
    main()
