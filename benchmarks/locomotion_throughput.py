"""Throughput of the nonstationary-locomotion env and its vectorised path against raw physics.

For each body the script records random-action episodes through ``LocomotionEnv.step`` and times
them, then replays the very same episodes (same start states, same actions, so the same physics
work) with nothing but ``data.ctrl`` assignment and ``mj_step(nstep=4)``, and times that; resets
are not timed. The two are interleaved over several rounds and the medians are reported with
their ratio (1.0: the env adds no overhead). The vectorised path (``LocomotionVectorEnv``, one
damage per simulation, 12 simulations as for the bug's 12 training pairs) is timed in the same
run, with one thread and with all CPUs, and reported as simulation steps per second.

``--integrators`` first prints the table behind the choice of integrator and timestep: for each
body and candidate, random and bang-bang torques, NaN / instability warnings, the lowest torso
height, the floor penetration (99th percentile and worst, m) and the physics cost per env step.

Usage:
    python benchmarks/locomotion_throughput.py [--steps 4000] [--rounds 5] [--integrators]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import mujoco
import numpy as np
from bare_physics import time_raw

from envs.bodies import BODIES
from envs.nonstationary_locomotion import LegDamage, LocomotionEnv, LocomotionVectorEnv, leg_pairs
from envs.nonstationary_locomotion.scene import build_spec

INTEGRATOR_CANDIDATES = (  # (name, integrator, timestep s, substeps per 0.05 s action)
    ("RK4", mujoco.mjtIntegrator.mjINT_RK4, 0.01, 5),
    ("Euler", mujoco.mjtIntegrator.mjINT_EULER, 0.01, 5),
    ("Euler", mujoco.mjtIntegrator.mjINT_EULER, 0.025, 2),
    ("implicitfast", mujoco.mjtIntegrator.mjINT_IMPLICITFAST, 0.01, 5),
    ("implicitfast", mujoco.mjtIntegrator.mjINT_IMPLICITFAST, 0.0125, 4),
    ("implicitfast", mujoco.mjtIntegrator.mjINT_IMPLICITFAST, 0.025, 2),
    ("implicitfast", mujoco.mjtIntegrator.mjINT_IMPLICITFAST, 0.05, 1),
)


def stability_row(body: str, integrator: int, timestep: float, substeps: int, episodes: int,
                  steps: int = 200) -> tuple[int, float, float, float, float]:
    """(failures, min torso z, p99 penetration, max penetration, env steps/s) of one candidate."""
    model = build_spec(body, integrator=integrator, timestep=timestep).compile()
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    failures, torso_z, penetration, elapsed = 0, [], [], 0.0
    for episode in range(episodes):
        mujoco.mj_resetData(model, data)
        data.qpos[7:] += rng.uniform(-0.1, 0.1, model.nq - 7)
        mujoco.mj_forward(model, data)
        if episode % 2:  # bang-bang: full torque, sign held for 5 steps
            signs = np.sign(rng.uniform(-1, 1, (steps // 5, model.nu)))
            actions = np.repeat(signs, 5, axis=0)
        else:
            actions = rng.uniform(-1, 1, (steps, model.nu))
        for a in actions:
            data.ctrl[:] = a
            t0 = time.perf_counter()
            mujoco.mj_step(model, data, nstep=substeps)
            elapsed += time.perf_counter() - t0
            if not np.isfinite(data.qpos).all():
                break
            torso_z.append(data.qpos[2])
            depth = -data.contact.dist[:data.ncon].min() if data.ncon else 0.0
            penetration.append(max(depth, 0.0))
        warned = any(w.number for w in data.warning)
        failures += int(warned or not np.isfinite(data.qpos).all())
    pen = np.array(penetration)
    return (failures, min(torso_z), float(np.percentile(pen, 99)), float(pen.max()),
            len(pen) / elapsed)


def integrator_table(episodes: int) -> None:
    """Print the integrator / timestep comparison."""
    print(f"## Integrator and timestep ({episodes} episodes x 200 steps per row, half random, "
          "half bang-bang torques)\n")
    print("| body | integrator | timestep x substeps | failed episodes | min torso z (m) | "
          "penetration p99 / max (m) | env steps/s (physics only) |")
    print("|---|---|---|---|---|---|---|")
    for body in BODIES:
        for name, integrator, timestep, substeps in INTEGRATOR_CANDIDATES:
            fail, z, p99, pmax, rate = stability_row(body, integrator, timestep, substeps,
                                                     episodes)
            print(f"| {body} | {name} | {timestep:g} x {substeps} | {fail}/{episodes} | "
                  f"{z:.3f} | {p99:.3f} / {pmax:.3f} | {rate:,.0f} |")
    print()


def record_and_time_env(env: LocomotionEnv, steps: int, rng: np.random.Generator):
    """Run ``steps`` env steps with random actions; return (seconds, steps, episodes to replay)."""
    episodes, elapsed, done = [], 0.0, 0
    n_act = env.action_space.shape[0]
    while done < steps:
        env.reset(seed=int(rng.integers(2**31)))
        start = (env.data.qpos.copy(), env.data.qvel.copy())
        n = min(steps - done, env.max_steps)
        actions = rng.uniform(-1, 1, (n, n_act)).astype(np.float32)
        step = env.step
        t0 = time.perf_counter()
        for a in actions:
            step(a)
        elapsed += time.perf_counter() - t0
        done += n
        episodes.append((start, actions))
    return elapsed, done, episodes


def time_vector(body: str, steps: int, nthread: int, num_envs: int,
                rng: np.random.Generator) -> float:
    """Simulation steps per second of ``LocomotionVectorEnv`` (``steps`` per simulation)."""
    pairs = leg_pairs(body)
    damages = [LegDamage(pairs[i % len(pairs)], scale=0.5) for i in range(num_envs)]
    venv = LocomotionVectorEnv(num_envs, body, max_steps=10**9, damages=damages, nthread=nthread)
    venv.reset(seed=int(rng.integers(2**31)))
    actions = rng.uniform(-1, 1, (steps, *venv.action_space.shape)).astype(np.float32)
    step = venv.step
    t0 = time.perf_counter()
    for a in actions:
        step(a)
    return steps * num_envs / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4000, help="env steps per round and body")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved env/raw rounds")
    parser.add_argument("--num-envs", type=int, default=12, help="simulations of the vector env")
    parser.add_argument("--bodies", nargs="+", default=list(BODIES), choices=BODIES)
    parser.add_argument("--integrators", action="store_true",
                        help="also print the integrator/timestep comparison")
    parser.add_argument("--integrator-episodes", type=int, default=20)
    args = parser.parse_args()

    print(f"# Nonstationary locomotion throughput ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, mujoco {mujoco.__version__}, {args.rounds} rounds x "
          f"{args.steps} steps)\n")
    if args.integrators:
        integrator_table(args.integrator_episodes)
    print("## Env and vectorised path vs raw physics (implicitfast 0.0125 s x 4 substeps)\n")
    print(f"| body | env steps/s | raw physics steps/s | env / raw | vector, 1 thread: sim "
          f"steps/s (x env) | vector, {os.cpu_count()} threads: sim steps/s (x env) |")
    print("|---|---|---|---|---|---|")
    worst = np.inf
    for body in args.bodies:
        env = LocomotionEnv(body, max_steps=500)
        rng = np.random.default_rng(0)
        env_rates, raw_rates, vec1, vecn = [], [], [], []
        record_and_time_env(env, 500, rng)  # warm-up
        for _ in range(args.rounds):
            env_s, n, episodes = record_and_time_env(env, args.steps, rng)
            raw_s, n_raw = time_raw(env.model, env.data, episodes, nstep=env.frame_skip)
            assert n == n_raw
            env_rates.append(n / env_s)
            raw_rates.append(n_raw / raw_s)
            per_sim = max(1, args.steps // args.num_envs)
            vec1.append(time_vector(body, per_sim, 1, args.num_envs, rng))
            vecn.append(time_vector(body, per_sim, 0, args.num_envs, rng))
        ratio = statistics.median(e / r for e, r in zip(env_rates, raw_rates, strict=True))
        worst = min(worst, ratio)
        env_rate = statistics.median(env_rates)
        v1, vn = statistics.median(vec1), statistics.median(vecn)
        print(f"| {body} | {env_rate:,.0f} | {statistics.median(raw_rates):,.0f} | {ratio:.3f} | "
              f"{v1:,.0f} ({v1 / env_rate:.2f}) | {vn:,.0f} ({vn / env_rate:.2f}) |")
        env.close()
    print(f"\nworst env/raw ratio: {worst:.3f} (goal >= 0.8)")


if __name__ == "__main__":
    main()
