"""``arena train <algorithm>``: training runs from the command line (PPO here; the meta-learners
in ``arena.meta_cli``)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from arena import options
from arena.meta_cli import add_maml_parser, add_norml_parser, add_rl2_parser, run_to_end

ALGORITHMS = ("ppo", "maml", "rl2", "norml")
# arena train ppo's flags -> TrainConfig fields (defaults and help texts come from there)
PPO_FIELDS = {"--total-steps": "total_steps", "--num-envs": "num_envs", "--rollout": "rollout",
              "--seed": "seed", "--arch": "policy.arch", "--hidden": "policy.hidden",
              "--features": "policy.features",
              "--opponent": "opponent", "--shaping-anneal": "shaping_anneal",
              "--lr": "ppo.lr", "--lam": "ppo.lam", "--epochs": "ppo.epochs",
              "--minibatches": "ppo.minibatches", "--ent-coef": "ppo.ent_coef",
              "--bptt": "ppo.bptt", "--nthread": "nthread", "--snapshot-every": "snapshot_every"}


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an agent (ppo, maml, rl2, norml)",
                       description="Train an agent. Runs are resumable: run the same command "
                                   "again to continue from the last checkpoint.")
    from agents.ppo.train import SUMO_DEFAULTS, TrainConfig

    def D(flag_field: str):
        return options.config_default(TrainConfig, flag_field)

    algos = p.add_subparsers(dest="algorithm", required=True, metavar="ALGORITHM")
    ppo = algos.add_parser(
        "ppo", help="PPO on a single-agent env, or RoboSumo self-play keeping a lineage",
        description="PPO with a Gaussian MLP or LSTM policy. RoboSumo ids train by self-play "
                    "(or the paper's pool curriculum) and save a snapshot every iteration.",
        formatter_class=options.DefaultsFormatter)
    ppo.add_argument("--env", required=True,
                     help="env id: RoboSumo-Ant-vs-Ant-v0, NonstationaryLocomotion-Bug-v0, "
                          "ToyPoint-v0, or another Gymnasium id")
    ppo.add_argument("--run-dir", type=Path, default=None,
                     help="run directory (default: runs/<env>-<arch>-s<seed>)")
    ppo.add_argument("--total-steps", type=int, default=D("total_steps"))
    ppo.add_argument("--num-envs", type=int, default=D("num_envs"))
    ppo.add_argument("--rollout", type=int, default=D("rollout"),
                     help="steps per env per iteration")
    ppo.add_argument("--seed", type=options.seed, default=D("seed"))
    ppo.add_argument("--arch", choices=("mlp", "lstm"), default=D("policy.arch"))
    ppo.add_argument("--hidden", type=int, default=D("policy.hidden"))
    ppo.add_argument("--features", choices=("raw", "sumo"), default=D("policy.features"))
    ppo.add_argument("--opponent", choices=("self", "pool", "lineage"), default=D("opponent"),
                     help="RoboSumo: self-play, a random own snapshot in [1, k-1], or a random "
                          "version of the --opponents lineage")
    ppo.add_argument("--opponents", default=None,
                     help="with --opponent lineage: a lineage directory or zoo:<name>")
    ppo.add_argument("--init-from", default=None,
                     help="PPO checkpoint (path or zoo: reference) to start the policy from")
    ppo.add_argument("--shaping-anneal", type=float, default=D("shaping_anneal"),
                     help="RoboSumo: fraction of the run over which shaping falls from 1 to 0")
    ppo.add_argument("--reward-scale", type=float, default=None,
                     help=f"reward multiplier for learning (default "
                          f"{SUMO_DEFAULTS['reward_scale']} for RoboSumo, else "
                          f"{D('reward_scale')})")
    ppo.add_argument("--lr", type=float, default=D("ppo.lr"))
    ppo.add_argument("--lr-anneal", action="store_true", help="decay the learning rate to 0")
    ppo.add_argument("--gamma", type=float, default=None,
                     help=f"discount (default {SUMO_DEFAULTS['ppo.gamma']} for RoboSumo, else "
                          f"{D('ppo.gamma')})")
    ppo.add_argument("--lam", type=float, default=D("ppo.lam"))
    ppo.add_argument("--epochs", type=int, default=D("ppo.epochs"))
    ppo.add_argument("--minibatches", type=int, default=D("ppo.minibatches"))
    ppo.add_argument("--ent-coef", type=float, default=D("ppo.ent_coef"))
    ppo.add_argument("--bptt", type=int, default=D("ppo.bptt"), help="LSTM unroll length")
    ppo.add_argument("--min-action-std", type=options.positive_float, default=None,
                     metavar="STD", help="a floor on the policy's action noise (its std), "
                                         "kept after every update (default: none)")
    ppo.add_argument("--target-kl", type=options.positive_float, default=None, metavar="KL",
                     help="stop an update's epochs at the first minibatch whose approximate KL "
                          "exceeds this (default: none, all epochs run)")
    ppo.add_argument("--nthread", type=int, default=D("nthread"),
                     help="physics threads (0: all cores)")
    ppo.add_argument("--snapshot-every", type=int, default=D("snapshot_every"), metavar="N",
                     help="iterations between lineage snapshots (default: every iteration in "
                          "RoboSumo, every 50 elsewhere; the last is always kept)")
    ppo.add_argument("--fresh", action="store_true",
                     help="refuse to resume: fail if the run directory already holds a run")
    ppo.add_argument("--no-progress", action="store_true", help="no progress bar")
    ppo.add_argument("--no-tensorboard", action="store_true", help="CSV metrics only")
    options.help_from_config(ppo, TrainConfig, PPO_FIELDS)
    ppo.set_defaults(func=run_train)
    add_maml_parser(algos)
    add_rl2_parser(algos)
    add_norml_parser(algos)


def config_from_args(args: argparse.Namespace):
    from agents.policy import PolicyConfig
    from agents.ppo import PPOConfig
    from agents.ppo.train import TrainConfig, env_defaults

    env = env_defaults(args.env)
    gamma = args.gamma if args.gamma is not None else env["ppo.gamma"]
    scale = args.reward_scale if args.reward_scale is not None else env["reward_scale"]
    return options.with_flags(lambda: TrainConfig(
        env=args.env, total_steps=args.total_steps, num_envs=args.num_envs,
        rollout=args.rollout, seed=args.seed, opponent=args.opponent,
        opponents=args.opponents, init_from=args.init_from,
        shaping_anneal=args.shaping_anneal, lr_anneal=args.lr_anneal, reward_scale=scale,
        nthread=args.nthread, snapshot_every=args.snapshot_every,
        policy=PolicyConfig(arch=args.arch, hidden=args.hidden, features=args.features),
        ppo=PPOConfig(lr=args.lr, gamma=gamma, lam=args.lam, epochs=args.epochs,
                      minibatches=args.minibatches, ent_coef=args.ent_coef, bptt=args.bptt,
                      target_kl=args.target_kl,
                      log_std_min=(None if args.min_action_std is None
                                   else math.log(args.min_action_std)))),
        {**PPO_FIELDS, "--reward-scale": "reward_scale", "--gamma": "ppo.gamma",
         "--env": "env", "--opponents": "opponents", "--init-from": "init_from",
         "--lr-anneal": "lr_anneal", "--min-action-std": "ppo.log_std_min",
         "--target-kl": "ppo.target_kl"})


def run_train(args: argparse.Namespace) -> int:
    from agents.ppo.train import Trainer

    config = config_from_args(args)
    run_dir = args.run_dir or Path("runs") / f"{config.env}-{config.policy.arch}-s{config.seed}"
    trainer = Trainer(config, run_dir, resume=not args.fresh,
                      tensorboard=not args.no_tensorboard)
    return run_to_end(trainer, run_dir, args)
