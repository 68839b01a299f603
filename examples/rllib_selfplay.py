"""Two RoboSumo policies trained against each other with RLlib's PPO, locally or on a Ray cluster.

RLlib is Ray's distributed engine for multi-agent training: use it when the training itself must
scale out over a cluster (env runners on many machines, learners on GPUs). Our own trainers
(`arena train`) are the ones to use on one machine: they are smaller, resume exactly and write
zoo checkpoints. This example wraps our PettingZoo ParallelEnv in RLlib's
``ParallelPettingZooEnv`` without any adapter, maps player_0 and player_1 to two policies, trains,
checkpoints, and prints each policy's mean episode return.

RLlib pins an older Gymnasium than the project's default pins; install it into its own virtual
environment: ``pip install -c constraints-ecosystem.txt -e '.[ecosystem]'`` (see README).

Usage:
    python examples/rllib_selfplay.py [--bodies ant bug] [--iterations 10]
        [--address host:port] [--out runs/rllib]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def make_env(config: dict):
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    from envs.robosumo import parallel_env

    return ParallelPettingZooEnv(parallel_env(tuple(config.get("bodies", ("ant", "ant"))),
                                              max_steps=int(config.get("max_steps", 500))))


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", nargs=2, default=["ant", "ant"])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--batch", type=int, default=4000, help="env steps per iteration")
    parser.add_argument("--max-steps", type=int, default=500, help="steps per bout")
    parser.add_argument("--env-runners", type=int, default=0,
                        help="remote env runners (0: sample in the driver)")
    parser.add_argument("--address", default=None,
                        help="a running Ray cluster (auto or host:port); default: a local Ray")
    parser.add_argument("--out", type=Path, default=Path("runs") / "rllib")
    args = parser.parse_args(argv)

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env

    if args.address:
        ray.init(address=args.address, log_to_driver=False)
    else:  # a local Ray with its session files under a short temporary path
        ray.init(num_cpus=max(1, args.env_runners + 1), include_dashboard=False,
                 log_to_driver=False, object_store_memory=128 * 1024 * 1024,
                 _temp_dir=tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    register_env("robosumo", make_env)
    config = (
        PPOConfig()
        .environment("robosumo", env_config={"bodies": args.bodies, "max_steps": args.max_steps})
        .multi_agent(policies={"player_0", "player_1"},
                     policy_mapping_fn=lambda agent_id, episode, **kwargs: agent_id)
        .env_runners(num_env_runners=args.env_runners)
        .training(train_batch_size_per_learner=args.batch, minibatch_size=min(512, args.batch),
                  num_epochs=4, lr=3e-4, gamma=0.995)
    )
    algo = config.build_algo()
    returns: dict[str, float] = {}
    try:
        for k in range(args.iterations):
            result = algo.train()
            per_policy = result.get("env_runners", {}).get("module_episode_returns_mean", {})
            returns = {str(p): float(v) for p, v in per_policy.items()}
            print(f"iteration {k + 1}: episode returns {returns}", flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        saved = algo.save(str(args.out.resolve()))
        print(f"checkpoint: {getattr(saved, 'checkpoint', saved)}")
    finally:
        algo.stop()
        ray.shutdown()
    return returns


if __name__ == "__main__":
    main()
