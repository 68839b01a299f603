"""RoboSumo's Gymnasium VectorEnv (batched arenas) against ``gymnasium.make_vec`` in sync mode.

Both give player_0's view of ``--envs`` arenas against the idle robot; random actions, interleaved
rounds of ``--steps`` vector steps each, medians. The batched env (``make_vec`` of a
``-Batched-v0`` id) steps all arenas in one ``mujoco.batch`` call on ``--nthread`` threads;
``make_vec`` in sync mode steps one ``SumoGymEnv`` after the other in Python. Where
Stable-Baselines3 is installed, the same for its users: ``SB3VecEnv`` over the batched env
against SB3's own ``make_vec_env`` (a ``DummyVecEnv`` of single envs). Prints env steps per
second (vector steps x envs) and the ratios to ``make_vec`` sync.

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


def rate(venv, steps: int, rng: np.random.Generator) -> float:
    if hasattr(venv, "step_async"):  # SB3's VecEnv: reset() takes no seed
        venv.seed(0)
        venv.reset()
        shape = (venv.num_envs, *venv.action_space.shape)
    else:
        venv.reset(seed=0)
        shape = venv.action_space.shape
    actions = rng.uniform(-1, 1, (steps, *shape))
    start = time.perf_counter()
    for a in actions:
        venv.step(a)
    return steps * venv.num_envs / (time.perf_counter() - start)


def sb3_pair(env_id: str, batched_id: str, n: int, nthread: int) -> dict:
    try:
        from stable_baselines3.common.env_util import make_vec_env
    except ImportError:
        return {}
    from envs.sb3_vec import SB3VecEnv

    return {"SB3 make_vec_env (DummyVecEnv of SumoGymEnv)":
            make_vec_env(env_id, n_envs=n, env_kwargs={"opponent": "idle"}),
            "SB3VecEnv over the batched env":
            SB3VecEnv(gymnasium.make_vec(batched_id, num_envs=n, opponent="idle",
                                         nthread=nthread))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nthread", type=int, default=0)
    parser.add_argument("--body", default="ant")
    args = parser.parse_args()
    name = args.body.capitalize()
    env_id, batched_id = f"RoboSumo-{name}-vs-{name}-v0", f"RoboSumo-{name}-vs-{name}-Batched-v0"
    venvs = {"make_vec sync (SumoGymEnv each)":
             gymnasium.make_vec(env_id, num_envs=args.envs, vectorization_mode="sync",
                                opponent="idle"),
             "make_vec of the -Batched-v0 id (SumoGymVectorEnv)":
             gymnasium.make_vec(batched_id, num_envs=args.envs, opponent="idle",
                                nthread=args.nthread),
             **sb3_pair(env_id, batched_id, args.envs, args.nthread)}
    rng = np.random.default_rng(0)
    rates: dict[str, list[float]] = {k: [] for k in venvs}
    for _ in range(args.rounds):
        for key, venv in venvs.items():
            rates[key].append(rate(venv, args.steps, rng))
    medians = {k: statistics.median(v) for k, v in rates.items()}
    reference = medians["make_vec sync (SumoGymEnv each)"]
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{env_id}, {args.envs} envs, {args.rounds} rounds of {args.steps} steps, physics "
          f"threads {args.nthread or 'all'}")
    print("| vector env | env steps/s | ratio |\n|---|---:|---:|")
    for key, value in medians.items():
        print(f"| {key} | {value:,.0f} | {value / reference:.2f} |")


if __name__ == "__main__":
    main()
