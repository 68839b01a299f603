"""Self-play with SuperSuit and Stable-Baselines3: one shared policy controls both robots.

SuperSuit turns our PettingZoo ParallelEnv into a vector env whose rows are the agents of many
arenas (``pettingzoo_env_to_vec_env_v1`` then ``concat_vec_envs_v1``), so that SB3's PPO learns
one policy from both players' experience: parameter-sharing self-play, the way PettingZoo's own
tutorials train. Mirror matchups only (both players need the same spaces). Trains, saves,
reloads, and plays one bout of the policy against itself.

SuperSuit is not maintained any more; the project does not depend on it, and this example runs
in the ecosystem environment (``make test-ecosystem``).

Usage:
    python examples/supersuit_selfplay.py [--body ant] [--steps 50000] [--out runs/supersuit]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--body", default="ant", choices=["ant", "bug", "spider"])
    parser.add_argument("--steps", type=int, default=50_000, help="agent steps (both players)")
    parser.add_argument("--arenas", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=500, help="steps per bout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / "supersuit")
    args = parser.parse_args(argv)

    import supersuit as ss
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed

    from envs.robosumo import parallel_env

    env = parallel_env((args.body, args.body), max_steps=args.max_steps)
    env.reset(seed=args.seed)  # later resets continue its random stream
    venv = ss.pettingzoo_env_to_vec_env_v1(env)
    venv = ss.concat_vec_envs_v1(venv, args.arenas, num_cpus=0, base_class="stable_baselines3")
    # SuperSuit's vec env has no seed() (SB3 calls it when PPO or reset get a seed): seed the
    # arena above and the learner here
    set_random_seed(args.seed)
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=256, device="cpu", verbose=0)
    model.learn(total_timesteps=args.steps)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"selfplay-{args.body}.zip"
    model.save(path)

    policy = PPO.load(path, device="cpu")
    bout = parallel_env((args.body, args.body), max_steps=args.max_steps)
    obs, _ = bout.reset(seed=args.seed)
    steps, info = 0, {}
    while bout.agents:
        actions = {p: policy.predict(obs[p], deterministic=True)[0] for p in bout.agents}
        obs, _, _, _, infos = bout.step(actions)
        info, steps = infos["player_0"], steps + 1
    winner = info.get("winner")
    print(f"{args.body} self-play: {args.steps:,} agent steps over {venv.num_envs} seats, saved "
          f"{path}; a bout against itself: {winner or 'draw'} after {steps} steps")
    assert np.isfinite(steps)
    return {"winner": winner, "steps": steps, "seats": venv.num_envs, "model": str(path)}


if __name__ == "__main__":
    main()
