"""The ``arena`` command line.

Commands so far:
    arena demo   short headless RoboSumo bouts between two random robots, outcome printed
    arena train  train an agent (ppo), resumable, metrics to CSV and TensorBoard
    arena envs   list the registered environment ids
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from arena.train_cli import add_train_parser

# mujoco picks its OpenGL backend at import: default to EGL on headless machines.
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("MUJOCO_GL", "egl")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run short headless RoboSumo bouts between two random robots",
                       description="Run short headless RoboSumo bouts between two random robots "
                                   "and print the outcome of each and the tally.")
    p.add_argument("--bodies", nargs=2, default=["ant", "bug"], metavar=("BODY0", "BODY1"),
                   help="bodies of player_0 and player_1 (ant, bug, spider); default: ant bug")
    p.add_argument("--episodes", type=int, default=6, help="number of bouts (default 6)")
    p.add_argument("--max-steps", type=int, default=500, help="step limit of a bout (default 500)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first bout (default 0)")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    import numpy as np

    from envs.robosumo import parallel_env

    if args.episodes < 1:
        raise ValueError(f"--episodes must be at least 1, got {args.episodes}")
    env = parallel_env(tuple(args.bodies), max_steps=args.max_steps)
    rng = np.random.default_rng(args.seed)
    tally = {"player_0": 0, "player_1": 0, "draw": 0, "both fell": 0}
    print(f"RoboSumo {args.bodies[0]} (player_0) vs {args.bodies[1]} (player_1), random actions")
    start = time.perf_counter()
    steps = 0
    for episode in range(args.episodes):
        env.reset(seed=args.seed + episode)
        returns = {p: 0.0 for p in env.possible_agents}
        while env.agents:
            actions = {p: rng.uniform(-1, 1, env.action_space(p).shape) for p in env.agents}
            _, rewards, _terms, truncs, infos = env.step(actions)
            steps += 1
            for p, r in rewards.items():
                returns[p] += r
        winner = infos["player_0"]["winner"]
        outcome = winner or ("draw" if truncs["player_0"] else "both fell")
        tally[outcome] += 1
        print(f"  bout {episode + 1}: {outcome:<9} after {env._steps:3d} steps; returns "
              f"{returns['player_0']:9.1f} / {returns['player_1']:9.1f}")
    elapsed = time.perf_counter() - start
    print(f"tally: player_0 {tally['player_0']}, player_1 {tally['player_1']}, "
          f"draws {tally['draw']}, both fell {tally['both fell']} "
          f"({steps} steps, {steps / elapsed:,.0f} steps/s)")
    env.close()
    return 0


def _envs(args: argparse.Namespace) -> int:
    import gymnasium

    import envs.nonstationary_locomotion
    import envs.robosumo  # noqa: F401

    for env_id in sorted(gymnasium.registry):
        if env_id.startswith(("RoboSumo-", "NonstationaryLocomotion-")):
            print(env_id)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arena", description="The RoboSumo adaptation arena.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(sub)
    add_train_parser(sub)
    p = sub.add_parser("envs", help="list the registered environment ids")
    p.set_defaults(func=_envs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        parser.exit(2, f"arena {args.command}: error: {err}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
