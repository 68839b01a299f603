"""Sampler throughput: experience collection with 64x64 policies against the physics alone.

For RoboSumo self-play (both players one 64x64 MLP policy) and nonstationary locomotion, the
script measures, interleaved over several rounds in the same run:

- raw physics of ONE env on ONE core: ``mj_step`` (5 substeps, contact forces included) on a
  single ``MjData`` with random controls, no Python around it but the loop;
- the vectorised env alone: ``SumoVectorEnv`` / ``LocomotionVectorEnv`` stepped with random
  actions on all cores (``nthread=0``);
- the sampler: ``SumoSampler`` / ``VectorSampler`` collecting rollouts (one batched policy call
  per step, observation normalisation, bootstrapping).

It prints env steps/s (arena steps for RoboSumo; self-play yields two samples per arena step)
and the ratios sampler / one-core raw physics (goal >= 1.5 on 2 cores) and sampler / vectorised
env (goal >= 0.7).

Usage:
    python benchmarks/sampler_throughput.py [--envs 32] [--steps 64] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import mujoco
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from agents.policy import Policy
from agents.sampler import SumoSampler, VectorSampler
from envs.nonstationary_locomotion import LocomotionVectorEnv
from envs.robosumo import SumoVectorEnv


def raw_one_core(model: mujoco.MjModel, nstep: int, steps: int, seed: int) -> float:
    """Env steps/s of bare ``mj_step`` on one MjData (one core), random controls."""
    data = mujoco.MjData(model)
    rng = np.random.default_rng(seed)
    ctrl = rng.uniform(-1, 1, (steps, model.nu))
    mujoco.mj_forward(model, data)
    start = time.perf_counter()
    for c in ctrl:
        data.ctrl[:] = c
        mujoco.mj_step(model, data, nstep=nstep)
    return steps / (time.perf_counter() - start)


def vector_env_rate(envs, steps: int, seed: int, sumo: bool) -> float:
    """Env steps/s of the vectorised env alone, random actions."""
    rng = np.random.default_rng(seed)
    envs.reset(seed=seed)
    if sumo:
        dims = [envs.action_spaces[p].shape[0] for p in ("player_0", "player_1")]
        acts = [[rng.uniform(-1, 1, (envs.num_envs, d)) for d in dims] for _ in range(steps)]
    else:
        d = envs.single_action_space.shape[0]
        acts = [rng.uniform(-1, 1, (envs.num_envs, d)) for _ in range(steps)]
    start = time.perf_counter()
    for a in acts:
        envs.step(a)
    return steps * envs.num_envs / (time.perf_counter() - start)


def sampler_rate(sampler, steps_per_collect: int, num_envs: int) -> float:
    start = time.perf_counter()
    sampler.collect()
    return steps_per_collect * num_envs / (time.perf_counter() - start)


def measure(label: str, envs, sampler, model, nstep: int, args, sumo: bool) -> dict:
    raw, env, samp = [], [], []
    sampler.collect()  # warm-up
    for r in range(args.rounds):
        raw.append(raw_one_core(model, nstep, args.raw_steps, r))
        env.append(vector_env_rate(envs, args.steps, r, sumo))
        samp.append(sampler_rate(sampler, args.steps, envs.num_envs))
    med = {k: statistics.median(v) for k, v in (("raw", raw), ("env", env), ("sampler", samp))}
    print(f"| {label} | {med['raw']:,.0f} | {med['env']:,.0f} | {med['sampler']:,.0f} | "
          f"{med['sampler'] / med['raw']:.2f} | {med['sampler'] / med['env']:.2f} |")
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", type=int, default=32, help="arenas / simulations")
    parser.add_argument("--steps", type=int, default=64, help="steps per measurement and env")
    parser.add_argument("--raw-steps", type=int, default=600, help="steps of the one-core loop")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)

    print(f"# Sampler throughput ({platform.machine()}, {os.cpu_count()} cores, mujoco "
          f"{mujoco.__version__}, torch {torch.__version__}, {args.envs} envs, "
          f"{args.rounds} rounds)")
    print("| task | raw physics, 1 env, 1 core (steps/s) | vectorised env (steps/s) | "
          "sampler (steps/s) | sampler / raw 1-core | sampler / env |")
    print("|---|---|---|---|---|---|")
    sumo = SumoVectorEnv(args.envs, ("ant", "ant"))
    policy = Policy(120, 8)
    measure("RoboSumo ant vs ant, self-play", sumo,
            SumoSampler(sumo, policy, args.steps, "self", seed=0), sumo.model, 5, args, True)
    loco = LocomotionVectorEnv(args.envs, "bug", autoreset_mode=AutoresetMode.SAME_STEP)
    policy = Policy(loco.single_observation_space.shape[0], loco.single_action_space.shape[0])
    measure("Locomotion bug", loco, VectorSampler(loco, policy, args.steps, seed=0), loco.model,
            4, args, False)


if __name__ == "__main__":
    main()
