"""Stable-Baselines3's PPO on our Gymnasium ids, without adapters.

Trains SB3's PPO on the nonstationary locomotion bug (healthy legs) or on RoboSumo's player_0
against the env's built-in opponent, saves the model, reloads it and plays one episode with it.
SB3 builds its own vectorised envs from our ids (``make_vec_env``); the ids carry their step
limits (``max_episode_steps``), so SB3's episode statistics see the real horizon.

Usage:
    python examples/sb3_locomotion.py [--env NonstationaryLocomotion-Bug-v0] [--steps 50000]
        [--out runs/sb3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium
import numpy as np

import envs.nonstationary_locomotion
import envs.robosumo  # noqa: F401


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="NonstationaryLocomotion-Bug-v0")
    parser.add_argument("--steps", type=int, default=50_000, help="environment steps")
    parser.add_argument("--envs", type=int, default=4, help="parallel envs (SB3 DummyVecEnv)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / "sb3")
    args = parser.parse_args(argv)

    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(args.env, n_envs=args.envs, seed=args.seed)
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=256, seed=args.seed, verbose=0,
                device="cpu")
    model.learn(total_timesteps=args.steps)
    lengths = venv.envs[0].get_episode_lengths()  # SB3's Monitor: the episodes it saw end
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ppo-{args.env}.zip"
    model.save(path)

    loaded = PPO.load(path, device="cpu")
    env = gymnasium.make(args.env)
    obs, _ = env.reset(seed=args.seed)
    total, done = 0.0, False
    while not done:
        action, _ = loaded.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        done = terminated or truncated
    print(f"{args.env}: trained {args.steps:,} steps, saved {path}; one episode returned "
          f"{total:.1f}")
    assert np.isfinite(total)
    return {"return": total, "episode_lengths": lengths, "model": str(path)}


if __name__ == "__main__":
    main()
