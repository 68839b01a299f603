"""The environments checked with the tools of the libraries our users use; writes docs/ecosystem.md.

Each check runs the library's own test (PettingZoo's API, seed, render and max-cycles tests,
Gymnasium's ``check_env``, its wrappers and ``make_vec``) or an invariant those users rely on
(copies and pickles that keep stepping the same way), on every matchup or id, and records pass or
the first failure. Libraries that are not installed are listed as not checked, so that the table
says what was run on this machine and nothing else.

Usage:
    python scripts/ecosystem_checks.py [--out docs/ecosystem.md]
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.metadata
import pickle
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import gymnasium
import numpy as np
from resultsdoc import ROOT, commit, machine

import envs.nonstationary_locomotion as nl
import envs.robosumo as robosumo
from envs.robosumo.gym_env import gym_id

MATCHUPS = [(a, b) for a in robosumo.BODIES for b in robosumo.BODIES]
SUMO_IDS = [gym_id(a, b) for a, b in MATCHUPS]
ALL_IDS = [*SUMO_IDS, *nl.ENV_IDS]


def _each(items, check: Callable) -> str:
    """Run ``check`` on every item: "pass (n of n)" or the first failure."""
    for item in items:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check(item)
        except Exception as err:  # the table reports it
            line = traceback.format_exception_only(type(err), err)[-1].strip()
            return f"FAIL on {item}: {line[:160]}"
    return f"pass ({len(items)} of {len(items)})"


def pettingzoo_checks() -> list[tuple[str, str, str]]:
    from pettingzoo.test import (
        api_test,
        max_cycles_test,
        parallel_api_test,
        parallel_seed_test,
        render_test,
        seed_test,
    )

    def aec(bodies, **kwargs):
        return lambda render_mode=None, **more: robosumo.env(bodies, render_mode=render_mode,
                                                               **kwargs, **more)

    small = {"width": 64, "height": 48}
    return [
        ("PettingZoo", "parallel_api_test (1000 cycles), 9 matchups",
         _each(MATCHUPS, lambda b: parallel_api_test(robosumo.parallel_env(b), num_cycles=1000))),
        ("PettingZoo", "api_test on the AEC env, 9 matchups",
         _each(MATCHUPS, lambda b: api_test(robosumo.env(b), num_cycles=200))),
        ("PettingZoo", "parallel_seed_test and seed_test, 9 matchups",
         _each(MATCHUPS, lambda b: (parallel_seed_test(lambda: robosumo.parallel_env(b)),
                                    seed_test(aec(b))))),
        ("PettingZoo", "render_test (rgb_array), 9 matchups",
         _each(MATCHUPS, lambda b: render_test(aec(b, **small)))),
        ("PettingZoo", "max_cycles_test (module envs.robosumo)",
         _each(["envs.robosumo"], lambda _: max_cycles_test(robosumo))),
    ]


def gymnasium_checks() -> list[tuple[str, str, str]]:
    from gymnasium.utils.env_checker import check_env

    def limits(env_id):
        spec = gymnasium.spec(env_id)
        assert spec.max_episode_steps == (500 if env_id in SUMO_IDS else 100), spec
        env = gymnasium.make(env_id, max_episode_steps=7)
        env.reset(seed=0)
        shape = env.action_space.shape
        flags = [env.step(np.zeros(shape))[3] for _ in range(7)]
        assert flags == [False] * 6 + [True], flags
        timed = gymnasium.wrappers.TimeAwareObservation(gymnasium.make(env_id))
        assert timed.reset(seed=0)[0].shape[0] == env.observation_space.shape[0] + 1

    def draw_at_limit(env_id):
        env = gymnasium.make(env_id, max_episode_steps=600, opponent="idle")
        env.reset(seed=0)
        steps = 0
        while True:
            *_, terminated, truncated, info = env.step(np.zeros(env.action_space.shape))
            steps += 1
            if terminated or truncated:
                break
        # an idle spider sinks and loses; every bout that lasts is a draw exactly at the limit
        if not terminated:
            assert (steps, truncated, info["reward_draw"]) == (600, True, robosumo.DRAW_PENALTY)
        return steps

    def lasts(env_id):  # idle ants and bugs stand: their bouts must reach the limit
        assert draw_at_limit(env_id) == 600

    def copies(env_id):
        env = gymnasium.make(env_id)
        env.reset(seed=1)
        clones = [copy.deepcopy(env), pickle.loads(pickle.dumps(env))]
        actions = [np.full(env.action_space.shape, 0.3 * (-1) ** k) for k in range(10)]
        mine = [env.step(a)[0] for a in actions]
        for clone in clones:
            np.testing.assert_array_equal([clone.step(a)[0] for a in actions], mine)
        assert not np.array_equal(mine[0], mine[-1])

    def batched(env_id):
        venv = gymnasium.make_vec(env_id, num_envs=2, nthread=1)
        assert type(venv).__name__ == "LocomotionVectorEnv", type(venv)
        assert venv.max_steps == 100

    def vector(env_id):
        venv = gymnasium.make_vec(env_id, num_envs=2, vectorization_mode="sync")
        obs, _ = venv.reset(seed=0)
        assert obs.shape == (2, *venv.single_observation_space.shape)
        venv.step(np.zeros((2, *venv.single_action_space.shape)))
        venv.close()

    return [
        ("Gymnasium", "check_env without skip_render_check, 12 ids",
         _each(ALL_IDS, lambda i: check_env(gymnasium.make(i).unwrapped))),
        ("Gymnasium", "spec.max_episode_steps, TimeLimit from make, TimeAwareObservation, 12 ids",
         _each(ALL_IDS, limits)),
        ("Gymnasium", "idle bouts that last get the draw penalty at a limit given to make "
                      "(600 > 500), 9 ids", _each(SUMO_IDS, draw_at_limit)),
        ("Gymnasium", "idle ant and bug bouts last to that limit, 2 ids",
         _each(["RoboSumo-Ant-vs-Ant-v0", "RoboSumo-Bug-vs-Bug-v0"], lasts)),
        ("Gymnasium", "deepcopy and pickle keep stepping as the original, 12 ids",
         _each(ALL_IDS, copies)),
        ("Gymnasium", "make_vec (sync), 12 ids", _each(ALL_IDS, vector)),
        ("Gymnasium", "make_vec through vector_entry_point (batched), 3 locomotion ids",
         _each(list(nl.ENV_IDS), batched)),
    ]


def sb3_checks() -> list[tuple[str, str, str]]:
    try:
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_checker import check_env as sb3_check_env
        from stable_baselines3.common.env_util import make_vec_env
    except ImportError:
        return []

    def learn(env_id):
        venv = make_vec_env(env_id, n_envs=2, seed=0)
        PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, device="cpu",
            seed=0).learn(128)

    return [
        ("Stable-Baselines3", "its check_env, 12 ids",
         _each(ALL_IDS, lambda i: sb3_check_env(gymnasium.make(i).unwrapped, warn=False))),
        ("Stable-Baselines3", "PPO on make_vec_env (DummyVecEnv), 128 steps, 12 ids",
         _each(ALL_IDS, learn)),
    ]


def not_installed(library: str, module: str) -> list[tuple[str, str, str]]:
    try:
        importlib.import_module(module)
    except ImportError:
        return [(library, "(its checks)", "not checked: not installed here")]
    return []


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ecosystem.md")
    args = parser.parse_args()

    start = time.perf_counter()
    rows = pettingzoo_checks() + gymnasium_checks() + sb3_checks()
    for library, module in (("Stable-Baselines3", "stable_baselines3"),
                            ("SuperSuit", "supersuit"), ("RLlib", "ray.rllib")):
        rows += not_installed(library, module)
    versions = ", ".join(f"{p} {version(p)}" for p in
                         ("gymnasium", "pettingzoo", "mujoco", "numpy", "ray",
                          "stable-baselines3", "supersuit"))
    table = "\n".join(f"| {lib} | {check} | {result} |" for lib, check, result in rows)
    text = f"""# The environments in the ecosystem

Generated by `python scripts/ecosystem_checks.py` (commit {commit()}, {machine()},
{(time.perf_counter() - start) / 60:.1f} min); rerun it for a release. Versions: {versions}.

| library | check | result |
|---|---|---|
{table}

Notes:
- PettingZoo 1.27's `parallel_seed_test` stops after one step; `tests/envs` holds a multi-step
  determinism test of our own.
- Gymnasium ids are registered by `import envs.robosumo` / `import envs.nonstationary_locomotion`,
  or by naming the module in the id: `gymnasium.make("envs.robosumo:RoboSumo-Ant-vs-Bug-v0")`.
- "human" rendering is declared only where a display exists; headless, `make(..., render_mode=
  "human")` gets Gymnasium's HumanRendering wrapper over rgb_array frames.
"""
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
