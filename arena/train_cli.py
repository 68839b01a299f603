"""``arena train <algorithm>``: training runs from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

ALGORITHMS = ("ppo",)


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an agent (ppo)",
                       description="Train an agent. Runs are resumable: run the same command "
                                   "again to continue from the last checkpoint.")
    algos = p.add_subparsers(dest="algorithm", required=True, metavar="ALGORITHM")
    ppo = algos.add_parser(
        "ppo", help="PPO on a single-agent env, or RoboSumo self-play keeping a lineage",
        description="PPO with a Gaussian MLP or LSTM policy. RoboSumo ids train by self-play "
                    "(or the paper's pool curriculum) and save a snapshot every iteration.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ppo.add_argument("--env", required=True,
                     help="env id: RoboSumo-Ant-vs-Ant-v0, NonstationaryLocomotion-Bug-v0, "
                          "ToyPoint-v0, or another Gymnasium id")
    ppo.add_argument("--run-dir", type=Path, default=None,
                     help="run directory (default: runs/<env>-<arch>-s<seed>)")
    ppo.add_argument("--total-steps", type=int, default=1_000_000)
    ppo.add_argument("--num-envs", type=int, default=16)
    ppo.add_argument("--rollout", type=int, default=128, help="steps per env per iteration")
    ppo.add_argument("--seed", type=int, default=0)
    ppo.add_argument("--arch", choices=("mlp", "lstm"), default="mlp")
    ppo.add_argument("--hidden", type=int, default=64)
    ppo.add_argument("--opponent", choices=("self", "pool"), default="self",
                     help="RoboSumo: self-play, or a random own snapshot in [1, k-1]")
    ppo.add_argument("--shaping-anneal", type=float, default=0.0,
                     help="RoboSumo: fraction of the run over which shaping falls from 1 to 0")
    ppo.add_argument("--reward-scale", type=float, default=None,
                     help="reward multiplier for learning (default 0.01 for RoboSumo, else 1)")
    ppo.add_argument("--lr", type=float, default=3e-4)
    ppo.add_argument("--lr-anneal", action="store_true", help="decay the learning rate to 0")
    ppo.add_argument("--gamma", type=float, default=None,
                     help="discount (default 0.995 for RoboSumo, else 0.99)")
    ppo.add_argument("--lam", type=float, default=0.95)
    ppo.add_argument("--epochs", type=int, default=10)
    ppo.add_argument("--minibatches", type=int, default=32)
    ppo.add_argument("--ent-coef", type=float, default=0.0)
    ppo.add_argument("--bptt", type=int, default=10, help="LSTM unroll length")
    ppo.add_argument("--nthread", type=int, default=0, help="physics threads (0: all cores)")
    ppo.add_argument("--fresh", action="store_true",
                     help="refuse to resume: fail if the run directory already holds a run")
    ppo.add_argument("--no-progress", action="store_true", help="no progress bar")
    ppo.add_argument("--no-tensorboard", action="store_true", help="CSV metrics only")
    ppo.set_defaults(func=run_train)


def config_from_args(args: argparse.Namespace):
    from agents.policy import PolicyConfig
    from agents.ppo import PPOConfig
    from agents.train import SUMO_ID, TrainConfig

    sumo = SUMO_ID.match(args.env) is not None
    gamma = args.gamma if args.gamma is not None else (0.995 if sumo else 0.99)
    scale = args.reward_scale if args.reward_scale is not None else (0.01 if sumo else 1.0)
    return TrainConfig(
        env=args.env, total_steps=args.total_steps, num_envs=args.num_envs,
        rollout=args.rollout, seed=args.seed, opponent=args.opponent,
        shaping_anneal=args.shaping_anneal, lr_anneal=args.lr_anneal, reward_scale=scale,
        nthread=args.nthread, policy=PolicyConfig(arch=args.arch, hidden=args.hidden),
        ppo=PPOConfig(lr=args.lr, gamma=gamma, lam=args.lam, epochs=args.epochs,
                      minibatches=args.minibatches, ent_coef=args.ent_coef, bptt=args.bptt))


def run_train(args: argparse.Namespace) -> int:
    from agents.train import Trainer

    config = config_from_args(args)
    run_dir = args.run_dir or Path("runs") / f"{config.env}-{config.policy.arch}-s{config.seed}"
    trainer = Trainer(config, run_dir, resume=not args.fresh,
                      tensorboard=not args.no_tensorboard)
    if trainer.iteration:
        print(f"resuming {run_dir} at iteration {trainer.iteration} "
              f"({trainer.env_steps:,} steps)")
    trainer.run(progress=not args.no_progress)
    latest = trainer.lineage.latest()
    print(f"done: {trainer.env_steps:,} steps in {trainer.iteration} iterations; metrics in "
          f"{run_dir / 'metrics.csv'}; latest snapshot {trainer.lineage.path(latest)}")
    return 0
